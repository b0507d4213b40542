"""Linear surrogates over interpretable features, shared by LIME and KernelSHAP.

An input is split into features (segments of a per-input map: superpixels, time-series cells,
tabular columns). The perturbation kernel evaluates `nb_samples` coalitions per input (a
coalition keeps some features and sets the others to a reference value) and collects, per
sample, the design row `[coalition, score, similarity]`; a weighted linear model fitted on those
rows gives one coefficient per feature, spread back onto the input's cells.

Rows are collected for one block of inputs at a time (see
:func:`xplique.commons.perturbation.inputs_per_block`), so memory is bounded by the design of a
block, O(nb_samples x nb_features) per input, never by the size of the inputs.
"""

from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from xplique.commons.compiled import fused
from xplique.commons.masks import (
    broadcast_to_input,
    expand_segments,
    first_features,
    segment_maps,
)
from xplique.commons.perturbation import inputs_per_block, perturbed_scores_of, reduce_perturbed
from xplique.commons.statistics import Collect


def default_reference(input_shape) -> float:
    """The default reference value of LIME and KernelSHAP: 0.5 for RGB images, 0 otherwise
    (as in Xplique)."""
    return 0.5 if len(input_shape) == 3 and input_shape[-1] == 3 else 0.0


def empty_per_input(inputs) -> tf.Tensor:
    """An empty per-input tensor `(N, 0)`: fills the kernel's sampler-table or statistics slot
    of a method that needs none."""
    return tf.zeros([tf.shape(inputs)[0], 0], tf.float32)


class Similarity:
    """Sample weights of a surrogate, computed in the kernel for each (input, coalition) pair.

    A similarity may need per-input statistics, computed once per group of inputs by
    :meth:`statistics` and handed back, gathered per pair, to :meth:`__call__`. Weights that
    only depend on per-segment sums of the input (distances to the perturbed copy) are then
    computed from the coalitions alone, without any per-pixel work per sample.
    """

    def statistics(self, inputs, reference, maps, width) -> tf.Tensor:
        """Per-input tensor `(N, ...)` for :meth:`__call__` (default: none, `(N, 0)`)."""
        return empty_per_input(inputs)

    def __call__(self, pair_inputs, coalitions, perturbed, statistics) -> tf.Tensor:
        """Weights `(n,)` of `n` pairs: their inputs, coalitions `(n, width)`, perturbed
        copies and gathered statistics."""
        raise NotImplementedError


class UniformSimilarity(Similarity):
    """Every sample weighs 1 (KernelSHAP draws its coalitions from the Shapley kernel)."""

    def __call__(self, pair_inputs, coalitions, perturbed, statistics):
        return tf.ones([tf.shape(coalitions)[0]], tf.float32)


class PerturbedSimilarity(Similarity):
    """A user function `kernel(inputs, coalitions, perturbed) -> (n,)` of one batch of pairs."""

    def __init__(self, kernel: Callable):
        self.kernel = kernel

    def __call__(self, pair_inputs, coalitions, perturbed, statistics):
        return tf.cast(tf.reshape(self.kernel(pair_inputs, coalitions, perturbed), [-1]),
                       tf.float32)


def _show_coalitions(coalitions, maps, inputs, reference):
    kept = broadcast_to_input(expand_segments(coalitions, maps), inputs.shape.rank)
    return inputs * kept + reference * (1.0 - kept)


#: `show_coalitions(coalitions (n, F), maps (n, *cells), inputs (n, ...), reference)`: each
#: input with the features its coalition leaves out set to the reference. Fused by XLA where it
#: runs: the per-cell gather and the blend become one pass over the inputs (about 3x faster than
#: the separate ops on CPU); the products with 0 and 1 keep the values exact.
show_coalitions = fused(_show_coalitions)


def _design_rows(pair_scores, aux, *pair_tensors):
    coalitions, similarities = aux
    return tf.concat([coalitions, pair_scores[:, None], similarities[:, None]], axis=1)


