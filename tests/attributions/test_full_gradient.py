"""FullGrad: oracle maps built from hand-derived bias-gradients, BatchNorm biases, resizing,
output_layer, and the user's model restored."""

import keras
import numpy as np
import tensorflow as tf

from xplique.attributions import FullGradient


def _psi(maps, size=None):
    """abs, per-input min-max over all positions and channels, optional bilinear resize."""
    maps = np.abs(maps)
    low = maps.min(axis=(1, 2, 3), keepdims=True)
    high = maps.max(axis=(1, 2, 3), keepdims=True)
    maps = (maps - low) / np.where(high > low, high - low, 1.0)
    if size is not None:
        maps = tf.image.resize(maps, size, method="bilinear").numpy()
    return maps


def _input_term(model, x, targets):
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        score = tf.reduce_sum(model(inputs) * np.eye(2, dtype="float32")[targets])
    return _psi(tape.gradient(score, inputs).numpy() * x).sum(-1, keepdims=True)


def _seeded(seed):
    keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def test_conv_bias_gradients_match_hand_derivation():
    rng = _seeded(0)
    inputs = keras.Input((6, 7, 2))
    conv = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv")
    logits = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(conv(inputs)))
    model = keras.Model(inputs, logits)
    kernel, _ = conv.get_weights()
    bias = rng.normal(size=3).astype("float32")
    conv.set_weights([kernel, bias])
    dense = model.get_layer("logits").get_weights()[0]
    x, targets = rng.uniform(-1, 1, (4, 6, 7, 2)).astype("float32"), np.array([0, 1, 1, 0])

    z = tf.nn.conv2d(x, kernel, 1, "SAME").numpy() + bias  # pre-activation of "conv"
    upstream = np.stack([dense[:, t].reshape(6, 7, 3) for t in targets]) * (z > 0)
    expected = _input_term(model, x, targets) + _psi(upstream * bias).sum(-1, keepdims=True)
    explanations = FullGradient(model, batch_size=3)(x, targets).numpy()
    np.testing.assert_allclose(explanations, expected, rtol=1e-4, atol=1e-5)


def test_batch_norm_bias_and_upsampling():
    rng = _seeded(1)
    inputs = keras.Input((8, 10, 3))
    conv = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)
    norm = keras.layers.BatchNormalization(epsilon=1e-3)
    hidden = keras.layers.ReLU()(norm(conv(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(
        keras.layers.Flatten()(hidden)))
    gamma, beta = rng.uniform(0.5, 2, 4), rng.normal(size=4)
    mean, variance = rng.normal(size=4), rng.uniform(0.5, 2, 4)
    norm.set_weights([v.astype("float32") for v in (gamma, beta, mean, variance)])
    dense = model.get_layer("logits").get_weights()[0]
    x, targets = rng.uniform(-1, 1, (3, 8, 10, 3)).astype("float32"), np.array([1, 0, 1])

    normalised = keras.Model(inputs, norm.output)(x).numpy()
    upstream = np.stack([dense[:, t].reshape(4, 5, 4) for t in targets]) * (normalised > 0)
    effective_bias = beta - gamma * mean / np.sqrt(variance + 1e-3)
    expected = _input_term(model, x, targets) + _psi(
        upstream * effective_bias, (8, 10)).sum(-1, keepdims=True)
    explanations = FullGradient(model)(x, targets).numpy()
    np.testing.assert_allclose(explanations, expected, rtol=1e-4, atol=1e-5)


def test_without_biases_only_the_input_term_remains():
    _seeded(2)
    model = keras.Sequential([
        keras.Input((5, 5, 2)),
        keras.layers.Conv2D(3, 3, activation="relu", use_bias=False),
        keras.layers.Flatten(),
        keras.layers.Dense(2),  # a Dense bias has no position: not aggregated
    ])
    x = np.random.default_rng(3).uniform(size=(3, 5, 5, 2)).astype("float32")
    targets = np.array([0, 1, 0])
    np.testing.assert_allclose(FullGradient(model)(x, targets).numpy(),
                               _input_term(model, x, targets), rtol=1e-5, atol=1e-6)


def test_output_layer_and_restored_model():
    _seeded(4)
    inputs = keras.Input((6, 6, 1))
    hidden = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    logits = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(hidden))
    model = keras.Model(inputs, keras.layers.Softmax()(logits))
    truncated = keras.Model(inputs, logits)
    x, targets = np.random.default_rng(5).uniform(size=(3, 6, 6, 1)).astype("float32"), [0, 1, 0]
    on_logits = FullGradient(model, output_layer="logits")(x, targets).numpy()
    np.testing.assert_allclose(on_logits, FullGradient(truncated)(x, targets).numpy(),
                               atol=1e-6)
    assert not np.allclose(on_logits, FullGradient(model)(x, targets).numpy(), atol=1e-4)
    assert model.get_layer("conv").activation is keras.activations.relu
    assert model.get_layer("logits").activation is keras.activations.linear
