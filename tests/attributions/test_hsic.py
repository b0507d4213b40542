"""HSIC attribution: the estimator against a slow oracle, known answers, model calls."""

import math

import numpy as np
import pytest

from tests.conftest import CountingModel, make_inputs, make_model, one_hot
from tests.helpers import RegionModel, assert_region_ranks_first, region_images
from xplique.attributions import HsicAttributionMethod
from xplique.attributions.global_sensitivity_analysis import (
    BinaryEstimator,
    RbfEstimator,
    ScipySobolSequence,
    SobolevEstimator,
    TFSobolSequence,
    TFSobolSequenceRS,
)


def _slow_hsic(kernel, design, scores):
    """Oracle: trace(K H L H) / (n - 1)^2 with explicit matrices, in float64."""
    n = len(scores)
    centring = np.eye(n) - 1.0 / n
    distances = np.abs(scores[:, None] - scores[None, :])
    width = max(np.median(distances[~np.eye(n, dtype=bool)]), 1e-12)
    output = np.exp(-distances**2 / (2 * width**2))
    values = []
    for column in design.T:
        inputs = kernel(column[:, None], column[None, :])
        values.append(np.trace(inputs @ centring @ output @ centring) / (n - 1) ** 2)
    return np.array(values)


KERNELS = {
    BinaryEstimator: lambda x, y: 1.0 - (x - y) ** 2,
    RbfEstimator: lambda x, y: np.exp(-((x - y) ** 2) / 0.5),
    SobolevEstimator: lambda x, y: 1 + (x - 0.5) * (y - 0.5)
    + ((np.abs(x - y)) ** 2 - np.abs(x - y) + 1 / 6) / 2,
}


@pytest.mark.parametrize("estimator", list(KERNELS))
@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_estimator_matches_a_slow_oracle(estimator, chunk):
    binary = estimator is BinaryEstimator
    design = ScipySobolSequence(binary=binary, seed=0)(5, 32).astype("float64")
    scores = np.stack([np.exp(design[:, 0]) + 2 * design[:, 2] ** 2,
                       design[:, 4] - 2 * design[:, 1]])
    result = estimator()(design, scores, 32, batch_size=chunk).numpy()
    expected = np.stack([_slow_hsic(KERNELS[estimator], design, s) for s in scores])
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-6)
    # The dimensions the scores depend on come first.
    assert set(np.argsort(result[0])[-2:]) == {0, 2}
    assert set(np.argsort(result[1])[-2:]) == {1, 4}


def test_a_constant_model_has_zero_hsic():
    constant = lambda batch: np.full((len(batch), 3), 2.0)
    maps = HsicAttributionMethod(constant, grid_size=3, nb_design=32)(
        make_inputs("images", 2), np.zeros(2, int))
    np.testing.assert_allclose(maps.numpy(), 0.0, atol=1e-6)


@pytest.mark.parametrize("estimator", [BinaryEstimator(), RbfEstimator(), SobolevEstimator()])
def test_a_region_that_drives_the_score_ranks_first_on_non_square_images(estimator):
    binary = isinstance(estimator, BinaryEstimator)
    maps = HsicAttributionMethod(RegionModel(), grid_size=4, nb_design=64,
                                 sampler=TFSobolSequence(binary=binary), estimator=estimator,
                                 estimator_batch_size=5)(region_images(), one_hot([0, 0], 1))
    assert maps.shape == (2, 12, 16, 1)
    assert_region_ranks_first(maps)


def test_exact_model_calls_and_largest_batch():
    model = CountingModel(make_model("images"))
    HsicAttributionMethod(model, grid_size=2, nb_design=24, batch_size=20)(
        make_inputs("images", 3), one_hot([0, 1, 2]))
    assert int(model.calls.numpy()) == math.ceil(3 * 24 / 20)
    assert int(model.max_batch.numpy()) == 20


def test_bad_parameters_fail_early():
    model = make_model("images")
    with pytest.raises(TypeError, match="sampler"):
        HsicAttributionMethod(model, sampler=TFSobolSequenceRS())
    with pytest.raises(ValueError, match="estimator_batch_size"):
        HsicAttributionMethod(model, estimator_batch_size=0)
    with pytest.raises(ValueError, match="output_kernel"):
        BinaryEstimator(output_kernel="linear")
