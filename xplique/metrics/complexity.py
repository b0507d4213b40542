"""Complexity metrics: how concentrated an explanation is, from the map alone."""

import tensorflow as tf

from xplique.metrics.base import BaseComplexityMetric


def _simplex(maps: tf.Tensor) -> tf.Tensor:
    """|maps| normalised to sum to one per row; an all-zero row becomes uniform."""
    magnitude = tf.abs(maps)
    total = tf.reduce_sum(magnitude, axis=-1, keepdims=True)
    uniform = tf.ones_like(magnitude) / tf.cast(tf.shape(magnitude)[-1], magnitude.dtype)
    return tf.where(total > 0, magnitude / tf.where(total > 0, total, 1.0), uniform)


class Complexity(BaseComplexityMetric):
    """Complexity: the Shannon entropy of the explanation seen as a distribution over features.

    `C(phi) = -sum_i p_i log p_i` with `p_i = |phi_i| / sum_j |phi_j|` (image channels are
    averaged first; `0 log 0 = 0`). It ranges from 0 (all relevance on one feature) to
    `log(D)` (relevance spread evenly over the D features). **Lower is better** (a simpler,
    more concentrated explanation).

    Ref. Bhatt et al., Evaluating and Aggregating Feature-based Model Explanations (2020),
    https://arxiv.org/abs/2005.00631

    Its one parameter, `batch_size`, is described in :class:`BaseComplexityMetric`.

    Notes
    -----
    An all-zero map has no distribution; it is treated as uniform (complexity `log(D)`).

    Examples
    --------
    >>> import numpy as np
    >>> round(Complexity()(np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])), 4)
    0.6931
    """

    shared_kernel = True

    def _per_map(self, maps):
        probabilities = _simplex(maps)
        logs = tf.math.log(tf.where(probabilities > 0, probabilities, 1.0))
        return -tf.reduce_sum(probabilities * logs, axis=-1)


class Sparseness(BaseComplexityMetric):
    """Sparseness: the Gini index of the explanation's absolute values.

    With `|phi|` sorted in increasing order `x_(1) <= ... <= x_(D)`,
    `G(phi) = sum_k (2k - D - 1) x_(k) / (D sum_k x_(k))` (image channels are averaged first).
    It ranges from 0 (all features equally relevant) to `1 - 1/D` (one feature holds all the
    relevance). **Higher is better** (a sparser explanation).

    Ref. Chalasani et al., Concise Explanations of Neural Networks using Adversarial Training
    (2020), https://arxiv.org/abs/1810.06583

    Its one parameter, `batch_size`, is described in :class:`BaseComplexityMetric`.

    Notes
    -----
    An all-zero map scores 0 (no feature stands out).

    Examples
    --------
    >>> import numpy as np
    >>> round(Sparseness()(np.array([[0.0, 0.0, 0.0, 2.0]])), 4)
    0.75
    """

    shared_kernel = True

    def _per_map(self, maps):
        ordered = tf.sort(tf.abs(maps), axis=-1)
        size = tf.cast(tf.shape(ordered)[-1], ordered.dtype)
        ranks = tf.range(1, tf.shape(ordered)[-1] + 1, dtype=ordered.dtype)
        weighted = tf.reduce_sum((2.0 * ranks - size - 1.0) * ordered, axis=-1)
        return tf.math.divide_no_nan(weighted, size * tf.reduce_sum(ordered, axis=-1))
