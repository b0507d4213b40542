"""Occlusion sensitivity."""

import math

import tensorflow as tf

from xplique.attributions.base import BlackBoxExplainer
from xplique.commons.batching import batched
from xplique.commons.masks import broadcast_to_input, cell_shape, patch_layout, patch_masks
from xplique.commons.model_adapters import black_box_model
from xplique.commons.perturbation import perturbed_scores_of, reduce_perturbed, samples_for
from xplique.commons.statistics import Sum
from xplique.commons.validation import ensure_float, ensure_positive_int


def _ensure_sizes(value, name):
    """An int, or a tuple of 1 or 2 positive ints, as a tuple."""
    values = value if isinstance(value, (tuple, list)) else (value,)
    if not 1 <= len(values) <= 2:
        raise ValueError(f"`{name}` must be an int or a pair of ints. Received: {name}={value!r}")
    return tuple(ensure_positive_int(v, name) for v in values)


def _as_pair(sizes):
    """An int given as `(s,)` is stored as `(s, s)`, as Xplique stores it."""
    return sizes * 2 if len(sizes) == 1 else sizes


def _score_drops(pair_scores, masks, base_scores):
    """(score of the input - score with the patch occluded), spread over the patch."""
    drops = base_scores - pair_scores
    return tf.reshape(drops, [-1] + [1] * (masks.shape.rank - 1)) * masks


class Occlusion(BlackBoxExplainer):
    """Occlusion sensitivity: how much the score drops when a patch of the input is hidden.

    A patch of `patch_size` slides over the input with `patch_stride`; each position is set to
    `occlusion_value`, and every cell of the patch receives the score drop
    `g(x) - g(x with the patch occluded)`. Cells covered by several patches add their drops.
    Patches cover `(H, W)` for images (all channels at once), `(T, W)` for time series and the
    features of tabular rows.

    Ref. Zeiler & Fergus, Visualizing and Understanding Convolutional Networks (2014),
    https://arxiv.org/abs/1311.2901

    Parameters
    ----------
    patch_size
        Size of the patch: an int, or a pair `(height, width)` for images and time series. An
        int `s` is stored as `(s, s)` (as in Xplique) and covers `s` features of a tabular row.
        A patch larger than the input raises a ValueError.
    patch_stride
        Step between patch positions (int or pair, like `patch_size`).
    occlusion_value
        Value written into the occluded patch.

    Notes
    -----
    Anchors are `0, stride, ...` while the patch fits, so with a stride that does not divide
    the size, the last cells may be covered by no patch (their attribution is 0), as in Xplique.
    Each input costs one evaluation per patch,
    plus one for its unoccluded score; patches of several inputs share batches.
    """

    def __init__(self, model, batch_size=32, operator=None, patch_size=3, patch_stride=3,
                 occlusion_value=0.0, *, verbose=False, strategy=None):
        self._setup(black_box_model(model), batch_size, operator, strategy=strategy)
        self.model = model
        # What the layout reads (an int given as `(s,)` applies to every axis); the public
        # attributes hold Xplique's values, `(s, s)` for an int.
        self._sizes = _ensure_sizes(patch_size, "patch_size")
        self._strides = _ensure_sizes(patch_stride, "patch_stride")
        self.patch_size = _as_pair(self._sizes)
        self.patch_stride = _as_pair(self._strides)
        self.occlusion_value = ensure_float(occlusion_value, "occlusion_value")
        self.verbose = bool(verbose)
        self._occluded = perturbed_scores_of(
            self._scored_model, self.operator, self._nb_patches, self._occlude, Sum(),
            values_of=_score_drops,
        )

    def _layout(self, input_shape):
        cells = cell_shape(input_shape)
        sizes, strides = self._sizes, self._strides
        for name, value in (("patch_size", sizes), ("patch_stride", strides)):
            if len(value) == 2 and len(cells) == 1:
                raise ValueError(
                    f"`{name}` must be an int for tabular inputs. Received: {name}={value!r}"
                )
        sizes = sizes * len(cells) if len(sizes) == 1 else sizes
        strides = strides * len(cells) if len(strides) == 1 else strides
        if any(size > cell for size, cell in zip(sizes, cells)):
            raise ValueError(
                f"`patch_size` must fit in the input, whose cells are {cells}. Received: "
                f"patch_size={sizes if len(sizes) > 1 else sizes[0]}"
            )
        return (cells,) + patch_layout(cells, sizes, strides)

    def _nb_patches(self, input_shape):
        _, _, _, counts = self._layout(input_shape)
        return math.prod(counts)

    def _occlude(self, pair_inputs, sample_index, first_pair, base_scores):
        masks = patch_masks(sample_index, *self._layout(pair_inputs.shape[1:]))
        expanded = broadcast_to_input(masks, pair_inputs.shape.rank)
        occluded = pair_inputs * (1.0 - expanded) + expanded * self.occlusion_value
        return occluded, masks

    def _explain_group(self, inputs, targets, first_input):
        nb_patches = samples_for(self._nb_patches, inputs.shape[1:])
        base_scores = batched(self._predictions, [inputs, targets], self.batch_size)
        sensitivity = reduce_perturbed(
            self._occluded, [inputs, targets, tf.cast(base_scores, tf.float32)], nb_patches,
            self.batch_size, Sum(), first_input=first_input, verbose=self.verbose,
            description="Occlusion",
        )
        return broadcast_to_input(sensitivity, inputs.shape.rank)
