"""HSIC estimators: dependence between each mask dimension and the score.

For a design `X` of `n` masks `(n, d)` and the scores `y` `(n,)` of one input, the estimator
returns for every dimension `i` the (biased) empirical Hilbert-Schmidt Independence Criterion

    HSIC_i = trace(K_i H L H) / (n - 1)^2,

with `K_i` a kernel on the mask values of dimension `i` (the input kernel chosen by the estimator
class), `L` a kernel on the scores and `H = I - 11^T / n` the centring matrix. It is zero when the
score does not depend on the dimension. Dimensions are processed `batch_size` at a time and inputs
a few at a time, so memory is bounded by `batch_size * n^2` plus a few `n^2` blocks.

Ref. Gretton et al., Measuring Statistical Dependence with Hilbert-Schmidt Norms (2005),
https://doi.org/10.1007/11564089_7
"""

import abc
from typing import Optional

import tensorflow as tf

from xplique.commons.batching import batched
from xplique.commons.validation import ensure_choice, ensure_optional_positive_int

#: Values held at once by the default estimator chunks (K blocks and L blocks).
_BUDGET = 2**24
_EPSILON = 1e-12


def _centred(kernel):
    """`H K H` for kernels `(..., n, n)`."""
    kernel = kernel - tf.reduce_mean(kernel, axis=-1, keepdims=True)
    return kernel - tf.reduce_mean(kernel, axis=-2, keepdims=True)


def rbf_median_kernel(scores):
    """RBF kernel on scores `(B, n)`, width the median pairwise distance (median heuristic)."""
    distances = tf.abs(scores[:, :, None] - scores[:, None, :])
    n = int(scores.shape[-1])
    flat = tf.sort(tf.reshape(distances, [tf.shape(scores)[0], n * n]), axis=-1)
    # The n zeros of the diagonal sort first; the n (n - 1) others (an even count) follow.
    middle = n + (n * n - n) // 2
    median = (flat[:, middle - 1] + flat[:, middle]) / 2.0
    width = tf.maximum(median, _EPSILON)[:, None, None]
    return tf.exp(-tf.square(distances) / (2.0 * tf.square(width)))


class HsicEstimator(abc.ABC):
    """An HSIC estimator: `estimator(masks, outputs, nb_design=None, batch_size=None)`.

    Parameters
    ----------
    output_kernel
        Kernel on the scores; "rbf" (width set by the median heuristic) is available.
    """

    def __init__(self, output_kernel: str = "rbf"):
        self.output_kernel = ensure_choice(output_kernel, "output_kernel", ("rbf",))

    @abc.abstractmethod
    def input_kernel(self, x, y):
        """Kernel between mask values `x` and `y` (broadcast elementwise)."""

    def __call__(self, masks, outputs, nb_design: Optional[int] = None,
                 batch_size: Optional[int] = None) -> tf.Tensor:
        """HSIC of each mask dimension.

        Parameters
        ----------
        masks
            The design `(n, d)` (or `(n, ...)`, flattened).
        outputs
            Scores `(n,)` or `(B, n)` (one row per input).
        nb_design
            Unused (`n` is read from `masks`); kept for compatibility.
        batch_size
            Dimensions per chunk of input kernels (None: as many as fit a memory budget).

        Returns
        -------
        HSIC values `(d,)` or `(B, d)`.
        """
        batch_size = ensure_optional_positive_int(batch_size, "estimator_batch_size")
        masks = tf.reshape(tf.cast(masks, tf.float32), [tf.shape(masks)[0], -1])
        outputs = tf.cast(outputs, tf.float32)
        single = outputs.shape.rank == 1
        outputs = outputs[None] if single else outputs
        n = int(masks.shape[0])
        dims_per_chunk = batch_size or max(1, _BUDGET // (n * n))
        inputs_per_chunk = max(1, _BUDGET // (n * n))
        columns = tf.transpose(masks)  # (d, n)

        def per_inputs(scores):
            centred_scores = rbf_median_kernel(scores)

            def per_dimensions(chunk):
                kernels = _centred(self.input_kernel(chunk[:, :, None], chunk[:, None, :]))
                return tf.einsum("pab,iab->pi", kernels, centred_scores)

            return tf.transpose(batched(per_dimensions, [columns], dims_per_chunk))

        hsic = batched(per_inputs, [outputs], inputs_per_chunk) / float((n - 1) ** 2)
        return hsic[0] if single else hsic


class BinaryEstimator(HsicEstimator):
    """HSIC with the Dirac kernel on binary masks, `k(x, y) = 1 if x == y else 0` (computed as
    `1 - (x - y)^2`, the default of the HSIC attribution method)."""

    def input_kernel(self, x, y):
        return 1.0 - tf.square(x - y)


class RbfEstimator(HsicEstimator):
    """HSIC with the RBF kernel `exp(-(x - y)^2 / (2 * 0.5^2))` on continuous masks."""

    width = 0.5

    def input_kernel(self, x, y):
        return tf.exp(-tf.square(x - y) / (2.0 * self.width**2))


class SobolevEstimator(HsicEstimator):
    """HSIC with the first-order Sobolev kernel on [0, 1],
    `k(x, y) = 1 + B1(x) B1(y) + B2(|x - y|) / 2`, `B1(t) = t - 1/2`, `B2(t) = t^2 - t + 1/6`.

    Ref. Da Veiga, Kernel-based ANOVA decomposition and Shapley effects (2021),
    https://arxiv.org/abs/2101.05487
    """

    def input_kernel(self, x, y):
        distance = tf.abs(x - y)
        bernoulli_2 = tf.square(distance) - distance + 1.0 / 6.0
        return 1.0 + (x - 0.5) * (y - 0.5) + bernoulli_2 / 2.0
