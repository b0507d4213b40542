"""Online statistics over the samples a method draws per input.

A kernel turns one chunk of (input, sample) pairs into per-input *partial states* with
:meth:`Statistic.partial` (segment reductions inside the compiled graph). Chunks may split an
input's samples, so the loop merges the partial states of one input with :meth:`merge`, and
:meth:`finalize` turns the final state into the statistic. Memory stays one state per input.
"""

from typing import Tuple

import tensorflow as tf

State = Tuple[tf.Tensor, ...]


class Statistic:
    """Interface of an online statistic over per-sample values."""

    def partial(self, values: tf.Tensor, segment_ids: tf.Tensor, num_segments) -> State:
        """Reduce `values` (one row per pair) to one state row per segment (input)."""
        raise NotImplementedError

    def partial_at(self, values: tf.Tensor, segment_ids: tf.Tensor, sample_index: tf.Tensor,
                   num_segments) -> State:
        """Like :meth:`partial`, also given each pair's sample number within its input.

        Reductions ignore it; :class:`Collect` uses it to keep every value at its place.
        """
        return self.partial(values, segment_ids, num_segments)

    def merge(self, first: State, second: State) -> State:
        """Combine two states of the same inputs (rows aligned)."""
        raise NotImplementedError

    def finalize(self, state: State, nb_samples: int) -> tf.Tensor:
        """Turn the state of inputs that saw all their `nb_samples` samples into the statistic."""
        raise NotImplementedError


class Sum(Statistic):
    """Sum of the values (weights are applied by the kernel before reducing)."""

    def partial(self, values, segment_ids, num_segments):
        return (tf.math.unsorted_segment_sum(values, segment_ids, num_segments),)

    def merge(self, first, second):
        return (first[0] + second[0],)

    def finalize(self, state, nb_samples):
        return state[0]


class Mean(Sum):
    """Mean of the values."""

    def finalize(self, state, nb_samples):
        return state[0] / float(nb_samples)


class MeanOfSquares(Mean):
    """Mean of the squared values."""

    def partial(self, values, segment_ids, num_segments):
        return super().partial(tf.square(values), segment_ids, num_segments)


class Variance(Statistic):
    """Unbiased variance `n / (n - 1) * (E[v^2] - E[v]^2)`, computed stably.

    States are `(count, mean, M2)` and merge with Chan et al.'s parallel update, so no large
    sums of squares are subtracted from each other.
    """

    def partial(self, values, segment_ids, num_segments):
        ones = tf.ones_like(segment_ids, dtype=values.dtype)
        count = tf.math.unsorted_segment_sum(ones, segment_ids, num_segments)
        count = tf.reshape(count, [-1] + [1] * (values.shape.rank - 1))
        mean = tf.math.unsorted_segment_sum(values, segment_ids, num_segments) / count
        centred = values - tf.gather(mean, segment_ids)
        m2 = tf.math.unsorted_segment_sum(tf.square(centred), segment_ids, num_segments)
        return count, mean, m2

    def merge(self, first, second):
        count_a, mean_a, m2_a = first
        count_b, mean_b, m2_b = second
        count = count_a + count_b
        delta = mean_b - mean_a
        mean = mean_a + delta * count_b / count
        m2 = m2_a + m2_b + tf.square(delta) * count_a * count_b / count
        return count, mean, m2

    def finalize(self, state, nb_samples):
        return state[2] / float(nb_samples - 1)


class Collect(Statistic):
    """Every sample's value kept at its position: `(inputs, nb_samples, *value_shape)`.

    For estimators that need all the per-sample values of an input (the scores of a Sobol
    design, the rows of a LIME design matrix). Memory is `nb_samples` values per input, so keep
    the values small (scores, rows in an interpretable space), never whole perturbed inputs.

    Parameters
    ----------
    nb_samples
        Samples per input.
    """

    def __init__(self, nb_samples: int):
        self.nb_samples = int(nb_samples)

    def partial(self, values, segment_ids, num_segments):
        raise TypeError("Collect needs the sample positions: use partial_at")

    def partial_at(self, values, segment_ids, sample_index, num_segments):
        positions = tf.stack(
            [tf.cast(segment_ids, tf.int32), tf.cast(sample_index, tf.int32)], axis=-1
        )
        shape = tf.concat(
            [tf.reshape(tf.cast(num_segments, tf.int32), [1]), [self.nb_samples],
             tf.shape(values)[1:]], axis=0
        )
        # Pairs of a chunk hit distinct positions, so the scatter places rather than sums.
        return (tf.scatter_nd(positions, values, shape),)

    def merge(self, first, second):
        # The two states hold disjoint samples of the same inputs (zeros elsewhere).
        return (first[0] + second[0],)

    def finalize(self, state, nb_samples):
        return state[0]
