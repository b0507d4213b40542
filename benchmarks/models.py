"""Benchmark models: seeded, randomly initialised Keras CNNs with 10 classes.

Every model names its last convolution `"last_conv"` and its logits layer `"logits"`, so a
registry entry that needs a layer (CAM methods, `output_layer`) can name it without knowing
which model it runs on. Random weights are enough: speed and memory do not depend on training.
"""

from typing import Callable, Dict, Tuple

import keras

NB_CLASSES = 10


def small_cnn(seed: int = 0) -> keras.Model:
    """A small VGG-like CNN on 32x32x3 images (CIFAR-sized)."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="last_conv")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(NB_CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def _residual_block(x, filters: int, stride: int, name: str):
    layers = keras.layers
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.ReLU(name=name)(layers.Add()([y, shortcut]))


def resnet_like(seed: int = 0) -> keras.Model:
    """A ResNet-like CNN on 64x64x3 images: a stem and four residual blocks (batch norm)."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input((64, 64, 3))
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = _residual_block(x, 32, 1, "block1")
    x = _residual_block(x, 64, 2, "block2")
    x = _residual_block(x, 64, 1, "block3")
    x = _residual_block(x, 128, 2, "last_conv")
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(NB_CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="resnet_like")


#: Model name -> (builder, per-sample input shape).
MODELS: Dict[str, Tuple[Callable[..., keras.Model], Tuple[int, ...]]] = {
    "small_cnn": (small_cnn, (32, 32, 3)),
    "resnet_like": (resnet_like, (64, 64, 3)),
}
