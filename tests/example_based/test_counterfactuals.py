"""Counterfactuals have the required class and are the nearest such cases; KLEOR conditions."""

import numpy as np
import pytest

from xplique.example_based import (
    KLEORGlobalSim,
    KLEORSimMiss,
    LabelAwareCounterFactuals,
    NaiveCounterFactuals,
)

RNG = np.random.default_rng(1)
CASES = RNG.normal(size=(41, 3)).astype("float32")
CLASSES = RNG.integers(0, 3, 41)
TARGETS = np.eye(3, dtype="float32")[CLASSES]
INPUTS = RNG.normal(size=(7, 3)).astype("float32")
INPUT_CLASSES = RNG.integers(0, 3, 7)


def _nearest_where(allowed, k):
    distances = np.linalg.norm(INPUTS[:, None].astype(np.float64) - CASES[None], axis=-1)
    distances = np.where(allowed, distances, np.inf)
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def test_naive_counterfactuals_are_the_nearest_cases_of_another_class():
    explainer = NaiveCounterFactuals(CASES, TARGETS, k=3, batch_size=6,
                                     case_returns=["indices", "distances"])
    found = explainer(INPUTS, np.eye(3)[INPUT_CLASSES])["indices"].numpy()
    assert np.all(CLASSES[found] != INPUT_CLASSES[:, None])
    np.testing.assert_array_equal(found, _nearest_where(CLASSES[None] != INPUT_CLASSES[:, None], 3))


def test_label_aware_counterfactuals_are_the_nearest_cases_of_the_asked_class():
    asked = (INPUT_CLASSES + 1) % 3
    explainer = LabelAwareCounterFactuals(CASES, TARGETS, k=2, batch_size=10,
                                          case_returns=["indices"])
    found = explainer(INPUTS, INPUT_CLASSES, cf_expected_classes=asked)["indices"].numpy()
    assert np.all(CLASSES[found] == asked[:, None])
    np.testing.assert_array_equal(found, _nearest_where(CLASSES[None] == asked[:, None], 2))


def test_counterfactual_errors():
    explainer = LabelAwareCounterFactuals(CASES, TARGETS, case_returns="indices")
    with pytest.raises(ValueError, match="no case has"):
        explainer(INPUTS[:1], cf_expected_classes=np.eye(4)[[3]])
    with pytest.raises(ValueError, match="cf_expected_classes"):
        explainer(INPUTS[:1])
    with pytest.raises(ValueError, match="one row per input"):
        explainer(INPUTS[:2], cf_expected_classes=[0])
    with pytest.raises(ValueError, match="targets"):
        NaiveCounterFactuals(CASES, TARGETS)(INPUTS)
    with pytest.raises(ValueError, match="no counterfactual"):
        NaiveCounterFactuals(CASES, np.zeros(41, int))(INPUTS[:1], [0])


# A 2-D layout: the query q = (0, 0) of class 0 and its NUN u = (2, 0) of class 1. Among the
# class-0 cases, a = (2.5, 1) is the nearest to u but lies farther from q than u does, so
# Global-Sim skips it; b = (1, 1.5) and c = (-1, 0) lie closer to q than u.
KLEOR_CASES = np.array([[2.0, 0.0],    # 0: u, class 1 (the NUN)
                        [2.5, 1.0],    # 1: a, class 0
                        [1.0, 1.5],    # 2: b, class 0
                        [-1.0, 0.0],   # 3: c, class 0 (nearest to q, far from u)
                        [3.5, 0.0],    # 4: class 1
                        [0.0, 3.0]],   # 5: class 2
                       "float32")
KLEOR_CLASSES = np.array([1, 0, 0, 0, 1, 2])
QUERY = np.zeros((1, 2), "float32")


def _distance(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - b))


def test_kleor_conditions_on_a_constructed_example():
    q, u, a, b, c = QUERY[0], *KLEOR_CASES[[0, 1, 2, 3]]
    assert _distance(a, u) < _distance(b, u) < _distance(c, u)  # a is nearest to the NUN
    assert _distance(q, a) > _distance(q, u) > _distance(q, b)  # but only b lies between
    targets = np.eye(3)[KLEOR_CLASSES]
    returns = ["indices", "distances", "nuns_indices", "dist_to_nuns"]
    sim_miss = KLEORSimMiss(KLEOR_CASES, targets, k=2, batch_size=4, case_returns=returns)
    found = sim_miss(QUERY, [0])
    assert found["nuns_indices"].numpy().tolist() == [[0]]
    assert found["indices"].numpy().tolist() == [[1, 2]]  # nearest class-0 cases to u
    np.testing.assert_allclose(found["dist_to_nuns"].numpy(), [[_distance(a, u), _distance(b, u)]],
                               rtol=1e-5)
    np.testing.assert_allclose(found["distances"].numpy(), [[_distance(q, a), _distance(q, b)]],
                               rtol=1e-5)
    global_sim = KLEORGlobalSim(KLEOR_CASES, targets, k=2, batch_size=4, case_returns=returns)
    found = global_sim(QUERY, [0])
    # a is farther from q than u: excluded. c is closer to q than u: kept, after b.
    assert found["indices"].numpy().tolist() == [[2, 3]]
    assert _distance(q, c) < _distance(q, u)
    three = KLEORGlobalSim(KLEOR_CASES, targets, k=3, batch_size=4, case_returns=returns)
    found = three(QUERY, [0])
    assert found["indices"].numpy().tolist() == [[2, 3, -1]]  # no third case qualifies
    assert np.isinf(found["distances"].numpy()[0, 2])