def coalition_kernel(model, operator, nb_samples: int, draw: Callable, similarity: Similarity):
    """Compiled perturbation kernel collecting `[coalition, score, similarity]` rows.

    A coalition `c` (one value in {0, 1} per feature, 1 = kept) shows each cell of an input
    `x` as `x` where `c[segment] = 1` and as `ref` elsewhere, i.e. `ref + c[segment] (x - ref)`.

    Parameters
    ----------
    draw
        `draw(seed, first_pair, sample_index, nb_features, width, nb_cells, table)
        -> coalitions (n, width)` in {0, 1}, made in the kernel; `table` holds the pairs' rows
        of the sampler's per-input table (see :func:`explain_with_surrogate`), `(n, 0)` when
        there is none.
    similarity
        The samples' weights (a :class:`Similarity`).

    Per-input tensors of the kernel: segment maps `(N, *cells)`, numbers of features `(N,)`,
    the sampler's table (or `(N, 0)`), and the similarity's statistics;
    extras: the seed, the design width and the reference value shown for the features a
    coalition leaves out (shape of one input).
    """

    def make_perturbed(pair_inputs, sample_index, first_pair, seed, width, reference, maps,
                       nb_features, table, statistics):
        nb_cells = int(np.prod(maps.shape[1:]))
        coalitions = draw(seed, first_pair, sample_index, nb_features, width, nb_cells, table)
        perturbed = show_coalitions(coalitions, maps, pair_inputs, reference)
        return perturbed, (coalitions, similarity(pair_inputs, coalitions, perturbed,
                                                  statistics))

    # The sampler's table and the similarity's statistics have a width that changes with the
    # inputs: relaxed, so that a new number of features never causes a trace.
    return perturbed_scores_of(model, operator, nb_samples, make_perturbed,
                               Collect(nb_samples), values_of=_design_rows,
                               fully_relaxed=(4, 5))


def explain_with_surrogate(kernel, inputs, targets, first_input: int, *, nb_samples: int,
                           batch_size: int, mapping, fit: Callable, seed: int,
                           reference: np.ndarray, similarity: Similarity,
                           sampler_table: Optional[Callable] = None, verbose: bool = False,
                           description: str = "") -> tf.Tensor:
    """Explain a group with a kernel from :func:`coalition_kernel` and a surrogate `fit`.

    Parameters
    ----------
    mapping
        `map_to_interpret_space`: None, a callable or precomputed maps (see
        :func:`xplique.commons.masks.segment_maps`).
    reference
        Value shown for the features left out, broadcastable to one input.
    fit
        `fit(coalitions (B, n, F), scores (B, n), weights (B, n), nb_features (B,))
        -> coefficients (B, F)`.
    similarity
        The kernel's :class:`Similarity` (its per-input statistics are computed here).
    sampler_table
        Optional `sampler_table(nb_features, width) -> (N, ...)`: a per-input array computed on
        the host from the inputs' numbers of features and the design width, handed to `draw`
        (LIME: the coalitions of a user's `pertub_func`; KernelSHAP: the distribution of the
        coalition sizes).
    """
    maps, counts = segment_maps(inputs, mapping, first_input)
    width = int(counts.max())
    reference = tf.constant(np.broadcast_to(reference, inputs.shape[1:]), tf.float32)
    maps = tf.constant(maps)
    per_input = [
        maps,
        tf.constant(counts),
        empty_per_input(inputs) if sampler_table is None
        else tf.constant(sampler_table(counts, width), tf.float32),
        similarity.statistics(inputs, reference, maps, width),
    ]

    def finish(rows, block_inputs, block_targets, block_maps, block_counts, *rest):
        coefficients = fit(rows[..., :width], rows[..., width], rows[..., width + 1],
                           block_counts)
        spread = expand_segments(tf.cast(coefficients, tf.float32), block_maps)
        return broadcast_to_input(spread, block_inputs.shape.rank)

    return reduce_perturbed(
        kernel, [inputs, targets, *per_input], nb_samples, batch_size, Collect(nb_samples),
        first_input=first_input,
        extras=(tf.constant(seed, tf.int64), tf.constant(width, tf.int32), reference),
        finish=finish, inputs_per_block=inputs_per_block(nb_samples, batch_size, width + 2),
        verbose=verbose, description=description,
    )


def _uniform_if_all_zero(weights):
    total = tf.reduce_sum(weights, axis=1, keepdims=True)
    return tf.where(total > 0, weights, tf.ones_like(weights))


def exact_products(a: tf.Tensor, b: tf.Tensor, transpose_a=False, transpose_b=False):
    """Batched `a @ b` in float64, multiplied in float32.

    Coalitions are 0/1 and KernelSHAP's weights are 1: their products are integer counts below
    2^24, exact in float32, and float32 matrix products are several times faster than float64
    ones.
    """
    product = tf.matmul(tf.cast(a, tf.float32), tf.cast(b, tf.float32),
                        transpose_a=transpose_a, transpose_b=transpose_b)
    return tf.cast(product, tf.float64)


