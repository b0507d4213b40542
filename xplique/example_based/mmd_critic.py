"""MMD-critic prototypes."""

import numpy as np
import tensorflow as tf

from xplique.example_based.prototypes import Prototypes


class MMDCritic(Prototypes):
    """MMD-critic prototypes: the cases whose (uniform) distribution is closest to the
    dataset's in Maximum Mean Discrepancy, chosen greedily. With `s` prototypes `S`, the greedy
    step adds the candidate maximising

    `J(S) = (2 / (n |S|)) sum_{i, j in S} k(x_i, x_j) - (1 / |S|^2) sum_{i, j in S} k(x_i, x_j)`,

    (the first sum over all `n` cases), i.e. `MMD^2` up to a constant.

    Ref. Kim et al., Examples are not Enough, Learn to Criticize! Criticism for
    Interpretability (2016), https://proceedings.neurips.cc/paper/2016/hash/5680522b8e2bb01943234bce7bf84534-Abstract.html

    The parameters are described in :class:`Prototypes`.

    Notes
    -----
    Only the prototypes are selected (no criticisms). Their weights are uniform, `1 / m`.
    `objectives[s - 1]` holds `J` of the first `s` prototypes.
    """

    def _scores(self, mu, diagonal, kernel_columns, selected, weights):
        size = len(selected) + 1
        mean_term = float(tf.reduce_sum(tf.gather(mu, selected))) if selected else 0.0
        inner = float(tf.reduce_sum(tf.gather(kernel_columns, selected))) if selected else 0.0
        cross = tf.reduce_sum(kernel_columns, axis=1)
        return (2.0 / size) * (mean_term + mu) - (inner + 2.0 * cross + diagonal) / size**2

    def _weights(self, kernel_matrix, mu):
        return np.full(len(mu), 1.0 / len(mu))

    @staticmethod
    def _objective(kernel_matrix, mu, weights):
        size = len(mu)
        return float(2.0 / size * mu.sum() - kernel_matrix.sum() / size**2)
