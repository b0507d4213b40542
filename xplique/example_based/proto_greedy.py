"""ProtoGreedy prototypes."""

import numpy as np
import tensorflow as tf

from xplique.commons.batching import chunk_ranges
from xplique.commons.compiled import Compiled
from xplique.example_based.prototypes import Prototypes

#: Sweeps of coordinate descent per candidate (at most), warm-started at the current weights;
#: a chunk stops once no weight moves by more than TOLERANCE in a sweep.
SWEEPS = 200
TOLERANCE = 1e-7


def _candidate_objectives(kernel_matrix, mu_selected, weights, columns, mu, diagonal):
    """`max_{w >= 0} w . mu_T - w^T K_T w / 2` for `T = S + {c}`, every candidate c of the
    chunk at once, by projected coordinate descent warm-started at `(w_S, 0)`."""
    count = tf.shape(columns)[0]
    size = tf.shape(kernel_matrix)[0]
    top = tf.concat([tf.broadcast_to(kernel_matrix[None], [count, size, size]),
                     columns[:, :, None]], axis=2)
    bottom = tf.concat([columns, diagonal[:, None]], axis=1)[:, None, :]
    matrices = tf.concat([top, bottom], axis=1)  # (c, s + 1, s + 1)
    means = tf.concat([tf.broadcast_to(mu_selected[None], [count, size]), mu[:, None]], axis=1)
    start = tf.concat([tf.broadcast_to(weights[None], [count, size]),
                       tf.zeros([count, 1])], axis=1)
    width = size + 1

    def sweep(step, w, _):
        def coordinate(i, w):
            row = matrices[:, i, :]
            gradient = means[:, i] - tf.reduce_sum(row * w, axis=1)
            updated = tf.maximum(w[:, i] + gradient / tf.maximum(row[:, i], 1e-12), 0.0)
            return i + 1, w + tf.one_hot(i, width) * (updated - w[:, i])[:, None]

        _, updated = tf.while_loop(lambda i, _: i < width, coordinate, (0, w))
        return step + 1, updated, tf.reduce_max(tf.abs(updated - w))

    _, solution, _ = tf.while_loop(lambda t, _, change: (t < SWEEPS) & (change > TOLERANCE),
                                   sweep, (0, start, tf.constant(np.inf, tf.float32)))
    quadratic = tf.reduce_sum(solution * tf.linalg.matvec(matrices, solution), axis=1)
    return tf.reduce_sum(solution * means, axis=1) - 0.5 * quadratic


class ProtoGreedy(Prototypes):
    """ProtoGreedy: weighted prototypes maximising `F(S) = max_{w >= 0} w . mu_S - w^T K_S w / 2`
    (`mu_j` the mean kernel of case j with the dataset); each step adds the candidate of
    largest `F(S + {c})`, the quadratic program solved for every candidate.

    Ref. Gurumoorthy et al., Efficient Data Representation by Selecting Prototypes with
    Importance Weights (2019), https://arxiv.org/abs/1707.01212

    The parameters are described in :class:`Prototypes`.

    Notes
    -----
    Candidates are scored in chunks of `batch_size` on the device by projected coordinate
    descent (at most :data:`SWEEPS` sweeps from the current weights, which are optimal on `S`,
    until no weight moves by more than :data:`TOLERANCE`); the
    chosen prototypes' weights are then the exact optimum. `objectives[s - 1]` holds `F` of
    the first `s` prototypes.
    """

    def _scores(self, mu, diagonal, kernel_columns, selected, weights):
        if not hasattr(self, "_candidates"):
            self._candidates = Compiled(_candidate_objectives, fully_relaxed=(0, 1, 2, 3))
        matrix = tf.gather(kernel_columns, selected) if selected else tf.zeros([0, 0])
        mu_selected = tf.gather(mu, selected) if selected else tf.zeros([0])
        weights = tf.constant(np.asarray(weights), tf.float32)
        parts = [self._candidates(matrix, mu_selected, weights, kernel_columns[a:b], mu[a:b],
                                  diagonal[a:b])
                 for a, b in chunk_ranges(int(mu.shape[0]), self.batch_size)]
        return tf.concat(parts, 0)
