"""Online statistics over the samples a method draws per input.

A kernel turns one chunk of (input, sample) pairs into per-input *partial states* with
:meth:`Statistic.partial` (segment reductions inside the compiled graph). Chunks may split an
input's samples, so the loop combines the partial-state rows of several chunks into one row per
input with :meth:`combine` (vectorised, a few chunks at a time), and :meth:`finalize` turns the
final state into the statistic. Memory stays one state per input.
"""

from typing import Tuple

import tensorflow as tf

State = Tuple[tf.Tensor, ...]


class Statistic:
    """Interface of an online statistic over per-sample values.

    A statistic with `per_pair = True` keeps one state row per pair instead of per input: the
    loop then concatenates the chunk states in pair order (input-major) and never combines.
    """

    per_pair = False

    def partial(self, values: tf.Tensor, segment_ids: tf.Tensor, num_segments) -> State:
        """Reduce `values` (one row per pair) to one state row per segment (input)."""
        raise NotImplementedError

    def partial_at(self, values: tf.Tensor, segment_ids: tf.Tensor, sample_index: tf.Tensor,
                   num_segments) -> State:
        """Like :meth:`partial`, also given each pair's sample number within its input.

        Reductions ignore it; :class:`Collect` uses it to keep every value at its place.
        """
        return self.partial(values, segment_ids, num_segments)

    def combine(self, state: State, segment_ids: tf.Tensor, num_segments) -> State:
        """Combine state rows that belong to the same input: row `r` of `state` belongs to
        input `segment_ids[r]`; returns one row per input in `[0, num_segments)`."""
        raise NotImplementedError

    def finalize(self, state: State, nb_samples: int) -> tf.Tensor:
        """Turn the state of inputs that saw all their `nb_samples` samples into the statistic."""
        raise NotImplementedError


class Sum(Statistic):
    """Sum of the values (weights are applied by the kernel before reducing)."""

    def partial(self, values, segment_ids, num_segments):
        return (tf.math.unsorted_segment_sum(values, segment_ids, num_segments),)

    def combine(self, state, segment_ids, num_segments):
        return (tf.math.unsorted_segment_sum(state[0], segment_ids, num_segments),)

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

    States are `(count, mean, M2)` and combine with Chan et al.'s parallel update, so no large
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

    def combine(self, state, segment_ids, num_segments):
        count, mean, m2 = state
        total = tf.math.unsorted_segment_sum(count, segment_ids, num_segments)
        combined_mean = tf.math.unsorted_segment_sum(count * mean, segment_ids, num_segments)
        combined_mean = combined_mean / total
        spread = m2 + count * tf.square(mean - tf.gather(combined_mean, segment_ids))
        return total, combined_mean, tf.math.unsorted_segment_sum(spread, segment_ids, num_segments)

    def finalize(self, state, nb_samples):
        return state[2] / float(nb_samples - 1)


class Collect(Statistic):
    """Every sample's value kept at its position: `(inputs, nb_samples, *value_shape)`.

    Pairs come input-major, so the per-pair values of the chunks, concatenated in order, are
    already laid out by input then sample: no scatter and no combine (`per_pair`).

    For estimators that need all the per-sample values of an input (the scores of a Sobol
    design, the rows of a LIME design matrix). Memory is `nb_samples` values per input, so keep
    the values small (scores, rows in an interpretable space), never whole perturbed inputs.

    Parameters
    ----------
    nb_samples
        Samples per input.
    """

    per_pair = True

    def __init__(self, nb_samples: int):
        self.nb_samples = int(nb_samples)

    def partial(self, values, segment_ids, num_segments):
        raise TypeError("Collect needs the sample positions: use partial_at")

    def partial_at(self, values, segment_ids, sample_index, num_segments):
        return (values,)

    def combine(self, state, segment_ids, num_segments):
        raise TypeError("Collect keeps one row per pair: its states are concatenated")

    def finalize(self, state, nb_samples):
        values = state[0]
        return tf.reshape(values, tf.concat([[-1, self.nb_samples], tf.shape(values)[1:]], 0))
