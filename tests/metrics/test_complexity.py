"""Complexity and Sparseness against numpy re-implementations of their formulas."""

import numpy as np
import pytest
import scipy.stats

from xplique.metrics import Complexity, Sparseness


def _gini(values):
    """Hurley and Rickard's form: 1 - 2 sum_k (x_(k) / ||x||_1) (D - k + 1/2) / D."""
    ordered = np.sort(np.abs(values))
    size = ordered.size
    ranks = np.arange(1, size + 1)
    return 1.0 - 2.0 * np.sum(ordered / ordered.sum() * (size - ranks + 0.5) / size)


@pytest.mark.parametrize("shape", [(5, 12), (4, 6, 3), (3, 5, 4, 3)])
@pytest.mark.parametrize("batch_size", [1, 2, 32])
def test_complexity_is_the_entropy_and_sparseness_the_gini_index(shape, batch_size):
    rng = np.random.default_rng(len(shape))
    maps = rng.normal(size=shape)
    maps[0].reshape(-1)[: maps[0].size // 2] = 0.0  # zeros count as 0 log 0 = 0
    flat = (maps.mean(-1) if maps.ndim == 4 else maps).reshape(len(maps), -1)
    entropy = scipy.stats.entropy(np.abs(flat), axis=1)
    gini = np.array([_gini(row) for row in flat])
    np.testing.assert_allclose(Complexity(batch_size).detailed_evaluate(maps), entropy,
                               rtol=1e-5)
    np.testing.assert_allclose(Sparseness(batch_size).detailed_evaluate(maps), gini,
                               rtol=1e-5, atol=1e-6)
    assert Complexity(batch_size)(maps) == pytest.approx(entropy.mean(), rel=1e-5)


def test_extreme_maps():
    one_hot_map = np.zeros((1, 10))
    one_hot_map[0, 3] = -2.0
    uniform = np.ones((1, 10))
    assert Complexity()(one_hot_map) == pytest.approx(0.0, abs=1e-7)
    assert Complexity()(uniform) == pytest.approx(np.log(10))
    assert Complexity()(np.zeros((1, 10))) == pytest.approx(np.log(10))
    assert Sparseness()(one_hot_map) == pytest.approx(0.9)
    assert Sparseness()(uniform) == pytest.approx(0.0, abs=1e-7)
    assert Sparseness()(np.zeros((1, 10))) == 0.0


def test_bad_input():
    with pytest.raises(TypeError, match="batch_size"):
        Complexity(batch_size=1.5)
    with pytest.raises(ValueError, match="explanations"):
        Sparseness()(np.ones(4))


@pytest.mark.parametrize("metric_cls", [Complexity, Sparseness])
def test_instances_share_one_compiled_kernel(metric_cls):
    """A metric built anew for every call (as Quantus' are) traces once per process: the
    kernel reads nothing from the instance, so every instance shares it, with the same values."""
    maps = np.random.default_rng(3).uniform(size=(5, 6, 7)).astype("float32")
    expected = metric_cls(batch_size=2).detailed_evaluate(maps)
    first = metric_cls(batch_size=2)
    traces = first._kernel.tracing_count  # pylint: disable=protected-access
    for batch_size in (2, 3):
        other = metric_cls(batch_size=batch_size)
        assert other._kernel is first._kernel  # pylint: disable=protected-access
        np.testing.assert_allclose(other.detailed_evaluate(maps), expected, rtol=1e-6)
    assert first._kernel.tracing_count == traces  # pylint: disable=protected-access
