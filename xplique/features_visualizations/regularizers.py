"""Regularizers for feature visualization: penalties on the images, subtracted from the
objective.

Ref. Olah et al., Feature Visualization (2017), https://distill.pub/2017/feature-visualization/
(frequency penalisation: total variation, L1/L2 penalties).

Each factory returns `f(images) -> (N,)`, one penalty per image of an `(N, H, W, C)` batch.
"""

from typing import Callable

import tensorflow as tf

from xplique.commons.validation import ensure_float

Regularizer = Callable[[tf.Tensor], tf.Tensor]


def _axes(images: tf.Tensor):
    return list(range(1, images.shape.rank))


def l1_reg(factor: float = 1.0) -> Regularizer:
    """`factor * mean(|x|)` over each image."""
    factor = ensure_float(factor, "factor")

    def regularizer(images):
        return factor * tf.reduce_mean(tf.abs(images), axis=_axes(images))

    return regularizer


def l2_reg(factor: float = 1.0) -> Regularizer:
    """`factor * sqrt(mean(x^2))` over each image."""
    factor = ensure_float(factor, "factor")

    def regularizer(images):
        return factor * tf.sqrt(tf.reduce_mean(tf.square(images), axis=_axes(images)))

    return regularizer


def l_inf_reg(factor: float = 1.0) -> Regularizer:
    """`factor * max(|x|)` over each image."""
    factor = ensure_float(factor, "factor")

    def regularizer(images):
        return factor * tf.reduce_max(tf.abs(images), axis=_axes(images))

    return regularizer


def total_variation_reg(factor: float = 1.0) -> Regularizer:
    """`factor * total variation` of each image: the sum of the absolute differences between
    vertically and horizontally adjacent pixels (all channels)."""
    factor = ensure_float(factor, "factor")

    def regularizer(images):
        vertical = tf.abs(images[:, 1:, :, :] - images[:, :-1, :, :])
        horizontal = tf.abs(images[:, :, 1:, :] - images[:, :, :-1, :])
        return factor * (tf.reduce_sum(vertical, axis=[1, 2, 3])
                         + tf.reduce_sum(horizontal, axis=[1, 2, 3]))

    return regularizer
