"""ProtoDash prototypes."""

import tensorflow as tf

from xplique.example_based.prototypes import Prototypes


class ProtoDash(Prototypes):
    """ProtoDash: weighted prototypes maximising `F(S) = max_{w >= 0} w . mu_S - w^T K_S w / 2`
    (`mu_j` the mean kernel of case j with the dataset), where the next prototype is the
    candidate of largest gradient `mu_c - K_{c,S} w_S` (a lower bound of its gain), then the
    weights are refit on the prototypes by a non-negative quadratic program.

    Ref. Gurumoorthy et al., Efficient Data Representation by Selecting Prototypes with
    Importance Weights (2019), https://arxiv.org/abs/1707.01212

    The parameters are described in :class:`Prototypes`.

    Notes
    -----
    The weights are the exact optimum of the small quadratic program (not normalised).
    `objectives[s - 1]` holds `F` of the first `s` prototypes.
    """

    def _scores(self, mu, diagonal, kernel_columns, selected, weights):
        if not selected:
            return mu
        return mu - tf.linalg.matvec(kernel_columns, tf.constant(weights, tf.float32))
