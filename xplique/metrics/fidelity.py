"""Fidelity metrics: does perturbing what the explanation calls relevant change the score?

Every metric here runs on the shared perturbation kernel
(:func:`xplique.commons.perturbation.perturbed_scores_of`): the perturbed copies of a chunk of
`batch_size` (input, sample) pairs are built inside the compiled kernel from small per-input
tensors (the feature ranking, the explanation map, the baseline), never as a copy of the
dataset per step.
"""

from typing import Dict

import numpy as np
import tensorflow as tf

from xplique.commons.perturbation import inputs_per_block, perturbed_scores_of, reduce_perturbed
from xplique.commons.random import pair_uniform
from xplique.commons.shapes import Modality, modality
from xplique.commons.statistics import Collect
from xplique.commons.validation import (
    ensure_float,
    ensure_optional_positive_int,
    ensure_positive_int,
    ensure_seed,
)

# Xplique's docs import the Average* metrics from this module: re-exported here.
from xplique.metrics.average import (  # noqa: F401  pylint: disable=unused-import
    AverageDropMetric,
    AverageGainMetric,
    AverageIncreaseMetric,
)
from xplique.metrics.base import ExplanationMetric, spread_over_inputs
from xplique.metrics.similarity import spearman_rows

__all__ = [
    "MuFidelity",
    "CausalFidelity",
    "Deletion",
    "Insertion",
    "AverageDropMetric",
    "AverageIncreaseMetric",
    "AverageGainMetric",
]


def baselines_of(baseline_mode, inputs: tf.Tensor) -> tf.Tensor:
    """Per-input baselines: a float gives `(N, 1, ..., 1)` (broadcast), a callable
    `baseline_mode(inputs)` gives `(N, ...)`."""
    if callable(baseline_mode):
        baselines = tf.cast(tf.convert_to_tensor(baseline_mode(inputs)), tf.float32)
        if tuple(baselines.shape) != tuple(inputs.shape):
            raise ValueError(
                "`baseline_mode` as a callable must return baselines of the inputs' shape "
                f"{tuple(inputs.shape)}. Received shape {tuple(baselines.shape)}"
            )
        return baselines
    value = ensure_float(baseline_mode, "baseline_mode")
    return tf.fill([inputs.shape[0]] + [1] * (inputs.shape.rank - 1), value)


def rank_positions(maps: tf.Tensor, descending: bool = True) -> tf.Tensor:
    """Position of each feature in its map's ranking `(N, *feature_shape)`, int32: 0 for the
    most relevant feature when `descending` (ties broken by feature index)."""
    flat = tf.reshape(maps, [maps.shape[0], -1])
    order = tf.argsort(-flat if descending else flat, axis=-1, stable=True)
    positions = tf.argsort(order, axis=-1, stable=True)
    return tf.reshape(tf.cast(positions, tf.int32), tf.shape(maps))