def weighted_ridge(coalitions, scores, weights, nb_features, alpha: float = 0.0):
    """Coefficients of the weighted ridge regression with intercept of `scores` on
    `coalitions`, one per input, in float64.

    Minimises `sum_k w_k (y_k - b - z_k . c)^2 + alpha |c|^2`; with `alpha = 0` the minimum-norm
    least-squares solution. Weights that are all zero fall back to uniform weights. With
    `alpha > 0` the smaller of the primal (features x features) and dual (samples x samples)
    systems is solved by Cholesky; the dual Gram matrix of the centred, weighted design
    `D = sqrt(w) (Z - 1 m^T)` is expanded as
    `sqrt(w) (Z Z^T - (Z m) 1^T - 1 (Z m)^T + |m|^2) sqrt(w)^T`, so that its one large product,
    `Z Z^T`, is of the coalitions themselves (see :func:`exact_products`).
    """
    z = tf.cast(coalitions, tf.float64)
    y = tf.cast(scores, tf.float64)
    w = _uniform_if_all_zero(tf.cast(weights, tf.float64))
    nb_samples, width = int(z.shape[1]), int(z.shape[2])
    valid = tf.cast(first_features(nb_features, width), tf.float64)
    total = tf.reduce_sum(w, axis=1, keepdims=True)
    z_mean = tf.einsum("bn,bnf->bf", w, z) / total
    y_mean = tf.reduce_sum(w * y, axis=1, keepdims=True) / total
    root = tf.sqrt(w)
    target = (y - y_mean) * root
    if alpha > 0 and width > nb_samples:
        along = tf.linalg.matvec(z, z_mean)  # (B, n): z_k . m
        centred = (exact_products(coalitions, coalitions, transpose_b=True)
                   - along[:, :, None] - along[:, None, :]
                   + tf.reduce_sum(tf.square(z_mean), 1)[:, None, None])
        dual = centred * root[:, :, None] * root[:, None, :]
        dual += alpha * tf.eye(nb_samples, dtype=tf.float64)
        solved = tf.linalg.cholesky_solve(tf.linalg.cholesky(dual), target[:, :, None])
        weighted = solved[:, :, 0] * root  # D^T s = (Z - 1 m^T)^T (sqrt(w) s)
        return (tf.linalg.matvec(z, weighted, transpose_a=True)
                - z_mean * tf.reduce_sum(weighted, 1, keepdims=True)) * valid
    design = (z - z_mean[:, None, :]) * root[:, :, None]  # (B, n, F), padded columns are 0
    gram = tf.matmul(design, design, transpose_a=True)
    gram += tf.linalg.diag(alpha * valid + (1.0 - valid))
    moments = tf.linalg.matvec(design, target, transpose_a=True)
    if alpha > 0:
        solved = tf.linalg.cholesky_solve(tf.linalg.cholesky(gram), moments[:, :, None])
        return solved[:, :, 0] * valid
    return tf.linalg.matvec(tf.linalg.pinv(gram), moments) * valid


def efficient_regression(coalitions, scores, nb_features):
    """Least squares under the efficiency constraint of Shapley values.

    Sample 0 of each input must be the empty coalition and sample 1 the full one: the
    coefficients `c` minimise `sum_k (y_k - y_0 - z_k . c)^2` subject to
    `sum_f c_f = y_1 - y_0`, in float64. With `A = Z^T Z` (counts, see
    :func:`exact_products`) and `b = Z^T (y - y_0)`, the Lagrange conditions give
    `c = A^-1 (b - lambda 1)` with `lambda` set by the constraint; `A` gets a relative 1e-10
    ridge, so rank-deficient designs (fewer samples than features) get the limit minimum-norm
    solution instead of failing.
    """
    z = tf.cast(coalitions, tf.float64)
    y = tf.cast(scores, tf.float64)
    width = int(z.shape[2])
    valid = tf.cast(first_features(nb_features, width), tf.float64)
    empty, full = y[:, :1], y[:, 1]
    gram = exact_products(coalitions, coalitions, transpose_a=True)
    scale = tf.reduce_sum(tf.linalg.diag_part(gram), axis=1, keepdims=True) / width + 1.0
    gram += tf.linalg.diag(1e-10 * scale * valid + (1.0 - valid))
    moments = tf.linalg.matvec(z, y - empty, transpose_a=True)
    solved = tf.linalg.cholesky_solve(tf.linalg.cholesky(gram), tf.stack([moments, valid], 2))
    free, direction = solved[:, :, 0], solved[:, :, 1]
    multiplier = (tf.reduce_sum(free * valid, 1) - (full - empty[:, 0])) / tf.maximum(
        tf.reduce_sum(direction * valid, 1), 1e-300)
    return (free - multiplier[:, None] * direction) * valid


def sklearn_fit(estimator):
    """A `fit` that clones the scikit-learn `estimator` for every input (on the host) and
    reads its `coef_`."""
    from sklearn.base import clone  # pylint: disable=import-outside-toplevel

    def fit(coalitions, scores, weights, nb_features):
        z, y, w = coalitions.numpy(), scores.numpy(), weights.numpy()
        out = np.zeros(z.shape[0::2], np.float32)
        for i, count in enumerate(nb_features.numpy()):
            sample_weight = w[i] if w[i].sum() > 0 else np.ones_like(w[i])
            model = clone(estimator).fit(z[i, :, :count], y[i], sample_weight=sample_weight)
            out[i, :count] = np.ravel(model.coef_)[:count]
        return tf.constant(out)

    return fit
