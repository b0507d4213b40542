"""ROAD: RemOve And Debias, a removal curve whose removed features are imputed from their
neighbours instead of set to a constant (which leaks the removal's shape to the model)."""

from typing import Dict

import numpy as np
import tensorflow as tf

from xplique.commons.perturbation import inputs_per_block, perturbed_scores_of, reduce_perturbed
from xplique.commons.random import pair_normal
from xplique.commons.shapes import Modality, modality
from xplique.commons.statistics import Collect
from xplique.commons.validation import ensure_choice, ensure_float, ensure_seed
from xplique.metrics.base import ExplanationMetric
from xplique.metrics.fidelity import rank_positions

#: Neighbour weights of the imputation: 1/6 for the 4 direct neighbours, 1/12 for the diagonal
#: ones (they sum to 1 for an interior pixel).
_STENCIL = ((1 / 12, 1 / 6, 1 / 12), (1 / 6, 0.0, 1 / 6), (1 / 12, 1 / 6, 1 / 12))
_RIDGE = 1e-3


def _neighbour_sum(values: tf.Tensor) -> tf.Tensor:
    """Weighted sum of each pixel's neighbours inside the image, per channel."""
    channels = values.shape[-1]
    kernel = tf.tile(tf.constant(_STENCIL, values.dtype)[:, :, None, None], [1, 1, channels, 1])
    return tf.nn.depthwise_conv2d(values, kernel, [1, 1, 1, 1], "SAME")


