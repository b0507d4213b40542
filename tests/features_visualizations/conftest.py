"""Tiny seeded models for the feature-visualization tests."""

import keras
import pytest


def linear_model(shape=(6, 5, 1), seed=0):
    """Flatten -> Dense(1, "linear") with no bias: the score of an image x is w . x."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    flat = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(1, use_bias=False, name="linear")(flat)
    return keras.Model(inputs, outputs)


def conv_model(shape=(8, 8, 1), seed=0):
    """Conv -> Conv -> GAP -> Dense(4 "hidden", linear) -> Dense(3 "logits")."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(4, name="hidden")(x)
    outputs = keras.layers.Dense(3, name="logits")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def cnn():
    return conv_model()


@pytest.fixture(scope="module")
def rgb_cnn():
    return conv_model((8, 10, 3), seed=1)
