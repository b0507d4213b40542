"""Integrated Gradients."""

import tensorflow as tf

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.all_targets import sampled_target_gradients_of
from xplique.commons.batching import reduce_over_samples
from xplique.commons.gradients import sampled_gradients_of
from xplique.commons.statistics import Sum
from xplique.commons.validation import ensure_float, ensure_positive_int


class IntegratedGradients(WhiteBoxExplainer):
    """Integrated Gradients: the path integral of the gradients along the straight line from a
    constant baseline to the input, times `(x - baseline)`.

    `IG(x) = (x - x0) * integral_0^1 grad g(x0 + a (x - x0)) da`, approximated with the
    trapezoidal rule over `steps` evenly spaced points including both ends. It satisfies
    completeness: the attributions sum to `g(x) - g(x0)` up to the quadrature error.

    Ref. Sundararajan et al., Axiomatic Attribution for Deep Networks (2017),
    https://arxiv.org/abs/1703.01365

    Parameters
    ----------
    steps
        Points on the path (>= 2), both ends included.
    baseline_value
        Constant value of the baseline `x0`.

    Notes
    -----
    `batch_size` bounds the interpolated samples evaluated at once: `N * steps` gradient
    evaluations take exactly `ceil(N * steps / batch_size)` passes, and memory does not grow
    with `steps`.
    """

    def __init__(self, model, output_layer=None, batch_size=32, operator=None, reducer="mean",
                 steps=50, baseline_value=0.0, *, strategy=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer, strategy=strategy)
        self.steps = ensure_positive_int(steps, "steps", minimum=2)
        self.baseline_value = ensure_float(baseline_value, "baseline_value")
        self._path_gradients = sampled_gradients_of(
            self._scored_model, self.operator, self.steps, self._path_points, Sum()
        )
        self._path_target_gradients = sampled_target_gradients_of(
            self._scored_model, self.steps, self._path_points, Sum()
        )

    def _path_points(self, inputs, step, first_pair, seed):
        alpha = tf.cast(step, inputs.dtype) / float(self.steps - 1)
        alpha = tf.reshape(alpha, [-1] + [1] * (inputs.shape.rank - 1))
        samples = self.baseline_value + alpha * (inputs - self.baseline_value)
        # Trapezoidal weights: the two ends count half.
        ends = tf.logical_or(tf.equal(step, 0), tf.equal(step, self.steps - 1))
        weights = tf.where(ends, 0.5, 1.0) / float(self.steps - 1)
        return samples, tf.reshape(weights, tf.shape(alpha))

    def _explain_group(self, inputs, targets, first_input):
        mean_gradients = reduce_over_samples(
            self._path_gradients, [inputs, targets], self.steps, self.batch_size, Sum(),
            first_pair=first_input * self.steps, extras=(tf.constant(0, tf.int64),),
        )
        return mean_gradients * (inputs - self.baseline_value)

    _top_k_in_kernel = False  # the top classes are those of the inputs, not of path points

    def _explain_group_targets(self, inputs, indices, first_input):
        mean_gradients = reduce_over_samples(
            self._path_target_gradients, [inputs, indices], self.steps, self.batch_size, Sum(),
            first_pair=first_input * self.steps, extras=(tf.constant(0, tf.int64),),
        )
        return mean_gradients * (inputs - self.baseline_value)[:, None]
