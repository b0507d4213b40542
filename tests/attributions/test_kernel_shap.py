"""KernelSHAP: linear models, efficiency, exact Shapley values, the coalition sampler."""

import itertools
import math

import numpy as np
import tensorflow as tf

from tests.conftest import CountingModel, make_inputs, make_model, one_hot
from xplique.attributions import KernelShap
from xplique.commons.masks import shapley_coalitions, shapley_size_distribution
from xplique.commons.random import pair_uniform


def test_linear_image_model_recovers_weights_times_input_minus_reference():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(8, 10, 3)).astype("float32")
    model = lambda batch: np.sum(batch * weights, axis=(1, 2, 3))
    grid = np.repeat(np.repeat(np.arange(20).reshape(4, 5), 2, 0), 2, 1)
    x = make_inputs("images", 2)
    explainer = KernelShap(model, nb_samples=2000, ref_value=0.1, seed=0,
                           map_to_interpret_space=lambda image: grid)
    phi = explainer(x, np.zeros(2, int)).numpy()[..., 0]
    for i in range(2):
        contributions = (weights * (x[i] - 0.1)).sum(-1)
        expected = np.array([contributions[grid == s].sum() for s in range(20)])
        estimated = np.array([phi[i][grid == s][0] for s in range(20)])
        assert np.corrcoef(estimated, expected)[0, 1] > 0.98
        np.testing.assert_allclose(estimated, expected, rtol=1e-3, atol=1e-3)


def _exact_shapley(score, x, ref):
    features = len(x)
    values = {}
    for coalition in itertools.product([0, 1], repeat=features):
        z = np.array(coalition, "float32")
        values[coalition] = score(x * z + ref * (1 - z))
    phi = np.zeros(features)
    for f in range(features):
        for coalition, value in values.items():
            if coalition[f]:
                continue
            size = sum(coalition)
            weight = math.factorial(size) * math.factorial(features - size - 1) \
                / math.factorial(features)
            with_f = tuple(1 if g == f else c for g, c in enumerate(coalition))
            phi[f] += weight * (values[with_f] - value)
    return phi


def test_nonlinear_model_matches_exact_shapley_values_and_efficiency():
    model = make_model("tabular")
    x = make_inputs("tabular", 2)
    targets = np.array([0, 2])
    phi = KernelShap(model, nb_samples=3000, seed=0)(x, targets).numpy()
    for i in range(2):
        score = lambda v: float(model(v[None]).numpy()[0, targets[i]])
        exact = _exact_shapley(score, x[i], np.zeros(6, "float32"))
        np.testing.assert_allclose(phi[i].sum(), score(x[i]) - score(np.zeros(6, "float32")),
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(phi[i], exact, atol=0.05 * np.abs(exact).max())


def test_coalition_sizes_follow_the_shapley_kernel():
    features, draws = 6, 20000
    noise = pair_uniform(0, 0, draws, (features,))
    size_noise = pair_uniform(0, 0, draws, (), stream=1)
    counts = np.full(draws, features)
    coalitions = shapley_coalitions(noise, size_noise, tf.constant(counts),
                                    shapley_size_distribution(counts, features)).numpy()
    sizes = coalitions.sum(1).astype(int)
    kernel = np.array([(features - 1) / (k * (features - k)) for k in range(1, features)])
    expected = kernel / kernel.sum()
    observed = np.bincount(sizes, minlength=features)[1:features] / draws
    np.testing.assert_allclose(observed, expected, atol=0.01)
    # Every feature is equally likely to be in a coalition of a given size.
    np.testing.assert_allclose(coalitions[sizes == 2].mean(0), 2 / features, atol=0.02)


def test_coalitions_keep_the_features_with_the_smallest_noise():
    """Each coalition keeps exactly its drawn number of features, the ones with the smallest
    noise among the input's own features (padded features never)."""
    rng = np.random.default_rng(0)
    draws, width = 300, 40
    counts = rng.integers(1, width + 1, size=draws)
    noise = rng.uniform(size=(draws, width)).astype("float32")
    size_noise = rng.uniform(size=draws).astype("float32")
    distribution = shapley_size_distribution(counts, width)
    coalitions = shapley_coalitions(tf.constant(noise), tf.constant(size_noise),
                                    tf.constant(counts), distribution).numpy()
    for row, count, values, cdf, u in zip(coalitions, counts, noise, distribution, size_noise):
        size = int(row.sum())
        drawn = int(np.searchsorted(cdf, u, side="left")) + 1  # inverse CDF of the sizes
        assert size == min(drawn, max(count - 1, 1))
        assert not row[count:].any()
        smallest = np.argsort(values[:count])[:size]
        np.testing.assert_array_equal(np.flatnonzero(row), np.sort(smallest))


def test_exact_model_calls_and_largest_batch():
    model = CountingModel(make_model("tabular"))
    KernelShap(model, batch_size=32, nb_samples=20, seed=0)(make_inputs("tabular", 5),
                                                            one_hot([1] * 5))
    assert int(model.calls.numpy()) == math.ceil(5 * 20 / 32)
    assert int(model.max_batch.numpy()) == 32
    assert int(model.total.numpy()) == 100
