"""Prototype objectives equal a brute-force evaluation; each greedy choice is the argmax."""

import numpy as np
import pytest
from scipy.optimize import nnls

from xplique.example_based import MMDCritic, ProtoDash, ProtoGreedy

RNG = np.random.default_rng(2)
CASES = np.concatenate([RNG.normal(0, 1, (14, 3)), RNG.normal(4, 1, (9, 3))]).astype("float32")
GAMMA = 0.3


def _kernel():
    squared = ((CASES[:, None].astype(np.float64) - CASES[None]) ** 2).sum(-1)
    return np.exp(-GAMMA * squared)


def _mmd_objective(kernel, subset):
    subset = list(subset)
    size = len(subset)
    inner = kernel[np.ix_(subset, subset)].sum()
    return 2.0 / size * kernel[:, subset].mean(0).sum() - inner / size**2


def _qp(kernel, subset):
    """Brute force max_{w >= 0} w.mu - w^T K w / 2 on `subset` (NNLS on a Cholesky factor)."""
    subset = list(subset)
    matrix = kernel[np.ix_(subset, subset)]
    mu = kernel[:, subset].mean(0)
    lower = np.linalg.cholesky(matrix + 1e-12 * np.eye(len(subset)))
    weights, _ = nnls(lower.T, np.linalg.solve(lower, mu))
    return weights @ mu - 0.5 * weights @ matrix @ weights, weights


def _run(method):
    return method(CASES, nb_global_prototypes=5, nb_local_prototypes=2, batch_size=6, gamma=GAMMA,
                  case_returns=["indices", "distances"])


def test_mmd_critic_objective_and_greedy_choices():
    explainer, kernel = _run(MMDCritic), _kernel()
    chosen = explainer.prototypes_indices.numpy().tolist()
    for step in range(5):
        candidates = [c for c in range(len(CASES)) if c not in chosen[:step]]
        gains = {c: _mmd_objective(kernel, chosen[:step] + [c]) for c in candidates}
        assert chosen[step] == max(gains, key=gains.get)
        np.testing.assert_allclose(explainer.step_scores[step][candidates],
                                   [gains[c] for c in candidates], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(explainer.objectives[step],
                                   _mmd_objective(kernel, chosen[:step + 1]), rtol=1e-4)


def test_proto_greedy_objective_and_greedy_choices():
    explainer, kernel = _run(ProtoGreedy), _kernel()
    chosen = explainer.prototypes_indices.numpy().tolist()
    for step in range(5):
        candidates = [c for c in range(len(CASES)) if c not in chosen[:step]]
        values = {c: _qp(kernel, chosen[:step] + [c])[0] for c in candidates}
        assert values[chosen[step]] >= max(values.values()) - 1e-6
        np.testing.assert_allclose(explainer.step_scores[step][candidates],
                                   [values[c] for c in candidates], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(explainer.objectives[step], values[chosen[step]], rtol=1e-4)
    np.testing.assert_allclose(explainer.prototypes_weights.numpy(), _qp(kernel, chosen)[1],
                               rtol=1e-3, atol=1e-5)


def test_proto_dash_gradient_choice_and_weights():
    explainer, kernel = _run(ProtoDash), _kernel()
    chosen = explainer.prototypes_indices.numpy().tolist()
    mu = kernel.mean(0)
    weights = np.zeros(0)
    for step in range(5):
        gradient = mu - kernel[:, chosen[:step]] @ weights
        gradient[chosen[:step]] = -np.inf
        assert chosen[step] == int(np.argmax(gradient))
        value, weights = _qp(kernel, chosen[:step + 1])
        np.testing.assert_allclose(explainer.objectives[step], value, rtol=1e-4)
    np.testing.assert_allclose(explainer.prototypes_weights.numpy(), weights, rtol=1e-3,
                               atol=1e-5)
    assert ProtoGreedy is not ProtoDash


@pytest.mark.parametrize("method", [MMDCritic, ProtoDash], ids=["mmd_critic", "proto_dash"])
def test_local_prototypes_are_the_nearest_global_ones(method):
    explainer, kernel = _run(method), _kernel()
    glob = explainer.get_global_prototypes()
    indices = glob["prototypes_indices"].numpy()
    np.testing.assert_allclose(glob["prototypes"].numpy(), CASES[indices])
    inputs = CASES[[0, 20]]
    found = explainer(inputs)
    # kernel distance to each prototype, sqrt(2 - 2 k) for the RBF kernel
    distances = np.sqrt(np.maximum(2 - 2 * kernel[[0, 20]][:, indices], 0))
    expected = indices[np.argsort(distances, axis=1, kind="stable")[:, :2]]
    np.testing.assert_array_equal(found["indices"].numpy(), expected)


def test_prototype_errors():
    with pytest.raises(ValueError, match="nb_local_prototypes"):
        ProtoDash(CASES, nb_global_prototypes=2, nb_local_prototypes=3)
    with pytest.raises(ValueError, match="nb_global_prototypes"):
        ProtoDash(CASES, nb_global_prototypes=24)
