"""Projections equal their formula; Cole searches the attribution-weighted space."""

import keras
import numpy as np
import pytest

from xplique.attributions import GradientInput, Saliency
from xplique.example_based import Cole, SimilarExamples
from xplique.example_based.projections import (
    AttributionProjection,
    HadamardProjection,
    LatentSpaceProjection,
    Projection,
)

RNG = np.random.default_rng(3)
X = RNG.normal(size=(9, 4)).astype("float32")
Y = RNG.integers(0, 3, 9)


def _mlp():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu",
                                                                   name="hidden"),
                             keras.layers.Dense(3, use_bias=False, name="logits")])


def test_projection_formula():
    weights = np.array([1.0, 0.0, 2.0, -1.0], "float32")
    projection = Projection(get_weights=lambda x, y: weights, space_projection=lambda x: x + 1.0)
    np.testing.assert_allclose(projection(X).numpy(), (X + 1.0) * weights, rtol=1e-6)
    np.testing.assert_allclose(Projection(get_weights=weights)(X).numpy(), X * weights)


def test_latent_space_projection_is_the_layer_output():
    model = _mlp()
    hidden = np.maximum(X @ model.get_layer("hidden").kernel.numpy()
                        + model.get_layer("hidden").bias.numpy(), 0)
    for layer in ("hidden", 0):
        np.testing.assert_allclose(LatentSpaceProjection(model, layer)(X).numpy(), hidden,
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(LatentSpaceProjection(model)(X).numpy(), model(X).numpy(),
                               rtol=1e-5, atol=1e-6)
    keras.utils.set_random_seed(0)
    cnn = keras.Sequential([keras.Input((5, 5, 1)), keras.layers.Conv2D(2, 3, name="c1"),
                            keras.layers.Conv2D(2, 3, name="c2"), keras.layers.Flatten(),
                            keras.layers.Dense(2)])
    images = RNG.normal(size=(3, 5, 5, 1)).astype("float32")
    np.testing.assert_allclose(LatentSpaceProjection(cnn, "last_conv")(images).numpy(),
                               keras.Model(cnn.inputs[0], cnn.get_layer("c2").output)(images),
                               rtol=1e-5, atol=1e-6)


def test_hadamard_projection_is_features_times_gradient():
    model = _mlp()
    w1, b1 = model.get_layer("hidden").kernel.numpy(), model.get_layer("hidden").bias.numpy()
    w2 = model.get_layer("logits").kernel.numpy()
    hidden = np.maximum(X @ w1 + b1, 0)
    # latent: d logit_y / d hidden = w2[:, y]
    np.testing.assert_allclose(HadamardProjection(model, "hidden")(X, Y).numpy(),
                               hidden * w2[:, Y].T, rtol=1e-5, atol=1e-6)
    # input space: d logit_y / d x = w1 diag(relu') w2[:, y]
    active = (X @ w1 + b1 > 0).astype("float32")
    gradient = np.einsum("ij,nj,jn->ni", w1, active, w2[:, Y])
    np.testing.assert_allclose(HadamardProjection(model)(X, np.eye(3)[Y]).numpy(), X * gradient,
                               rtol=1e-4, atol=1e-6)
    predicted = model(X).numpy().argmax(-1)
    np.testing.assert_allclose(HadamardProjection(model, "hidden")(X).numpy(),
                               hidden * w2[:, predicted].T, rtol=1e-5, atol=1e-6)


def test_attribution_projection_is_features_times_attributions():
    model = _mlp()
    w1, b1 = model.get_layer("hidden").kernel.numpy(), model.get_layer("hidden").bias.numpy()
    w2 = model.get_layer("logits").kernel.numpy()
    hidden = np.maximum(X @ w1 + b1, 0)
    projection = AttributionProjection(model, Saliency, latent_layer="hidden")
    np.testing.assert_allclose(projection(X, Y).numpy(), hidden * np.abs(w2[:, Y].T),
                               rtol=1e-5, atol=1e-6)
    direct = AttributionProjection(model, GradientInput)(X, Y).numpy()
    expected = X * GradientInput(model)(X, Y).numpy()
    np.testing.assert_allclose(direct, expected, rtol=1e-5, atol=1e-6)


def test_cole_searches_the_hadamard_space():
    model = _mlp()
    cases, targets = X, np.eye(3)[Y]
    inputs = RNG.normal(size=(4, 4)).astype("float32")
    input_targets = RNG.integers(0, 3, 4)
    cole = Cole(cases, model, targets_dataset=targets, k=2, latent_layer="hidden",
                case_returns=["indices", "distances"], batch_size=4)
    reference = SimilarExamples(cases, targets_dataset=targets, k=2,
                                projection=HadamardProjection(model, "hidden"),
                                case_returns=["indices", "distances"])
    np.testing.assert_array_equal(cole(inputs, input_targets)["indices"].numpy(),
                                  reference(inputs, input_targets)["indices"].numpy())
    projected_cases = HadamardProjection(model, "hidden")(cases, targets).numpy()
    projected_inputs = HadamardProjection(model, "hidden")(inputs, input_targets).numpy()
    distances = np.linalg.norm(projected_inputs[:, None] - projected_cases[None], axis=-1)
    np.testing.assert_array_equal(cole(inputs, input_targets)["indices"].numpy(),
                                  np.argsort(distances, axis=1, kind="stable")[:, :2])
    saliency_cole = Cole(cases, model, targets_dataset=targets, attribution_method=Saliency,
                         case_returns="indices")
    assert saliency_cole(inputs, input_targets)["indices"].shape == (4, 1)
    with pytest.raises(ValueError, match="attribution_method"):
        Cole(cases, model, attribution_method="lrp")


def test_model_and_cases_unchanged():
    model = _mlp()
    before = [w.copy() for w in model.get_weights()]
    cases = X.copy()
    Cole(cases, model, k=2, latent_layer="hidden")(X[:2])
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(cases, X)


def test_latent_projection_traces_once_over_ragged_chunks_and_calls():
    model = _mlp()
    projection = LatentSpaceProjection(model, "hidden")
    explainer = SimilarExamples(X, k=2, projection=projection, batch_size=4,
                                case_returns="indices")  # 9 cases: chunks of 4, 4, 1
    explainer(X[:3])
    explainer(X[:5])
    assert projection.space_projection.tracing_count == 1
    assert explainer.search_engine.tracing_count == 1


def test_hadamard_from_a_features_extractor_and_a_predictor():
    model = _mlp()
    hidden_model = keras.Sequential([keras.Input((4,)), model.get_layer("hidden")])
    head = keras.Sequential([keras.Input((5,)), model.get_layer("logits")])
    split = HadamardProjection(features_extractor=hidden_model, predictor=head)
    np.testing.assert_allclose(split(X, Y).numpy(), HadamardProjection(model, "hidden")(X, Y),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="predictor"):
        HadamardProjection(features_extractor=hidden_model)
