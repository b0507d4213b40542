"""Counter-based random numbers: sample `p` of a stream is the same whatever the chunking.

Stochastic methods draw one random tensor per (input, sample) pair. Drawing them with a stateful
generator, or with one stateless seed per chunk, would make the result depend on `batch_size`.
Here pair `p` reads its values at a fixed position of one Philox stream keyed by the seed, so a
chunk `[start, stop)` is a contiguous slice of that stream: batch-size invariant, generated on
the device, reproducible on CPU and GPU, and never materialised beyond one chunk.
"""

import numpy as np
import tensorflow as tf

_PHILOX = 1  # tf.random.Algorithm.PHILOX
_PER_COUNTER = 4  # Philox yields four 32-bit words, i.e. four float32 values, per counter step


def _stream_layout(sample_shape):
    size = int(np.prod(sample_shape)) if len(sample_shape) else 1
    padded = -(-size // _PER_COUNTER) * _PER_COUNTER
    return size, padded


def _counter(seed, position):
    key = tf.bitcast(tf.reshape(tf.cast(seed, tf.int64), [1]), tf.uint64)
    counter = tf.bitcast(tf.stack([tf.cast(position, tf.int64), tf.constant(0, tf.int64)]),
                         tf.uint64)
    return key, counter


def pair_normal(seed, first_pair, nb_pairs, sample_shape, stream: int = 0) -> tf.Tensor:
    """Standard normal values of shape `(nb_pairs, *sample_shape)` for pairs
    `first_pair .. first_pair + nb_pairs - 1` of the stream `(seed, stream)`."""
    return _pair_values(tf.raw_ops.StatelessRandomNormalV2, seed, first_pair, nb_pairs,
                        sample_shape, stream)


def pair_uniform(seed, first_pair, nb_pairs, sample_shape, stream: int = 0) -> tf.Tensor:
    """Uniform values in [0, 1) of shape `(nb_pairs, *sample_shape)`, laid out as
    :func:`pair_normal`."""
    return _pair_values(tf.raw_ops.StatelessRandomUniformV2, seed, first_pair, nb_pairs,
                        sample_shape, stream)


def _pair_values(op, seed, first_pair, nb_pairs, sample_shape, stream):
    sample_shape = tuple(int(d) for d in sample_shape)
    size, padded = _stream_layout(sample_shape)
    # Distinct streams of one seed use distinct keys; the counter walks along the pairs.
    key, counter = _counter(
        tf.cast(seed, tf.int64) * 1_000_003 + stream,
        tf.cast(first_pair, tf.int64) * (padded // _PER_COUNTER),
    )
    nb_pairs = tf.cast(nb_pairs, tf.int32)
    flat = op(shape=tf.stack([nb_pairs * padded]), key=key, counter=counter, alg=_PHILOX,
              dtype=tf.float32)
    values = tf.reshape(flat, [nb_pairs, padded])[:, :size]
    return tf.reshape(values, tf.concat([[nb_pairs], tf.constant(sample_shape, tf.int32)], 0))
