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


def _design_rows(pair_scores, aux, *pair_tensors):
    coalitions, similarities = aux
    return tf.concat([coalitions, pair_scores[:, None], similarities[:, None]], axis=1)


def coalition_kernel(model, operator, nb_samples: int, draw: Callable, similarity: Callable):
    """Compiled perturbation kernel collecting `[coalition, score, similarity]` rows.

    Parameters
    ----------
    draw
        `draw(seed, first_pair, sample_index, nb_features, width, nb_cells, *designs)
        -> coalitions (n, width)` in {0, 1}, made in the kernel.
    similarity
        `similarity(inputs, coalitions, perturbed) -> (n,)` weights of the samples.

    Per-input tensors of the kernel: segment maps `(N, *cells)` and numbers of features `(N,)`
    (plus any per-input tensors `draw` needs); extras: the seed, the design width and the
    reference value shown for the features a coalition leaves out (shape of one input).
    """

    def make_perturbed(pair_inputs, sample_index, first_pair, seed, width, reference, maps,
                       nb_features, *designs):
        nb_cells = int(np.prod(maps.shape[1:]))
        coalitions = draw(seed, first_pair, sample_index, nb_features, width, nb_cells, *designs)
        kept = broadcast_to_input(expand_segments(coalitions, maps), pair_inputs.shape.rank)
        perturbed = pair_inputs * kept + (1.0 - kept) * reference
        return perturbed, (coalitions, similarity(pair_inputs, coalitions, perturbed))

    return perturbed_scores_of(model, operator, nb_samples, make_perturbed,
                               Collect(nb_samples), values_of=_design_rows)


def explain_with_surrogate(kernel, inputs, targets, first_input: int, *, nb_samples: int,
                           batch_size: int, mapping, fit: Callable, seed: int,
                           reference: np.ndarray, designs: Optional[Callable] = None,
                           verbose: bool = False, description: str = "") -> tf.Tensor:
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
    designs
        Optional `designs(nb_features, width) -> (N, nb_samples, width)` coalitions made on the
        host (user perturbation functions), passed to the kernel as a per-input tensor.
    """
    maps, counts = segment_maps(inputs, mapping, first_input)
    width = int(counts.max())
    per_input = [tf.constant(maps), tf.constant(counts)]
    if designs is not None:
        per_input.append(tf.constant(designs(counts, width), tf.float32))

    def finish(rows, block_inputs, block_targets, block_maps, block_counts, *rest):
        coefficients = fit(rows[..., :width], rows[..., width], rows[..., width + 1],
                           block_counts)
        spread = expand_segments(tf.cast(coefficients, tf.float32), block_maps)
        return broadcast_to_input(spread, block_inputs.shape.rank)

    return reduce_perturbed(
        kernel, [inputs, targets, *per_input], nb_samples, batch_size, Collect(nb_samples),
        first_input=first_input,
        extras=(tf.constant(seed, tf.int64), tf.constant(width, tf.int32),
                tf.constant(np.broadcast_to(reference, inputs.shape[1:]), tf.float32)),
        finish=finish, inputs_per_block=inputs_per_block(nb_samples, batch_size, width + 2),
        verbose=verbose, description=description,
    )


def _uniform_if_all_zero(weights):
    total = tf.reduce_sum(weights, axis=1, keepdims=True)
    return tf.where(total > 0, weights, tf.ones_like(weights))


def weighted_ridge(coalitions, scores, weights, nb_features, alpha: float = 0.0):
    """Coefficients of the weighted ridge regression with intercept of `scores` on
    `coalitions`, one per input, in float64.

    Minimises `sum_k w_k (y_k - b - z_k . c)^2 + alpha |c|^2`; with `alpha = 0` the minimum-norm
    least-squares solution. Weights that are all zero fall back to uniform weights. With
    `alpha > 0` the smaller of the primal (features x features) and dual (samples x samples)
    systems is solved by Cholesky.
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
    design = (z - z_mean[:, None, :]) * root[:, :, None]  # (B, n, F), padded columns are 0
    target = (y - y_mean) * root
    if alpha > 0 and width > nb_samples:
        dual = tf.matmul(design, design, transpose_b=True)
        dual += alpha * tf.eye(nb_samples, dtype=tf.float64)
        solved = tf.linalg.cholesky_solve(tf.linalg.cholesky(dual), target[:, :, None])
        return tf.linalg.matvec(design, solved[:, :, 0], transpose_a=True) * valid
    gram = tf.matmul(design, design, transpose_a=True)
    gram += tf.linalg.diag(alpha * valid + (1.0 - valid))
    moments = tf.linalg.matvec(design, target, transpose_a=True)
    if alpha > 0:
        solved = tf.linalg.cholesky_solve(tf.linalg.cholesky(gram), moments[:, :, None])
        return solved[:, :, 0] * valid
    return tf.linalg.matvec(tf.linalg.pinv(gram), moments) * valid


def efficient_regression(coalitions, scores, weights, nb_features):
    """Weighted least squares under the efficiency constraint of Shapley values.

    Sample 0 of each input must be the empty coalition and sample 1 the full one: the
    coefficients `c` minimise `sum_k w_k (y_k - y_0 - z_k . c)^2` subject to
    `sum_f c_f = y_1 - y_0`, in float64. With `A = Z^T W Z` and `b = Z^T W (y - y_0)`, the
    Lagrange conditions give `c = A^-1 (b - lambda 1)` with `lambda` set by the constraint;
    `A` gets a relative 1e-10 ridge, so rank-deficient designs (fewer samples than features)
    get the limit minimum-norm solution instead of failing.
    """
    z = tf.cast(coalitions, tf.float64)
    y = tf.cast(scores, tf.float64)
    w = _uniform_if_all_zero(tf.cast(weights, tf.float64))
    width = int(z.shape[2])
    valid = tf.cast(first_features(nb_features, width), tf.float64)
    empty, full = y[:, :1], y[:, 1]
    root = tf.sqrt(w)[:, :, None]
    gram = tf.matmul(z * root, z * root, transpose_a=True)
    scale = tf.reduce_sum(tf.linalg.diag_part(gram), axis=1, keepdims=True) / width + 1.0
    gram += tf.linalg.diag(1e-10 * scale * valid + (1.0 - valid))
    moments = tf.linalg.matvec(z, w * (y - empty), transpose_a=True)
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
