"""The CAM family: oracle maps on hand-made activations, CAM vs Grad-CAM, operators,
output_layer, Score-CAM localisation and model calls, layer selection."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import make_inputs, make_model, one_hot
from xplique.attributions import CAM, FEM, GradCAM, GradCAMPP, LayerCAM, ScoreCAM
from xplique.commons.model_surgery import find_conv_layer

H, W, K = 4, 5, 3
TARGETS = np.array([0, 1, 2, 1])


def _identity_features_model(seed=0, hidden=None):
    """Input (4, 5, 3) -> identity 1x1 conv "conv" (A = x) -> Flatten -> Dense(2) of known
    weights: dS_c/dA = weights[:, c] reshaped, so every map has a closed form."""
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(H * W * K, 2)).astype("float32")
    inputs = keras.Input((H, W, K))
    features = keras.layers.Conv2D(K, 1, use_bias=False, name="conv")(inputs)
    outputs = keras.layers.Dense(2, use_bias=False, name="logits")(
        keras.layers.Flatten()(features)
    )
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([np.eye(K, dtype="float32")[None, None]])
    model.get_layer("logits").set_weights([dense])
    return model, dense


def _activations(n=4, seed=1):
    return np.random.default_rng(seed).uniform(-0.5, 1.0, (n, H, W, K)).astype("float32")


def _gradient_maps(dense, targets):
    return np.stack([dense[:, t].reshape(H, W, K) for t in targets]).astype("float64")


def test_grad_cam_weights_on_hand_made_activations():
    model, dense = _identity_features_model()
    a, targets = _activations(), np.array([0, 1, 1, 0])
    g = _gradient_maps(dense, targets)
    weights = g.mean(axis=(1, 2))  # (N, K): spatial mean of the gradients
    expected = np.maximum(np.einsum("nhwk,nk->nhw", a, weights), 0)[..., None]
    np.testing.assert_allclose(GradCAM(model)(a, targets).numpy(), expected, atol=1e-5)


def test_grad_cam_pp_follows_the_paper():
    model, dense = _identity_features_model()
    a, targets = _activations(), np.array([1, 0, 1, 0])
    g = _gradient_maps(dense, targets)
    totals = a.sum(axis=(1, 2), keepdims=True)  # the paper's spatial sum
    denominator = 2 * g**2 + totals * g**3
    alphas = np.where(denominator != 0, g**2 / np.where(denominator == 0, 1, denominator), 0)
    weights = (alphas * np.maximum(g, 0)).sum(axis=(1, 2))
    expected = np.maximum(np.einsum("nhwk,nk->nhw", a, weights), 0)[..., None]
    np.testing.assert_allclose(GradCAMPP(model)(a, targets).numpy(), expected, rtol=1e-4,
                               atol=1e-5)


def test_layer_cam_weights_each_position():
    model, dense = _identity_features_model()
    a, targets = _activations(), np.array([0, 0, 1, 1])
    g = _gradient_maps(dense, targets)
    expected = np.maximum((np.maximum(g, 0) * a).sum(axis=-1), 0)[..., None]
    np.testing.assert_allclose(LayerCAM(model)(a, targets).numpy(), expected, atol=1e-5)


def test_fem_k_sigma_rule():
    model, _ = _identity_features_model()
    a = _activations()
    a[0, 1, 2, 0] = 10.0  # one strong position in channel 0 of the first input
    mean, std = a.mean(axis=(1, 2), keepdims=True), a.std(axis=(1, 2), keepdims=True)
    expected = ((a > mean + 2.0 * std) * mean).sum(axis=-1)[..., None]
    explanations = FEM(model)(a, np.array([0, 1, 0, 1])).numpy()
    np.testing.assert_allclose(explanations, expected, atol=1e-5)
    assert explanations[0, 1, 2, 0] >= mean[0, 0, 0, 0]
    # Class-agnostic: targets do not change the map, and None needs no class.
    np.testing.assert_array_equal(FEM(model)(a).numpy(), explanations)
    np.testing.assert_allclose(FEM(model, k=-10.0)(a).numpy(), np.broadcast_to(
        mean.sum(axis=-1, keepdims=True), a.shape[:3] + (1,)), atol=1e-5)


def _gap_model(softmax=False, seed=0):
    """Conv(relu) -> GAP -> Dense with non-negative weights (so CAM maps are >= 0)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 10, 3))
    features = keras.layers.Conv2D(5, 3, strides=2, activation="relu", padding="same",
                                   name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    logits = keras.layers.Dense(3, name="logits")(keras.layers.Dropout(0.5)(pooled))
    outputs = keras.layers.Softmax(name="probs")(logits) if softmax else logits
    model = keras.Model(inputs, outputs)
    kernel, bias = model.get_layer("logits").get_weights()
    model.get_layer("logits").set_weights([np.abs(kernel), bias])
    return model


def test_cam_matches_its_definition_and_grad_cam():
    model = _gap_model()
    x, targets = make_inputs("images", 6), np.array([0, 1, 2, 0, 1, 2])
    features = keras.Model(model.inputs[0], model.get_layer("conv").output)(x).numpy()
    kernel = model.get_layer("logits").get_weights()[0]
    low = np.einsum("nhwk,kn->nhw", features, kernel[:, targets])[..., None]
    expected = tf.image.resize(low, (8, 10), method="bilinear").numpy()
    cam = CAM(model)(x, targets).numpy()
    np.testing.assert_allclose(cam, expected, rtol=1e-5, atol=1e-6)
    grad_cam = GradCAM(model)(x, targets).numpy()
    assert np.corrcoef(cam.ravel(), grad_cam.ravel())[0, 1] > 0.99
    # Exactly: dS/dA_k = w_k / (h w), so Grad-CAM is CAM / (h w) for non-negative CAMs.
    np.testing.assert_allclose(grad_cam * (4 * 5), cam, rtol=1e-4, atol=1e-5)


def test_cam_refuses_models_without_a_pooling_head():
    with pytest.raises(ValueError, match="GlobalAveragePooling2D"):
        CAM(make_model("images"))


def test_cam_with_dense_targets_combines_class_columns():
    model = _gap_model()
    x = make_inputs("images", 3)
    direction = np.array([[0.5, -1.0, 2.0]] * 3, "float32")
    combined = sum(direction[0, c] * CAM(model)(x, np.full(3, c)).numpy() for c in range(3))
    np.testing.assert_allclose(CAM(model)(x, direction).numpy(), combined, atol=1e-5)


@pytest.mark.parametrize("cls", [GradCAM, LayerCAM])
def test_an_operator_doubling_the_score_doubles_the_map(cls):
    model = make_model("images")
    x, targets = make_inputs("images", 4), TARGETS

    def doubled(model, inputs, targets):
        return 2.0 * tf.reduce_sum(model(inputs) * targets, axis=-1)

    single = cls(model)(x, targets).numpy()
    assert np.abs(single).max() > 0
    np.testing.assert_allclose(cls(model, operator=doubled)(x, targets).numpy(), 2 * single,
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cls", [GradCAM, GradCAMPP, LayerCAM, ScoreCAM])
def test_output_layer_scores_the_logits(cls):
    model = make_model("images", softmax=True)
    truncated = keras.Model(model.inputs[0], model.get_layer("logits").output)
    x, targets = make_inputs("images", 4), TARGETS
    on_logits = cls(model, output_layer="logits")(x, targets).numpy()
    np.testing.assert_allclose(on_logits, cls(truncated)(x, targets).numpy(), atol=1e-6)
    on_probabilities = cls(model)(x, targets).numpy()
    assert not np.allclose(on_logits, on_probabilities, atol=1e-4)


def test_maps_are_upsampled_bilinearly_to_non_square_inputs():
    model = _gap_model()
    x, targets = make_inputs("images", 3), np.array([2, 0, 1])
    split = keras.Model(model.inputs[0], [model.get_layer("conv").output, model.output])
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        features, outputs = split(inputs)
        score = tf.reduce_sum(outputs * one_hot(targets))
    gradients = tape.gradient(score, features).numpy()
    low = np.maximum((gradients.mean(axis=(1, 2), keepdims=True) * features.numpy()).sum(-1), 0)
    expected = tf.image.resize(low[..., None], (8, 10), method="bilinear").numpy()
    explanations = GradCAM(model)(x, targets).numpy()
    assert explanations.shape == (3, 8, 10, 1)
    np.testing.assert_allclose(explanations, expected, rtol=1e-5, atol=1e-6)


def test_score_cam_highlights_the_region_the_score_reads():
    quadrants = np.zeros((1, 8, 8, 4), "float32")
    for k, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        quadrants[0, r:r + 4, c:c + 4, k] = 1.0
    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Lambda(lambda x: x * quadrants, name="quadrants")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)  # features feed the output
    region = np.zeros((64, 1), "float32")
    region.reshape(8, 8)[:4, :4] = 10.0 / 16
    score = keras.layers.Dense(1, use_bias=False, name="score")(keras.layers.Flatten()(inputs))
    outputs = keras.layers.Add()([score, keras.layers.Dense(1, name="unused")(pooled)])
    model = keras.Model(inputs, outputs)
    model.get_layer("score").set_weights([region])
    model.get_layer("unused").set_weights([np.zeros((4, 1), "float32"), np.zeros(1, "float32")])
    x = np.random.default_rng(0).uniform(0.5, 1.0, (3, 8, 8, 1)).astype("float32")
    maps = ScoreCAM(model, conv_layer="quadrants")(x, np.zeros(3, int)).numpy()[..., 0]
    inside, outside = maps[:, :4, :4], maps[:, 4:, :]
    assert inside.min() > 5 * outside.max()


class _Count(keras.layers.Layer):
    """Identity layer counting the forward passes and the largest batch through it."""

    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False)
        self.largest = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, inputs):
        size = tf.cast(tf.shape(inputs)[0], self.calls.dtype)
        self.calls.assign_add(1.0)
        self.largest.assign(tf.maximum(self.largest, size))
        return inputs


