"""Estimators of total Sobol indices from the scores of a replicated design.

The scores of one input are laid out as the design (see :mod:`.samplers`):
`[f(A); f(B); f(A_B^1); ...; f(A_B^d)]`, `nb_design` values each. Every estimator returns the
total index `ST_i` of each of the `d` dimensions, the share of the score's variance that
involves dimension `i`. Scores may carry leading axes (one row per input): estimates are
computed for all rows at once, in float64. Variances are floored at a small epsilon so a
constant score gives finite (zero or one, per estimator) indices instead of NaN.

Ref. Saltelli et al., Variance based sensitivity analysis of model output. Design and estimator
for the total sensitivity index (2010), https://doi.org/10.1016/j.cpc.2009.09.018
"""

import abc

import tensorflow as tf

EPSILON = 1e-12


def split_design_scores(outputs, nb_design: int):
    """`(f_A (..., n), f_B (..., n), f_C (..., d, n))` from scores `(..., n (d + 2))`."""
    outputs = tf.cast(outputs, tf.float64)
    total = int(outputs.shape[-1])
    if total % nb_design or total // nb_design < 3:
        raise ValueError(
            "`outputs` must hold nb_design * (d + 2) scores of a replicated design, d >= 1. "
            f"Received {total} scores for nb_design={nb_design}"
        )
    dimension = total // nb_design - 2
    leading = tf.shape(outputs)[:-1]
    blocks = tf.reshape(outputs, tf.concat([leading, [dimension + 2, nb_design]], 0))
    return blocks[..., 0, :], blocks[..., 1, :], blocks[..., 2:, :]


def _variance(values):
    return tf.maximum(tf.math.reduce_variance(values, axis=-1), EPSILON)


class SobolEstimator(abc.ABC):
    """A total-index estimator: `estimator(masks, outputs, nb_design) -> (..., d)`.

    `masks` (the design) is accepted for compatibility and unused by these estimators.
    """

    def __call__(self, masks, outputs, nb_design: int) -> tf.Tensor:
        f_a, f_b, f_c = split_design_scores(outputs, nb_design)
        return tf.cast(self.total_indices(f_a, f_b, f_c), tf.float32)

    @abc.abstractmethod
    def total_indices(self, f_a, f_b, f_c):
        """Total indices `(..., d)` from `f_A (..., n)`, `f_B (..., n)`, `f_C (..., d, n)`."""


class JansenEstimator(SobolEstimator):
    """`ST_i = mean((f_A - f_Ci)^2) / (2 V)`, `V` the variance of `f_A` and `f_B` pooled.

    Ref. Jansen, Analysis of variance designs for model output (1999),
    https://doi.org/10.1016/S0010-4655(98)00154-4
    """

    def total_indices(self, f_a, f_b, f_c):
        variance = _variance(tf.concat([f_a, f_b], axis=-1))
        squares = tf.reduce_mean(tf.square(f_a[..., None, :] - f_c), axis=-1)
        return squares / (2.0 * variance[..., None])


class HommaEstimator(SobolEstimator):
    """`ST_i = 1 - (mean(f_A f_Ci) - mean(f_A)^2) / V(f_A)`.

    Ref. Homma & Saltelli, Importance measures in global sensitivity analysis of nonlinear
    models (1996), https://doi.org/10.1016/0951-8320(96)00002-6
    """

    def total_indices(self, f_a, f_b, f_c):
        mean = tf.reduce_mean(f_a, axis=-1, keepdims=True)
        products = tf.reduce_mean(f_a[..., None, :] * f_c, axis=-1)
        return 1.0 - (products - tf.square(mean)) / _variance(f_a)[..., None]


class JanonEstimator(SobolEstimator):
    """Janon's asymptotically efficient estimator: mean and variance estimated from both
    `f_A` and `f_Ci`, `ST_i = 1 - (mean(f_A f_Ci) - m_i^2) / (mean((f_A^2 + f_Ci^2) / 2) - m_i^2)`
    with `m_i = mean((f_A + f_Ci) / 2)`.

    Ref. Janon et al., Asymptotic normality and efficiency of two Sobol index estimators
    (2014), https://doi.org/10.1051/ps/2013040
    """

    def total_indices(self, f_a, f_b, f_c):
        f_a = f_a[..., None, :]
        mean = tf.reduce_mean((f_a + f_c) / 2.0, axis=-1)
        squares = tf.reduce_mean((tf.square(f_a) + tf.square(f_c)) / 2.0, axis=-1)
        products = tf.reduce_mean(f_a * f_c, axis=-1)
        variance = tf.maximum(squares - tf.square(mean), EPSILON)
        return 1.0 - (products - tf.square(mean)) / variance


class GlenEstimator(SobolEstimator):
    """`ST_i = 1 - corr(f_A, f_Ci)`, the sample correlation.

    Ref. Glen & Isaacs, Estimating Sobol sensitivity indices using correlations (2012),
    https://doi.org/10.1016/j.envsoft.2012.03.014
    """

    def total_indices(self, f_a, f_b, f_c):
        centred_a = f_a - tf.reduce_mean(f_a, axis=-1, keepdims=True)
        centred_c = f_c - tf.reduce_mean(f_c, axis=-1, keepdims=True)
        covariance = tf.reduce_mean(centred_a[..., None, :] * centred_c, axis=-1)
        scale = tf.sqrt(_variance(f_a)[..., None] * _variance(f_c))
        return 1.0 - covariance / scale


class SaltelliEstimator(SobolEstimator):
    """`ST_i = 1 - (mean(f_A f_Ci) - mean(f_A f_B)) / V(f_A)`: the squared mean is estimated
    by `mean(f_A f_B)` (unbiased, as `A` and `B` are independent).

    Ref. Saltelli, Making best use of model evaluations to compute sensitivity indices (2002),
    https://doi.org/10.1016/S0010-4655(02)00280-1
    """

    def total_indices(self, f_a, f_b, f_c):
        squared_mean = tf.reduce_mean(f_a * f_b, axis=-1, keepdims=True)
        products = tf.reduce_mean(f_a[..., None, :] * f_c, axis=-1)
        return 1.0 - (products - squared_mean) / _variance(f_a)[..., None]
