"""Analytic models for the metric tests (closed-form scores)."""

import numpy as np
import tensorflow as tf


class SumModel(tf.Module):
    """f(x) = sum of all the input's values, one output."""

    def __call__(self, inputs):
        flat = tf.reshape(inputs, [tf.shape(inputs)[0], -1])
        return tf.reduce_sum(flat, axis=-1, keepdims=True)


class ThresholdModel(tf.Module):
    """f(x) = 1 if `count` values differ from 0 (all of them for count=None), else 0."""

    def __init__(self, count=None):
        super().__init__()
        self.count = count

    def __call__(self, inputs):
        flat = tf.reshape(inputs, [tf.shape(inputs)[0], -1])
        nonzero = tf.reduce_sum(tf.cast(tf.not_equal(flat, 0.0), tf.float32), axis=-1)
        needed = tf.cast(tf.shape(flat)[1], tf.float32) if self.count is None else self.count
        return tf.cast(nonzero >= needed, tf.float32)[:, None]


def positive_inputs(shape, n=4, seed=0):
    """Inputs in [0.1, 1) (never equal to the 0 baseline)."""
    return np.random.default_rng(seed).uniform(0.1, 1.0, (n,) + tuple(shape)).astype("float32")


def ones_targets(n):
    return np.ones((n, 1), "float32")


def feature_map(inputs):
    """The per-feature map of inputs: images channel-averaged, others unchanged."""
    return inputs.mean(-1) if inputs.ndim == 4 else inputs
