"""Tiny seeded models for the LRP and DeepLIFT tests."""

import keras
import numpy as np

L = keras.layers


def mlp(bias: bool = True, activation: str = "relu", seed: int = 0, sizes=(7, 6, 5, 3)):
    """Dense layers of `sizes` (input first), `activation` between them, logits last."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((sizes[0],))
    x = inputs
    for i, units in enumerate(sizes[1:]):
        last = i == len(sizes) - 2
        x = L.Dense(units, activation=None if last else activation, use_bias=bias,
                    bias_initializer="random_normal", name=f"dense{i}")(x)
    return keras.Model(inputs, x)


def cnn(bias: bool = False, seed: int = 0, shape=(8, 8, 2), average: bool = True):
    """Conv -> max pool -> conv -> avg pool (if `average`) -> flatten -> dense -> dense."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    x = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=bias, name="conv0")(inputs)
    x = L.MaxPooling2D(name="max")(x)
    x = L.Conv2D(6, 3, strides=1, padding="valid", use_bias=bias, name="conv1")(x)
    x = L.ReLU()(x)
    if average:
        x = L.AveragePooling2D(2, padding="same", name="avg")(x)
    x = L.Flatten()(x)
    x = L.Dense(8, activation="relu", use_bias=bias, name="hidden")(x)
    x = L.Dropout(0.5)(x)
    outputs = L.Dense(3, use_bias=bias, name="logits")(x)
    return keras.Model(inputs, outputs)


def residual(bias: bool = False, seed: int = 0, shape=(8, 8, 2)):
    """A residual block (Add), a Concatenate branch and global average pooling."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    x = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=bias, name="stem")(inputs)
    y = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=bias, name="branch")(x)
    x = L.Add(name="add")([x, y])
    z = L.DepthwiseConv2D(3, padding="same", use_bias=bias, activation="relu", name="depth")(x)
    x = L.Concatenate(name="concat")([x, z])
    x = L.Conv2D(6, 2, strides=2, use_bias=bias, activation="relu", name="strided")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(3, use_bias=bias, name="logits")(x)
    return keras.Model(inputs, outputs)


def zoo(seed: int = 0):
    """Bias-free ReLU time-series model with causal dilated Conv1D, padding, cropping,
    up-sampling, reshape, global max pooling."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 3))
    x = L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu", use_bias=False)(
        inputs)
    x = L.ZeroPadding1D(1)(x)
    x = L.Conv1D(4, 3, strides=2, activation="relu", use_bias=False)(x)
    x = L.UpSampling1D(2)(x)
    x = L.Cropping1D((1, 1))(x)
    x = L.Reshape((-1, 2))(x)
    x = L.DepthwiseConv1D(2, activation="relu", use_bias=False)(x)
    x = L.GlobalMaxPooling1D()(x)
    outputs = L.Dense(3, use_bias=False)(x)
    return keras.Model(inputs, outputs)


def volumes(seed: int = 0):
    """Bias-free Conv3D + MaxPooling3D + Dense."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4, 4, 4, 1))
    x = L.Conv3D(3, 2, padding="same", activation="relu", use_bias=False)(inputs)
    x = L.MaxPooling3D(2)(x)
    x = L.Flatten()(x)
    outputs = L.Dense(3, use_bias=False)(x)
    return keras.Model(inputs, outputs)


def data(shape, n: int = 6, seed: int = 0, low: float = 0.0, high: float = 1.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, (n,) + tuple(shape)).astype("float32")


def labels(n: int = 6, classes: int = 3, seed: int = 1):
    return np.random.default_rng(seed).integers(0, classes, n)


def target_logits(model, x, y):
    return model(x).numpy()[np.arange(len(y)), y]