def trapezoid_mean(values: np.ndarray) -> float:
    """Area under a curve sampled at equally spaced points, over a unit-length axis."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 1:
        return float(values[0])
    return float(np.mean((values[1:] + values[:-1]) / 2.0))


class MuFidelity(ExplanationMetric):
    """MuFidelity: the correlation, over random subsets of features, between the sum of the
    attributions of a subset and the score drop when that subset is set to the baseline.

    For `nb_samples` subsets `S` per input, `a_S = sum_{i in S} phi_i` and
    `d_S = f(x) - f(x_[x_S = x0])`; the score of an input is `corr(a_S, d_S)`, averaged over
    the inputs. It lies in [-1, 1]. **Higher is better.**

    Ref. Bhatt et al., Evaluating and Aggregating Feature-based Model Explanations (2020),
    https://arxiv.org/abs/2005.00631

    Parameters
    ----------
    grid_size
        Subsets are drawn on a coarse grid and upsampled (nearest): `grid_size x grid_size`
        cells for images, `grid_size` time blocks per feature for time series. None draws
        single pixels/time steps. Tabular features are always drawn one by one.
    subset_percent
        Probability for each cell to be in the subset (set to the baseline).
    baseline_mode
        Value of the removed features: a float, or `baseline_mode(inputs) -> baselines`.
    nb_samples
        Subsets per input.
    seed
        Keyword-only. Drawn once per metric, so every explanation evaluated by one metric sees
        the same subsets; the subsets do not depend on `batch_size`.
    verbose
        Keyword-only. Show a progress bar over the model evaluations.

    Notes
    -----
    The correlation is Spearman's rank correlation (as in Xplique; the paper uses Pearson's),
    and an input whose attribution sums or drops are constant scores 0. All channels of a
    pixel are removed together.
    """

    def __init__(self, model, inputs, targets=None, batch_size=64, grid_size=9,
                 subset_percent=0.2, baseline_mode=0.0, nb_samples=200, operator=None,
                 activation=None, *, seed=None, verbose=False, strategy=None):
        self._setup(model, inputs, targets, batch_size, operator, activation, strategy=strategy)
        self.grid_size = ensure_optional_positive_int(grid_size, "grid_size")
        self.subset_percent = ensure_float(subset_percent, "subset_percent", minimum=0.0)
        if self.subset_percent > 1.0:
            raise ValueError("`subset_percent` must lie in [0, 1]. Received: "
                             f"subset_percent={subset_percent!r}")
        self.baseline_mode = baseline_mode
        self.nb_samples = ensure_positive_int(nb_samples, "nb_samples", minimum=2)
        self.seed = ensure_seed(seed)
        self.verbose = bool(verbose)
        self._baselines = baselines_of(baseline_mode, self.inputs)
        self._base_scores = self._scores(self.inputs, self.targets)
        self._kernel = perturbed_scores_of(
            self._scored_model, self.operator, self.nb_samples, self._subset_removed,
            Collect(self.nb_samples), values_of=_attribution_and_drop,
        )

    def _grid_shape(self):
        features = self.inputs.shape[1:-1] if modality(self.inputs) is Modality.IMAGES \
            else self.inputs.shape[1:]
        features = tuple(int(size) for size in features)
        if self.grid_size is None or modality(self.inputs) is Modality.TABULAR:
            return features, features
        if modality(self.inputs) is Modality.IMAGES:
            return (self.grid_size, self.grid_size), features
        return (self.grid_size, features[1]), features

    def _subset_removed(self, pair_inputs, sample_index, first_pair, seed, maps, baselines,
                        base_scores):
        grid, features = self._grid_shape()
        draws = pair_uniform(seed, first_pair, tf.shape(pair_inputs)[0], grid)
        removed = tf.cast(draws < self.subset_percent, tf.float32)
        if grid != features:
            removed = tf.image.resize(removed[..., None], features[:2], method="nearest")[..., 0]
        spread = spread_over_inputs(removed, pair_inputs.shape.rank)
        perturbed = pair_inputs * (1.0 - spread) + baselines * spread
        return perturbed, removed

    def evaluate(self, explanations) -> float:
        """Mean MuFidelity correlation of `explanations` over the inputs."""
        return float(np.mean(self.detailed_evaluate(explanations)))

    def detailed_evaluate(self, explanations) -> np.ndarray:
        """MuFidelity correlation of each input, `(N,)`."""
        maps = self._feature_maps(explanations)
        per_input = reduce_perturbed(
            self._kernel, [self.inputs, self.targets, maps, self._baselines, self._base_scores],
            self.nb_samples, self.batch_size, Collect(self.nb_samples),
            extras=(tf.constant(self.seed, tf.int64),), finish=_correlation,
            inputs_per_block=inputs_per_block(self.nb_samples, self.batch_size, 2),
            verbose=self.verbose, description="MuFidelity",
        )
        return per_input.numpy()


def _attribution_and_drop(scores, removed, maps, baselines, base_scores):
    attribution = tf.reduce_sum(tf.reshape(maps * removed, [tf.shape(maps)[0], -1]), axis=-1)
    return tf.stack([attribution, base_scores - scores], axis=-1)


def _correlation(collected, *block_tensors):
    return spearman_rows(collected[..., 0], collected[..., 1])


class CausalFidelity(ExplanationMetric):
    """Base of Deletion and Insertion: the score along a path that flips features in the
    order of decreasing attribution. Concrete metrics only choose the direction."""

    inserting: bool

    def __init__(self, model, inputs, targets=None, batch_size=64, baseline_mode=0.0, steps=10,
                 max_percentage_perturbed=1.0, operator=None, activation=None, *,
                 verbose=False, strategy=None):
        self._setup(model, inputs, targets, batch_size, operator, activation, strategy=strategy)
        self.baseline_mode = baseline_mode
        self.max_percentage_perturbed = ensure_float(
            max_percentage_perturbed, "max_percentage_perturbed", minimum=0.0)
        if self.max_percentage_perturbed > 1.0:
            raise ValueError("`max_percentage_perturbed` must lie in [0, 1]. Received: "
                             f"max_percentage_perturbed={max_percentage_perturbed!r}")
        self.verbose = bool(verbose)
        features = self.inputs.shape[1:-1] if modality(self.inputs) is Modality.IMAGES \
            else self.inputs.shape[1:]
        self.nb_features = int(np.prod(features))
        flipped = int(self.max_percentage_perturbed * self.nb_features)
        if steps == -1:
            steps = max(flipped, 1)
        self.steps = ensure_positive_int(steps, "steps")
        # features flipped at each step, truncated as in Xplique (rounding would move scores)
        self._counts = np.linspace(0, flipped, self.steps + 1, dtype=np.int32)
        self._baselines = baselines_of(baseline_mode, self.inputs)
        self._kernel = perturbed_scores_of(
            self._scored_model, self.operator, self.steps + 1, self._flipped,
            Collect(self.steps + 1), values_of=lambda scores, *unused: scores,
        )

    def _flipped(self, pair_inputs, sample_index, first_pair, positions, baselines):
        counts = tf.gather(tf.constant(self._counts), sample_index)
        counts = tf.reshape(counts, [-1] + [1] * (positions.shape.rank - 1))
        top = spread_over_inputs(tf.cast(positions < counts, tf.float32), pair_inputs.shape.rank)
        if self.inserting:  # the top features come from the input, the rest from the baseline
            return baselines + top * (pair_inputs - baselines), None
        return pair_inputs + top * (baselines - pair_inputs), None

    def detailed_evaluate(self, explanations) -> Dict[int, float]:
        """The curve: `{number of features flipped: mean score over the inputs}` (Xplique's
        keys)."""
        curves = self._curves(explanations)
        return {int(count): float(s) for count, s in zip(self._counts, curves.mean(axis=0))}

    def evaluate(self, explanations) -> float:
        """Area under the mean curve (trapezoid rule over equally spaced steps)."""
        return trapezoid_mean(self._curves(explanations).mean(axis=0))

    def _curves(self, explanations) -> np.ndarray:
        positions = rank_positions(self._feature_maps(explanations))
        nb_samples = self.steps + 1
        curves = reduce_perturbed(
            self._kernel, [self.inputs, self.targets, positions, self._baselines], nb_samples,
            self.batch_size, Collect(nb_samples),
            inputs_per_block=inputs_per_block(nb_samples, self.batch_size),
            verbose=self.verbose, description=type(self).__name__,
        )
        return curves.numpy()


class Deletion(CausalFidelity):
    """Deletion: the mean score while the most relevant features are replaced by the baseline,
    from none to `max_percentage_perturbed` of them in `steps` steps; the metric is the area
    under that curve. **Lower is better** (the score falls fast when the features the
    explanation ranks first are removed).

    Ref. Petsiuk et al., RISE: Randomized Input Sampling for Explanation of Black-box Models
    (2018), https://arxiv.org/abs/1806.07421

    Parameters
    ----------
    baseline_mode
        Value of the removed features: a float, or `baseline_mode(inputs) -> baselines`.
    steps
        Steps of the curve (it has `steps + 1` points, the first one unperturbed); -1 flips
        one feature per step.
    max_percentage_perturbed
        Fraction of the features flipped at the last step.
    verbose
        Keyword-only. Show a progress bar over the model evaluations.

    Notes
    -----
    Features are ranked by the signed attribution (channels averaged for images, whose
    channels are flipped together). Step `s` flips
    `np.linspace(0, int(max_percentage_perturbed * nb_features), steps + 1, dtype=int32)[s]`
    features (truncated, as in Xplique). `detailed_evaluate` returns the curve keyed by that
    number of features flipped, as Xplique's.
    """

    inserting = False


class Insertion(CausalFidelity):
    """Insertion: the mean score while the most relevant features are put back into the
    baseline, from none to `max_percentage_perturbed` of them in `steps` steps; the metric is
    the area under that curve. **Higher is better** (the score rises fast when the features
    the explanation ranks first are inserted).

    Ref. Petsiuk et al., RISE: Randomized Input Sampling for Explanation of Black-box Models
    (2018), https://arxiv.org/abs/1806.07421

    Parameters are those of :class:`Deletion`.
    """

    inserting = True
