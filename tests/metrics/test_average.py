"""Average Drop / Increase / Gain against their formulas on a model with known scores."""

import numpy as np
import pytest

from tests.conftest import CountingModel, make_inputs, make_model, make_targets, one_hot
from tests.metrics.models import SumModel, ones_targets, positive_inputs
from xplique.metrics import AverageDropMetric, AverageGainMetric, AverageIncreaseMetric


def _oracle_scores(x, phi):
    """Base and masked scores of f = sum(x), the mask being min-max normalised |phi|."""
    magnitude = np.abs(phi)
    axes = tuple(range(1, phi.ndim))
    low, high = magnitude.min(axes, keepdims=True), magnitude.max(axes, keepdims=True)
    mask = (magnitude - low) / (high - low)
    if x.ndim == 4:
        mask = mask[..., None]
    base = x.reshape(len(x), -1).sum(1)
    after = (x * mask).reshape(len(x), -1).sum(1)
    return base / 100.0, after / 100.0  # scaled so that scores stay below 1


class _ScaledSum(SumModel):
    def __call__(self, inputs):
        return super().__call__(inputs) / 100.0


@pytest.mark.parametrize("shape", [(6,), (8, 3), (8, 10, 3)])
def test_average_metrics_follow_their_formulas(shape):
    x = positive_inputs(shape, n=5)
    phi = np.random.default_rng(3).normal(size=x.shape[:3] if len(shape) == 3 else x.shape)
    phi[0] = np.abs(phi[0]) + 5.0  # a map keeping input 0 almost whole: after ~ base
    base, after = _oracle_scores(x, phi)
    y = ones_targets(5)
    drop = AverageDropMetric(_ScaledSum(), x, y, batch_size=2)
    increase = AverageIncreaseMetric(_ScaledSum(), x, y)
    gain = AverageGainMetric(_ScaledSum(), x, y)
    np.testing.assert_allclose(drop.detailed_evaluate(phi), np.maximum(base - after, 0) / base,
                               rtol=1e-4, atol=1e-6)
    assert increase(phi) == pytest.approx(np.mean(after > base))
    assert gain(phi) == pytest.approx(np.mean(np.maximum(after - base, 0) / (1 - base)),
                                      abs=1e-6)


def test_masking_by_the_input_itself_gains_nothing_on_a_sum_model():
    """x * M <= x for M in [0, 1]: nothing increases, and the drop is positive."""
    x = positive_inputs((8, 10, 3), n=4)
    y = ones_targets(4)
    phi = x.mean(-1)
    assert AverageIncreaseMetric(SumModel(), x, y)(phi) == 0.0
    assert AverageGainMetric(SumModel(), x, y)(phi) == 0.0
    assert AverageDropMetric(_ScaledSum(), x, y)(phi) > 0.0


def test_one_pass_per_batch_and_integer_targets():
    x = positive_inputs((6,), n=7)
    counting = CountingModel(SumModel())
    metric = AverageDropMetric(counting, x, ones_targets(7), batch_size=3)
    metric(x)
    assert int(counting.calls.numpy()) == 3 + 3  # base scores, then the masked inputs
    assert int(counting.max_batch.numpy()) == 3
    images, labels = make_inputs("images", 3), make_targets(3)
    model = make_model("images", softmax=True)
    phi = np.random.default_rng(0).normal(size=images.shape)
    assert AverageDropMetric(model, images, labels)(phi) == pytest.approx(
        AverageDropMetric(model, images, one_hot(labels))(phi), abs=1e-7)
