"""Randomization metrics, and the SSIM / Spearman similarities they rely on."""

import keras
import numpy as np
import pytest
import scipy.stats

from tests.conftest import make_inputs, make_model, make_targets, one_hot
from xplique.attributions import GradientInput, Saliency, SmoothGrad
from xplique.metrics import (
    ModelRandomizationMetric,
    ProgressiveLayerRandomization,
    RandomLogitMetric,
)
from xplique.metrics.similarity import spearman_rows, ssim_maps


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    first = np.round(rng.normal(size=(6, 40)), 1)  # rounded: many ties
    second = np.round(first + rng.normal(size=(6, 40)), 1)
    expected = [scipy.stats.spearmanr(a, b).statistic for a, b in zip(first, second)]
    np.testing.assert_allclose(spearman_rows(first, second).numpy(), expected, rtol=1e-10)


def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(1)
    first = rng.normal(size=(4, 16, 21))
    second = first + rng.normal(size=first.shape) * 0.7
    ours = ssim_maps(first, second).numpy()
    for a, b, value in zip(first, second, ours):
        data_range = max(a.max(), b.max()) - min(a.min(), b.min())
        reference = metrics.structural_similarity(
            a, b, data_range=data_range, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False)
        assert value == pytest.approx(reference, abs=1e-5)


def test_ssim_of_identical_and_constant_maps_is_one():
    maps = np.random.default_rng(2).uniform(size=(2, 12, 12))
    np.testing.assert_allclose(ssim_maps(maps, maps).numpy(), 1.0, atol=1e-6)
    assert ssim_maps(np.ones((1, 4, 4)), np.ones((1, 4, 4))).numpy()[0] == 1.0


def test_random_logit_is_one_for_a_class_blind_explainer_and_lower_otherwise():
    x, y = make_inputs("images", 4), make_targets(4)
    model = make_model("images")
    metric = RandomLogitMetric(model, x, y)
    drawn = np.argmax(metric.random_targets.numpy(), axis=1)
    assert np.all(drawn != y)
    assert metric(lambda inputs, targets: inputs) == pytest.approx(1.0)
    assert metric(Saliency(model)) < 1.0
    assert metric(Saliency(model)) == pytest.approx(
        RandomLogitMetric(model, x, one_hot(y), batch_size=1)(Saliency(model)))


def test_progressive_randomization_chooses_layers_top_down():
    model = make_model("images")  # conv (weights), flatten, logits (weights)
    names = lambda layers: [layer.name for layer in layers]  # noqa: E731
    assert names(ProgressiveLayerRandomization(0.25).layers_to_randomize(model)) == ["logits"]
    assert names(ProgressiveLayerRandomization(1.0).layers_to_randomize(model)) == [
        "logits", "conv"]
    assert names(ProgressiveLayerRandomization(1.0, reverse=False).layers_to_randomize(
        model)) == ["conv", "logits"]
    assert names(ProgressiveLayerRandomization("conv").layers_to_randomize(model)) == [
        "logits"]
    with pytest.raises(ValueError, match="stop_layer"):
        ProgressiveLayerRandomization(1.5)


@pytest.mark.parametrize("explainer_cls, params", [
    (Saliency, {}), (GradientInput, {}), (SmoothGrad, dict(nb_samples=3, seed=0)),
])
def test_model_randomization_leaves_the_model_unchanged(explainer_cls, params):
    x, y = make_inputs("images", 3), make_targets(3)
    model = make_model("images")
    weights = [w.copy() for w in model.get_weights()]
    explainer = explainer_cls(model, **params)
    before = explainer(x, y).numpy()
    score = ModelRandomizationMetric(model, x, y, ProgressiveLayerRandomization(1.0))(explainer)
    assert -1.0 <= score < 0.99
    for kept, now in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(kept, now)
    np.testing.assert_array_equal(explainer(x, y).numpy(), before)


def test_model_randomization_keeps_the_explainer_parameters():
    """Randomizing nothing (stop before the top layer) rebuilds an identical explainer, so
    the explanations correlate perfectly."""
    x, y = make_inputs("images", 3), make_targets(3)
    model = make_model("images")
    explainer = Saliency(model, output_layer="logits", reducer="mean", batch_size=2)
    metric = ModelRandomizationMetric(model, x, y, ProgressiveLayerRandomization("logits"))
    assert metric(explainer) == pytest.approx(1.0)


def test_model_randomization_refuses_what_it_cannot_copy():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, inputs):
            return self.dense(inputs)

    model = Subclassed()
    x, y = make_inputs("tabular", 2), make_targets(2)
    model(x)
    with pytest.raises(ValueError, match="copy"):
        ModelRandomizationMetric(model, x, y)(Saliency(model))
