"""Sobol attribution: estimators on Ishigami and linear functions, samplers, the method."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import CountingModel, make_inputs, make_model, one_hot
from tests.helpers import RegionModel, assert_region_ranks_first, region_images
from xplique.attributions import SobolAttributionMethod
from xplique.attributions.global_sensitivity_analysis import (
    GlenEstimator,
    HaltonSequenceRS,
    HommaEstimator,
    JanonEstimator,
    JansenEstimator,
    LatinHypercubeRS,
    PerturbationFunction,
    SaltelliEstimator,
    ScipySobolSequenceRS,
    TFSobolSequence,
    TFSobolSequenceRS,
)
from xplique.commons.masks import box_blur

ESTIMATORS = [JansenEstimator, HommaEstimator, JanonEstimator, GlenEstimator, SaltelliEstimator]


def _ishigami_total_indices(a=7.0, b=0.1):
    variance = a**2 / 8 + b * np.pi**4 / 5 + b**2 * np.pi**8 / 18 + 0.5
    first = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    interaction = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    return np.array([first + interaction, a**2 / 8, interaction]) / variance


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("sampler", [TFSobolSequenceRS(), ScipySobolSequenceRS(seed=0)])
def test_estimators_match_the_ishigami_total_indices(estimator, sampler):
    n = 2**14
    x = sampler(3, n).astype("float64") * 2 * np.pi - np.pi
    scores = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    indices = estimator()(None, scores, n).numpy()
    np.testing.assert_allclose(indices, _ishigami_total_indices(), atol=1e-2)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("sampler", [TFSobolSequenceRS(), HaltonSequenceRS(seed=0),
                                     LatinHypercubeRS(seed=0)])
def test_estimators_on_a_linear_model(estimator, sampler):
    """For y = sum_i a_i x_i with independent uniform x_i, ST_i = a_i^2 / sum_j a_j^2. Several
    inputs (rows of scores) are estimated at once."""
    n, coefficients = 1024, np.array([[1.0, 2.0, 0.0, 3.0], [0.5, 0.0, 1.0, 1.0]])
    design = sampler(4, n)
    scores = coefficients @ design.T
    expected = coefficients**2 / (coefficients**2).sum(1, keepdims=True)
    tolerance = 0.06 if isinstance(sampler, LatinHypercubeRS) else 0.03
    np.testing.assert_allclose(estimator()(design, scores, n).numpy(), expected, atol=tolerance)


def test_replicated_design_layout_and_binary_samplers():
    design = ScipySobolSequenceRS(seed=3)(3, 8)
    a, b, mixed = design[:8], design[8:16], design[16:].reshape(3, 8, 3)
    for i in range(3):
        expected = a.copy()
        expected[:, i] = b[:, i]
        np.testing.assert_array_equal(mixed[i], expected)
    np.testing.assert_array_equal(design, ScipySobolSequenceRS(seed=3)(3, 8))
    binary = TFSobolSequence(binary=True)(5, 16)
    assert set(np.unique(binary)) <= {0.0, 1.0}


def test_perturbation_functions():
    x = tf.constant(np.random.default_rng(0).uniform(size=(2, 12, 14, 3)), tf.float32)
    masks = tf.constant(np.random.default_rng(1).uniform(size=(2, 12, 14, 1)), tf.float32)
    np.testing.assert_allclose(PerturbationFunction.INPAINTING(x, masks), x * masks)
    np.testing.assert_allclose(PerturbationFunction.AMPLITUDE(x, masks), x + (masks - 0.5),
                               atol=1e-6)
    blurred = box_blur(x, 10).numpy()
    # Oracle: the mean over the 10 x 10 window [i - 4, i + 5], clipped to the image.
    i, j = 6, 3
    window = x.numpy()[0, max(0, i - 4):i + 6, max(0, j - 4):j + 6]
    np.testing.assert_allclose(blurred[0, i, j], window.mean((0, 1)), rtol=1e-5)
    np.testing.assert_allclose(PerturbationFunction.BLURRING(x, masks),
                               x * masks + (1 - masks) * blurred, rtol=1e-5)


@pytest.mark.parametrize("perturbation", ["inpainting", "blurring", "amplitude"])
def test_a_region_that_drives_the_score_ranks_first_on_non_square_images(perturbation):
    explainer = SobolAttributionMethod(RegionModel(), grid_size=4, nb_design=32,
                                       perturbation_function=perturbation)
    maps = explainer(region_images(), one_hot([0, 0], 1))
    assert maps.shape == (2, 12, 16, 1)
    assert_region_ranks_first(maps)


def test_exact_model_calls_and_one_map_per_channel():
    model = CountingModel(make_model("images"))
    explainer = SobolAttributionMethod(model, grid_size=2, nb_design=4, batch_size=50,
                                       nb_channels=3)
    maps = explainer(make_inputs("images", 3), one_hot([0, 1, 2]))
    per_image = 4 * (2 * 2 * 3 + 2)
    assert maps.shape == (3, 8, 10, 3)
    assert int(model.calls.numpy()) == math.ceil(3 * per_image / 50)
    assert int(model.max_batch.numpy()) == 50


def test_bad_parameters_fail_early():
    model = make_model("images")
    with pytest.raises(ValueError, match="nb_design"):
        SobolAttributionMethod(model, nb_design=30)
    with pytest.raises(TypeError, match="sampler"):
        SobolAttributionMethod(model, sampler=TFSobolSequence())
    with pytest.raises(ValueError, match="perturbation_function"):
        SobolAttributionMethod(model, perturbation_function="smudge")
    with pytest.raises(ValueError, match="nb_channels"):
        SobolAttributionMethod(model, grid_size=2, nb_design=4, nb_channels=2)(
            make_inputs("images", 1))
    with pytest.raises(ValueError, match="images"):
        SobolAttributionMethod(lambda b: b.sum((1, 2)), grid_size=2, nb_design=4)(
            make_inputs("time_series", 1), np.zeros(1, int))