@pytest.mark.parametrize("n, batch_size", [(5, 3), (4, 8), (3, 1)])
def test_score_cam_model_calls(n, batch_size):
    """K = 4 masks per input: the masked passes are packed in full batches of `batch_size`,
    plus one feature pass per block of inputs."""
    inputs = keras.Input((8, 10, 3))
    counter = _Count()
    features = keras.layers.Conv2D(4, 3, activation="relu", padding="same", name="conv")(
        counter(inputs))
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, outputs)
    x, targets = make_inputs("images", n), np.arange(n) % 3
    counter.calls.assign(0.0)
    ScoreCAM(model, batch_size=batch_size)(x, targets)
    block = batch_size // np.gcd(4, batch_size)
    block *= -(-batch_size // block)
    feature_passes = sum(-(-min(block, n - s) // batch_size) for s in range(0, n, block))
    masked_passes = sum(-(-4 * min(block, n - s) // batch_size) for s in range(0, n, block))
    assert masked_passes == -(-4 * n // batch_size)  # no pass lost to block boundaries
    assert int(counter.calls.numpy()) == feature_passes + masked_passes
    assert int(counter.largest.numpy()) <= batch_size


def test_conv_layer_selection():
    model = _gap_model()
    assert find_conv_layer(model) is model.get_layer("conv")
    x, targets = make_inputs("images", 2), np.array([0, 1])
    by_name = GradCAM(model, conv_layer="conv")(x, targets).numpy()
    by_index = GradCAM(model, conv_layer=1)(x, targets).numpy()
    np.testing.assert_array_equal(by_name, GradCAM(model)(x, targets).numpy())
    np.testing.assert_array_equal(by_name, by_index)
    with pytest.raises(ValueError, match="conv_layer"):
        GradCAM(model, conv_layer="logits")
    with pytest.raises(ValueError, match="no_such_layer"):
        GradCAM(model, conv_layer="no_such_layer")
    with pytest.raises(ValueError, match="conv_layer"):
        GradCAM(make_model("tabular"))


def test_nested_convolutional_backbone():
    backbone = keras.Sequential([
        keras.Input((8, 10, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", padding="same"),
    ], name="backbone")
    inputs = keras.Input((8, 10, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(pooled))
    assert find_conv_layer(model) is backbone
    explanations = GradCAM(model)(make_inputs("images", 2), np.array([0, 2]))
    assert explanations.shape == (2, 8, 10, 1)
    assert np.all(np.isfinite(explanations.numpy()))


class _SubclassedCNN(keras.Model):
    def __init__(self, functional):
        super().__init__(name="subclassed_cnn")
        self.conv = functional.get_layer("conv")
        self.flatten = keras.layers.Flatten()
        self.head = functional.get_layer("logits")

    def call(self, inputs):
        return self.head(self.flatten(self.conv(inputs)))


@pytest.mark.parametrize("cls", [GradCAM, GradCAMPP, LayerCAM, ScoreCAM, FEM])
def test_subclassed_models_match_their_functional_twin(cls):
    functional = make_model("images")
    subclassed = _SubclassedCNN(functional)
    x, targets = make_inputs("images", 3), np.array([0, 1, 2])
    np.testing.assert_allclose(cls(subclassed, conv_layer="conv")(x, targets).numpy(),
                               cls(functional)(x, targets).numpy(), atol=1e-6)


@pytest.mark.parametrize("cls", [GradCAM, GradCAMPP, LayerCAM, ScoreCAM, FEM, CAM])
def test_sequential_models_match_their_functional_twin(cls):
    functional = make_model("images", gap=True)
    sequential = keras.Sequential([
        keras.Input((8, 10, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", padding="same", name="conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, name="logits"),
    ])
    sequential.set_weights(functional.get_weights())
    x, targets = make_inputs("images", 3), np.array([0, 1, 2])
    np.testing.assert_allclose(cls(sequential)(x, targets).numpy(),
                               cls(functional)(x, targets).numpy(), atol=1e-6)