def _dot(first: tf.Tensor, second: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(first * second, axis=[1, 2], keepdims=True)


def linear_imputation(images: tf.Tensor, removed: tf.Tensor, tolerance: float = 1e-5,
                      max_iterations: int = 1000) -> tf.Tensor:
    """Fill the removed pixels of `images` `(n, H, W, C)` so that each equals the weighted mean
    of its neighbours (known pixels stay fixed), per channel.

    The removed values solve the sparse symmetric system
    `(d_p + eps) x_p - sum_{q removed} w_pq x_q = sum_{q known} w_pq x_q + eps m` (`d_p` the sum
    of the in-image neighbour weights of `p`, `m` the mean of the image's known pixels, `eps`
    a small ridge that keeps holes without known neighbours solvable), with conjugate
    gradients preconditioned by the diagonal, batched over images and channels.

    Parameters
    ----------
    removed
        1 where a pixel is removed, 0 where it is known; broadcastable to `images`.
    tolerance
        Relative residual at which the solve stops.
    max_iterations
        Upper bound on the conjugate-gradient iterations.
    """
    removed = tf.broadcast_to(tf.cast(removed, images.dtype), tf.shape(images))
    known = 1.0 - removed
    diagonal = _neighbour_sum(tf.ones_like(images[:1])) + _RIDGE
    known_mean = tf.math.divide_no_nan(tf.reduce_sum(known * images, axis=[1, 2], keepdims=True),
                                       tf.reduce_sum(known, axis=[1, 2], keepdims=True))

    def apply(values):
        return removed * (diagonal * values - _neighbour_sum(values))

    rhs = removed * (_neighbour_sum(known * images) + _RIDGE * known_mean)
    solution = removed * known_mean
    residual = rhs - apply(solution)
    preconditioned = residual / diagonal
    direction = preconditioned
    rho = _dot(residual, preconditioned)
    threshold = tolerance ** 2 * tf.reduce_max(_dot(rhs, rhs))

    def unfinished(iteration, solution, residual, direction, rho):
        return tf.logical_and(iteration < max_iterations,
                              tf.reduce_max(_dot(residual, residual)) > threshold)

    def step(iteration, solution, residual, direction, rho):
        product = apply(direction)
        alpha = tf.math.divide_no_nan(rho, _dot(direction, product))
        solution = solution + alpha * direction
        residual = residual - alpha * product
        preconditioned = residual / diagonal
        new_rho = _dot(residual, preconditioned)
        direction = preconditioned + tf.math.divide_no_nan(new_rho, rho) * direction
        return iteration + 1, solution, residual, direction, new_rho

    _, solution, *_ = tf.while_loop(
        unfinished, step, (tf.constant(0), solution, residual, direction, rho)
    )
    return known * images + removed * solution


class ROAD(ExplanationMetric):
    """ROAD (RemOve And Debias): the mean score while a growing fraction of features is
    removed and re-imputed from its neighbours (noisy linear imputation), in the order of the
    explanation.

    With `order="morf"` (most relevant first) **lower is better** (the score falls fast); with
    `order="lerf"` (least relevant first) **higher is better** (the score holds). `evaluate`
    returns the area under the curve (trapezoid rule, normalised by the span of
    `percentages`), `detailed_evaluate` the curve.

    Ref. Rong et al., A Consistent and Efficient Evaluation Strategy for Attribution Methods
    (2022), https://arxiv.org/abs/2202.00449

    Parameters
    ----------
    percentages
        Fractions of the features removed at the points of the curve.
    order
        "morf" (most relevant first) or "lerf" (least relevant first).
    noise
        Standard deviation of the Gaussian noise added to the imputed values (input units).
    seed
        Keyword-only. Drawn once per metric; the noise does not depend on `batch_size`.
    verbose
        Keyword-only. Show a progress bar over the model evaluations.

    Notes
    -----
    Images remove whole pixels (all channels, ranked by the channel-averaged explanation) and
    impute each channel from the 8 neighbours (weights 1/6 direct, 1/12 diagonal, as in the
    paper). Time series remove single values and impute them from the previous and next time
    steps of the same feature. Tabular data has no neighbourhood and is refused. The linear
    system is solved on the device by preconditioned conjugate gradients (with a 1e-3 ridge
    towards the image mean so that holes with no known neighbour stay defined). The curve
    reports the operator score (e.g. the class probability with `activation="softmax"`)
    rather than the accuracy. A percentage `p` removes `floor(p * nb_features)` features
    (truncated, like the steps of Deletion and Insertion).
    """

    def __init__(self, model, inputs, targets=None, batch_size=64,
                 percentages=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), order="morf",
                 noise=0.01, operator=None, activation=None, *, seed=None, verbose=False,
                 strategy=None):
        self._setup(model, inputs, targets, batch_size, operator, activation, strategy=strategy)
        if modality(self.inputs) is Modality.TABULAR:
            raise ValueError("ROAD imputes removed features from their neighbours, which "
                             "tabular data (N, W) does not have. Received tabular inputs")
        self.percentages = np.asarray(percentages, dtype=np.float64).reshape(-1)
        if self.percentages.size == 0 or np.any((self.percentages < 0) | (self.percentages > 1)):
            raise ValueError("`percentages` must be fractions in [0, 1]. Received: "
                             f"percentages={percentages!r}")
        self.order = ensure_choice(order, "order", ("morf", "lerf"))
        self.noise = ensure_float(noise, "noise", minimum=0.0)
        self.seed = ensure_seed(seed)
        self.verbose = bool(verbose)
        shape = self.inputs.shape
        features = shape[1:-1] if modality(self.inputs) is Modality.IMAGES else shape[1:]
        nb_features = int(np.prod(features))
        # truncated like Deletion/Insertion's steps (the tolerance keeps 0.29 * 100 at 29)
        self._counts = np.floor(self.percentages * nb_features + 1e-9).astype(np.int32)
        self._max_iterations = 4 * int(sum(shape[1:3]))
        self._kernel = perturbed_scores_of(
            self._scored_model, self.operator, self.percentages.size, self._removed_and_imputed,
            Collect(self.percentages.size), values_of=lambda scores, *unused: scores,
        )

    def _removed_and_imputed(self, pair_inputs, sample_index, first_pair, seed, positions):
        counts = tf.gather(tf.constant(self._counts), sample_index)
        removed = tf.cast(positions < tf.reshape(counts, [-1] + [1] * (positions.shape.rank - 1)),
                          pair_inputs.dtype)
        noise = pair_normal(seed, first_pair, tf.shape(pair_inputs)[0], pair_inputs.shape[1:])
        if pair_inputs.shape.rank == 3:  # time series (n, T, W) as (n, T, 1, W) images
            images, removed = pair_inputs[:, :, None, :], removed[:, :, None, :]
        else:
            images, removed = pair_inputs, removed[..., None]
        imputed = linear_imputation(images, removed, max_iterations=self._max_iterations)
        imputed = tf.reshape(imputed, tf.shape(pair_inputs))
        spread = tf.reshape(tf.broadcast_to(removed, tf.shape(images)), tf.shape(pair_inputs))
        return imputed + self.noise * noise * spread, None

    def _curves(self, explanations) -> np.ndarray:
        positions = rank_positions(self._feature_maps(explanations),
                                   descending=self.order == "morf")
        nb_samples = self.percentages.size
        return reduce_perturbed(
            self._kernel, [self.inputs, self.targets, positions], nb_samples, self.batch_size,
            Collect(nb_samples), extras=(tf.constant(self.seed, tf.int64),),
            inputs_per_block=inputs_per_block(nb_samples, self.batch_size),
            verbose=self.verbose, description="ROAD",
        ).numpy()

    def detailed_evaluate(self, explanations) -> Dict[float, float]:
        """The curve: `{fraction removed: mean score over the inputs}`."""
        curve = self._curves(explanations).mean(axis=0)
        return {float(p): float(s) for p, s in zip(self.percentages, curve)}

    def evaluate(self, explanations) -> float:
        """Area under the mean curve, normalised by the span of `percentages`."""
        curve = self._curves(explanations).mean(axis=0)
        if curve.size == 1 or self.percentages[-1] == self.percentages[0]:
            return float(curve.mean())
        areas = (curve[1:] + curve[:-1]) / 2.0 * np.diff(self.percentages)
        return float(areas.sum() / (self.percentages[-1] - self.percentages[0]))
