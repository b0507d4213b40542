"""Holistic CRAFT: true cuts, planted parts at every position, analytic gradient x input per
concept, importances, errors."""

import keras
import numpy as np
import pytest

from tests.concepts.test_craft import HEAD, C, R, S, match, planted_images
from xplique.attributions import GradientInput
from xplique.concepts import (
    HolisticCraftTf,
    LatentExtractor,
    LayeredModelExtractorBuilder,
    PartialExplainer,
)
from xplique.concepts.craft import reduce_to_importance
from xplique.concepts.craft.nmf import TfNMF


def planted_model():
    """ReLU (the latents: pixels) -> global mean -> HEAD."""
    model = keras.Sequential([keras.Input((S, S, C)), keras.layers.ReLU(name="relu"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, use_bias=False)])
    model.layers[-1].set_weights([HEAD])
    return model


def fit_planted(model, split="relu", batch_size=16, factorizer=None):
    """A HolisticCraftTf of `model` cut at `split`, fitted on the planted images for class 0,
    and those images."""
    extractor = LayeredModelExtractorBuilder.build(model, split, batch_size=batch_size)
    craft = HolisticCraftTf(extractor, number_of_concepts=R, factorizer=factorizer)
    images = planted_images()
    craft.fit(images, class_id=0)
    return craft, images


@pytest.fixture(scope="module")
def fitted():
    model = planted_model()
    craft, images = fit_planted(model, 0)  # a layer index cuts the model too
    return model, craft, images, craft.coeffs_u, craft.concept_bank_w


def test_builder_cuts_the_model_and_refuses_false_cuts():
    model = planted_model()
    images = planted_images(4)
    extractor = LayeredModelExtractorBuilder.build(model, "relu", batch_size=3)
    np.testing.assert_allclose(extractor(images).numpy(), model(images).numpy(), atol=1e-6)
    inputs = keras.Input((4,))
    first = keras.layers.Dense(3, name="first")(inputs)
    second = keras.layers.Dense(3, name="second")(first)
    residual = keras.Model(inputs, keras.layers.Add()([first, second]))
    with pytest.raises(ValueError, match="split_layer"):
        LayeredModelExtractorBuilder.build(residual, "second")
    assert isinstance(LayeredModelExtractorBuilder.build(residual, "first"), LatentExtractor)
    two_inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="single-input"):
        LayeredModelExtractorBuilder.build(
            keras.Model([inputs, two_inputs], keras.layers.Add()([inputs, two_inputs])), 0)


def test_fit_recovers_parts_and_decode_inverts_encode(fitted):
    model, craft, images, coeffs, bank = fitted
    assert coeffs.shape == (12, S, S, R)
    cosines, matched = match(bank)
    assert np.all(cosines > 0.99) and len(set(matched.tolist())) == R
    outputs = model(images).numpy()
    decoded = np.concatenate([craft.decode(*record).to_batched_tensor().numpy()
                              for record in craft.encode(images)])
    assert np.abs(decoded - outputs).max() < 0.05 * np.abs(outputs).max()


def test_gradient_input_per_concept_is_analytic(fitted):
    _, craft, images, _, bank = fitted
    explanation = craft.compute_explanation_per_concept(
        images[:5], PartialExplainer(GradientInput, reducer=None), class_id=0)
    coeffs = craft.transform(images[:5])
    # logit_0 = mean over positions of (U W) . HEAD[:, 0]: d/dU_r = W_r . HEAD[:, 0] / S^2
    expected = coeffs * (bank @ HEAD[:, 0]) / (S * S)
    np.testing.assert_allclose(explanation, expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("method, kwargs", [("gradient_input", {}),
                                            ("sobol", dict(grid_size=4, nb_design=8))])
def test_importance_ranks_the_driving_concept_first(fitted, method, kwargs):
    _, craft, images, _, bank = fitted
    importances = craft.estimate_importance(images, class_id=0, method=method, **kwargs)
    _, matched = match(bank)
    assert int(np.argmax(importances)) == matched[0]
    assert importances[matched[2]] == pytest.approx(0.0, abs=1e-6)  # part 2 is not read


def test_reduce_to_importance_formula():
    explanation = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 10.0
    expected = np.abs(explanation).max(axis=1).mean(axis=0)
    np.testing.assert_allclose(reduce_to_importance(explanation), expected)
    np.testing.assert_allclose(
        reduce_to_importance(explanation, "mean", False, "sum"), explanation.mean(1).sum(0))
    np.testing.assert_allclose(reduce_to_importance(explanation, None, True, None),
                               np.abs(explanation))
    np.testing.assert_allclose(reduce_to_importance(explanation, "median", True, "min"),
                               np.median(np.abs(explanation), axis=1).min(axis=0))
    with pytest.raises(ValueError, match="spatial_reducer"):
        reduce_to_importance(explanation, "mode")


def test_tf_factorizer_and_errors():
    model = planted_model()
    extractor = LayeredModelExtractorBuilder.build(model, 0, batch_size=16)
    craft = HolisticCraftTf(extractor, number_of_concepts=R, factorizer=TfNMF(R))
    _, bank = craft.fit(planted_images(), class_id=0)
    assert np.all(match(bank)[0] > 0.99)
    with pytest.raises(ValueError, match="model"):
        PartialExplainer(GradientInput, model=model)
    with pytest.raises(TypeError, match="latent_extractor"):
        HolisticCraftTf(model)
    with pytest.raises(ValueError, match="not fitted"):
        HolisticCraftTf(extractor, number_of_concepts=R).transform(planted_images(2))
    signed = keras.Sequential([keras.Input((S, S, C)), keras.layers.Dense(C, name="signed"),
                               keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    negative = LayeredModelExtractorBuilder.build(signed, 0, batch_size=8)
    with pytest.raises(ValueError, match="non-negative"):
        HolisticCraftTf(negative, number_of_concepts=R).fit(planted_images(2) - 1.0)
