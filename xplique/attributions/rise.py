"""RISE: Randomized Input Sampling for Explanation."""

import tensorflow as tf

from xplique.attributions.base import BlackBoxExplainer
from xplique.commons.masks import (
    broadcast_to_input,
    cell_shape,
    check_grid_fits,
    rise_grid_shape,
    rise_masks,
)
from xplique.commons.model_adapters import black_box_model
from xplique.commons.perturbation import perturbed_scores_of, reduce_perturbed
from xplique.commons.random import pair_uniform
from xplique.commons.statistics import Sum
from xplique.commons.validation import ensure_float, ensure_positive_int, ensure_seed

_EPSILON = 1e-4


def _weighted_masks_and_coverage(pair_scores, masks):
    """Per pair: the score-weighted mask and the mask itself, stacked on a last axis."""
    weights = tf.reshape(pair_scores, [-1] + [1] * (masks.shape.rank - 1))
    return tf.stack([weights * masks, masks], axis=-1)


def _ensure_grid_size(grid_size):
    """An int, or a pair of positive ints (returned as a tuple)."""
    if isinstance(grid_size, (tuple, list)):
        if len(grid_size) != 2:
            raise ValueError(
                f"`grid_size` must be a positive int or a pair of ints. Received: "
                f"grid_size={grid_size!r}"
            )
        return tuple(ensure_positive_int(g, "grid_size") for g in grid_size)
    return ensure_positive_int(grid_size, "grid_size")


class Rise(BlackBoxExplainer):
    """RISE: the score of randomly masked inputs, averaged over the masks that keep each cell.

    `nb_samples` low-resolution binary grids (cells kept with probability
    `preservation_probability`) are bilinearly upsampled and randomly shifted into smooth masks
    `M`; the input is shown as `M x + (1 - M) mask_value` and the saliency of a cell is
    `sum_k g(x_k) M_k / sum_k M_k`. Grids are `(g, g)` over images, `(g, W)` over time series
    (a grid over time for every feature), and the features themselves for tabular rows.

    Ref. Petsiuk et al., RISE: Randomized Input Sampling for Explanation of Black-box Models
    (2018), https://arxiv.org/abs/1806.07421

    Parameters
    ----------
    nb_samples
        Masks per input.
    grid_size
        Cells of the low-resolution grid: an int (per side) or a pair `(rows, columns)` for
        images; cells along the time axis for time series (the first of a pair); unused for
        tabular data. A grid larger than the input raises a ValueError.
    preservation_probability
        Probability that a grid cell is kept.
    mask_value
        Value shown where the mask hides the input.

    Notes
    -----
    The paper divides the weighted sum by `nb_samples * p`; here (as in Xplique) it is divided
    by each cell's total mask coverage `sum_k M_k` (+1e-4), which has the same expectation and
    less variance. Each input gets its own masks (the paper shares one set across inputs); they
    are drawn on the device per batch, so memory does not grow with `nb_samples`.
    """

    def __init__(self, model, batch_size=32, operator=None, nb_samples=4000, grid_size=7,
                 preservation_probability=0.5, mask_value=0.0, *, seed=None, verbose=False,
                 strategy=None):
        self._setup(black_box_model(model), batch_size, operator, strategy=strategy)
        self.model = model
        self.nb_samples = ensure_positive_int(nb_samples, "nb_samples")
        self.grid_size = _ensure_grid_size(grid_size)
        self.preservation_probability = ensure_float(
            preservation_probability, "preservation_probability", minimum=0.0
        )
        if self.preservation_probability > 1.0:
            raise ValueError(
                "`preservation_probability` must lie in [0, 1]. Received: "
                f"preservation_probability={preservation_probability!r}"
            )
        self.mask_value = ensure_float(mask_value, "mask_value")
        self.seed = seed
        ensure_seed(seed)
        self.verbose = bool(verbose)
        self._masked_scores = perturbed_scores_of(
            self._scored_model, self.operator, self.nb_samples, self._mask, Sum(),
            values_of=_weighted_masks_and_coverage,
        )

    def _mask(self, pair_inputs, sample_index, first_pair, seed):
        input_shape = pair_inputs.shape[1:]
        nb_pairs = tf.shape(pair_inputs)[0]
        grid_noise = pair_uniform(seed, first_pair, nb_pairs,
                                  rise_grid_shape(input_shape, self.grid_size), stream=0)
        shift_noise = pair_uniform(seed, first_pair, nb_pairs, (2,), stream=1)
        masks = rise_masks(grid_noise, shift_noise, input_shape, self.preservation_probability)
        expanded = broadcast_to_input(masks, pair_inputs.shape.rank)
        return pair_inputs * expanded + (1.0 - expanded) * self.mask_value, masks

    def _explain_group(self, inputs, targets, first_input):
        input_shape = inputs.shape[1:]
        grid = rise_grid_shape(input_shape, self.grid_size)
        if len(input_shape) > 1:  # tabular rows have no grid
            check_grid_fits(grid[:1] if len(input_shape) == 2 else grid, cell_shape(input_shape))
        seed = tf.constant(ensure_seed(self.seed), tf.int64)
        sums = reduce_perturbed(
            self._masked_scores, [inputs, targets], self.nb_samples, self.batch_size, Sum(),
            first_input=first_input, extras=(seed,), verbose=self.verbose, description="Rise",
        )
        saliency = sums[..., 0] / (sums[..., 1] + _EPSILON)
        return broadcast_to_input(saliency, inputs.shape.rank)
