"""Average Drop, Average Increase and Average Gain: the score of the input masked by its own
explanation, compared with the score of the input.

One preset per formula over one mechanism: the explanation is turned into a soft mask
`M = (|phi| - min) / (max - min)` per input (channels averaged for images), the model scores
`x * M` through the shared perturbation kernel (one perturbed copy per input, `batch_size` per
pass), and the per-input formula compares that score `after` with the unmasked `base` score.
The formulas read scores as probabilities: use `activation="softmax"` (or "sigmoid") for a
model returning logits.
"""

import abc

import numpy as np
import tensorflow as tf

from xplique.commons.perturbation import perturbed_scores_of, reduce_perturbed
from xplique.commons.statistics import Sum
from xplique.metrics.base import ExplanationMetric, spread_over_inputs

_EPSILON = 1e-8


def _unit_masks(maps: tf.Tensor) -> tf.Tensor:
    """Per-input min-max normalised |maps| (a constant map gives zeros)."""
    magnitude = tf.abs(maps)
    axes = list(range(1, maps.shape.rank))
    low = tf.reduce_min(magnitude, axis=axes, keepdims=True)
    high = tf.reduce_max(magnitude, axis=axes, keepdims=True)
    return tf.math.divide_no_nan(magnitude - low, high - low)


class BaseAverageXMetric(ExplanationMetric):
    """Base of the Average Drop/Increase/Gain metrics; presets define `_formula`."""

    def __init__(self, model, inputs, targets=None, batch_size=64, operator=None,
                 activation=None, *, strategy=None):
        self._setup(model, inputs, targets, batch_size, operator, activation, strategy=strategy)
        self._base_scores = self._scores(self.inputs, self.targets)
        self._kernel = perturbed_scores_of(
            self._scored_model, self.operator, 1, _masked_by_explanation, Sum(),
            values_of=lambda scores, *unused: scores,
        )

    @abc.abstractmethod
    def _formula(self, base: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Per-input value from the unmasked and masked scores."""

    def detailed_evaluate(self, explanations) -> np.ndarray:
        """The metric's value for each input, `(N,)`."""
        masks = _unit_masks(self._feature_maps(explanations))
        after = reduce_perturbed(self._kernel, [self.inputs, self.targets, masks], 1,
                                 self.batch_size, Sum())
        return self._formula(self._base_scores.numpy().astype(np.float64),
                             after.numpy().astype(np.float64))

    def evaluate(self, explanations) -> float:
        """Mean of :meth:`detailed_evaluate` over the inputs."""
        return float(np.mean(self.detailed_evaluate(explanations)))


def _masked_by_explanation(pair_inputs, sample_index, first_pair, masks):
    return pair_inputs * spread_over_inputs(masks, pair_inputs.shape.rank), None


class AverageDropMetric(BaseAverageXMetric):
    """Average Drop: the relative score lost when the input is masked by its explanation,
    `mean(max(0, base - after) / base)`. **Lower is better.**

    Ref. Chattopadhyay et al., Grad-CAM++: Improved Visual Explanations for Deep Convolutional
    Networks (2018), https://arxiv.org/abs/1710.11063

    Notes
    -----
    Returned as a fraction (the paper reports percentages).
    """

    def _formula(self, base, after):
        return np.maximum(base - after, 0.0) / (base + _EPSILON)


class AverageIncreaseMetric(BaseAverageXMetric):
    """Average Increase (increase in confidence): the share of inputs whose score rises when
    masked by their explanation, `mean(1[after > base])`. **Higher is better.**

    Ref. Chattopadhyay et al., Grad-CAM++: Improved Visual Explanations for Deep Convolutional
    Networks (2018), https://arxiv.org/abs/1710.11063
    """

    def _formula(self, base, after):
        return (after > base).astype(np.float64)


class AverageGainMetric(BaseAverageXMetric):
    """Average Gain: the relative score gained when the input is masked by its explanation,
    `mean(max(0, after - base) / (1 - base))`. **Higher is better.**

    Ref. Zhang et al., Opti-CAM: Optimizing saliency maps for interpretability (2024),
    https://arxiv.org/abs/2301.07002
    """

    def _formula(self, base, after):
        return np.maximum(after - base, 0.0) / (1.0 - base + _EPSILON)
