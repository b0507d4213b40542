"""Row-wise similarities between explanation maps: ranks, Pearson, Spearman and SSIM.

All functions work on whole batches of maps at once (no per-map Python loop) and are used by
the stability, representativity and randomization metrics.
"""

import tensorflow as tf


def average_ranks(values: tf.Tensor) -> tf.Tensor:
    """Ranks (0-based) of each row of `values` `(N, D)`, tied values sharing their mean rank."""
    values = tf.convert_to_tensor(values)
    ordered = tf.sort(values, axis=-1)
    low = tf.searchsorted(ordered, values, side="left")
    high = tf.searchsorted(ordered, values, side="right")
    return tf.cast(low + high - 1, tf.float64) / 2.0


def pearson_rows(first: tf.Tensor, second: tf.Tensor) -> tf.Tensor:
    """Pearson correlation of each pair of rows `(N, D)`, in float64; 0 where a row is
    constant (the correlation is undefined there)."""
    first = tf.cast(first, tf.float64)
    second = tf.cast(second, tf.float64)
    first = first - tf.reduce_mean(first, axis=-1, keepdims=True)
    second = second - tf.reduce_mean(second, axis=-1, keepdims=True)
    covariance = tf.reduce_sum(first * second, axis=-1)
    scale = tf.sqrt(tf.reduce_sum(tf.square(first), -1) * tf.reduce_sum(tf.square(second), -1))
    return tf.math.divide_no_nan(covariance, scale)


def spearman_rows(first: tf.Tensor, second: tf.Tensor) -> tf.Tensor:
    """Spearman rank correlation of each pair of rows `(N, D)` (average ranks for ties, as
    `scipy.stats.spearmanr`); 0 where a row is constant."""
    return pearson_rows(average_ranks(first), average_ranks(second))


def ssim_maps(first: tf.Tensor, second: tf.Tensor, filter_size: int = 11) -> tf.Tensor:
    """Structural similarity of each pair of 2-D maps `(N, H, W)`, float32 `(N,)`.

    The data range of a pair is the range of both maps together; a pair of constant equal maps
    scores 1. The Gaussian window (sigma 1.5) shrinks to fit maps smaller than `filter_size`.

    Ref. Wang et al., Image Quality Assessment: From Error Visibility to Structural Similarity
    (2004), https://doi.org/10.1109/TIP.2003.819861
    """
    first = tf.cast(first, tf.float32)[..., None]
    second = tf.cast(second, tf.float32)[..., None]
    both = tf.concat([first, second], axis=-1)
    low = tf.reduce_min(both, axis=[1, 2, 3], keepdims=True)
    data_range = tf.reduce_max(both, axis=[1, 2, 3], keepdims=True) - low
    # SSIM is invariant when both maps and the data range are scaled together (not shifted),
    # so each pair is divided by its range and compared with max_val = 1.
    scale = tf.where(data_range > 0, data_range, 1.0)
    size = min(filter_size, int(first.shape[1]), int(first.shape[2]))
    values = tf.image.ssim(first / scale, second / scale, max_val=1.0,
                           filter_size=size, filter_sigma=1.5)
    return tf.where(tf.reshape(data_range, [-1]) > 0, values, 1.0)
