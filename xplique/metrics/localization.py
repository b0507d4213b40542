"""Localisation metrics: does the explanation point at the ground-truth region?

Both metrics compare explanation maps with binary ground-truth masks, one per input, of the
map's shape: images `(N, H, W)` (or `(N, H, W, 1)`), time series `(N, T, W)`, tabular `(N, W)`.
Image explanations may keep channels (they are averaged).
"""

import abc

import numpy as np
import tensorflow as tf

from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.data import to_tensor
from xplique.commons.distribution import Distributed, Rows, ensure_strategy
from xplique.commons.validation import ensure_batch_size, ensure_float


class BaseLocalizationMetric(Distributed, abc.ABC):
    """Base of the metrics scoring explanations against ground-truth masks `(N, ...)`.

    The keyword-only `strategy` of every subclass is that of
    :class:`~xplique.metrics.base.BaseAttributionMetric`.
    """

    distributed_methods = ("__init__", "evaluate", "detailed_evaluate")

    def _setup(self, masks, batch_size, strategy=None):
        self.strategy = ensure_strategy(strategy)
        masks = to_tensor(masks, "masks")
        if masks.shape.rank == 4 and masks.shape[-1] == 1:
            masks = masks[..., 0]
        if not 2 <= masks.shape.rank <= 3:
            raise ValueError(
                "`masks` must have shape (N, H, W), (N, H, W, 1), (N, T, W) or (N, W). "
                f"Received: masks.shape={tuple(masks.shape)}"
            )
        self.masks = tf.cast(masks > 0, tf.float32)
        self.batch_size = ensure_batch_size(batch_size)
        self._kernel = Compiled(self._per_map, split=Rows())

    @abc.abstractmethod
    def _per_map(self, maps: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        """Score of each map `(n, ...)` against its mask (compiled)."""

    def _maps(self, explanations) -> tf.Tensor:
        explanations = to_tensor(explanations, "explanations")
        shape, mask_shape = tuple(explanations.shape), tuple(self.masks.shape)
        if shape == mask_shape:
            return explanations
        if len(shape) == len(mask_shape) + 1 and shape[:-1] == mask_shape:
            return tf.reduce_mean(explanations, axis=-1)
        raise ValueError(
            f"`explanations` must have the masks' shape {mask_shape} (plus a channel axis for "
            f"images). Received: explanations.shape={shape}"
        )

    def detailed_evaluate(self, explanations) -> np.ndarray:
        """One score per explanation, `(N,)`."""
        maps = self._maps(explanations)
        return batched(self._kernel, [maps, self.masks], self.batch_size).numpy()

    def evaluate(self, explanations) -> float:
        """Mean of :meth:`detailed_evaluate`."""
        return float(np.mean(self.detailed_evaluate(explanations)))

    def __call__(self, explanations) -> float:
        """Alias of :meth:`evaluate`."""
        return self.evaluate(explanations)


class PointingGame(BaseLocalizationMetric):
    """Pointing game: a hit when the explanation's maximum falls on the ground-truth region.

    The score of a map is 1 when its (first) maximal feature lies within `tolerance` (Euclidean
    distance, in features/pixels) of a mask feature, else 0; the metric is the hit rate.
    **Higher is better.**

    Ref. Zhang et al., Top-down Neural Attention by Excitation Backprop (2016),
    https://arxiv.org/abs/1608.00507

    Parameters
    ----------
    masks
        Ground-truth masks, one per input (nonzero inside the region).
    tolerance
        Distance from the region within which the maximum still counts as a hit (the paper
        uses 15 pixels on full-size images).
    batch_size
        Maps processed per compiled call.
    """

    def __init__(self, masks, tolerance=0.0, batch_size=64, *, strategy=None):
        self._setup(masks, batch_size, strategy)
        self.tolerance = ensure_float(tolerance, "tolerance", minimum=0.0)

    def _per_map(self, maps, masks):
        flat = tf.reshape(maps, [tf.shape(maps)[0], -1])
        spatial = maps.shape[1:]
        grid = tf.stack(tf.meshgrid(*[tf.range(size) for size in spatial], indexing="ij"), -1)
        grid = tf.cast(tf.reshape(grid, [-1, len(spatial)]), tf.float32)  # (D, rank)
        peak = tf.gather(grid, tf.argmax(flat, axis=-1))  # (n, rank)
        squared = tf.reduce_sum(tf.square(grid[None] - peak[:, None]), axis=-1)  # (n, D)
        inside = tf.reshape(masks, tf.shape(flat)) > 0
        nearest = tf.reduce_min(tf.where(inside, squared, np.inf), axis=-1)
        return tf.cast(nearest <= self.tolerance ** 2, tf.float32)


class RelevanceMass(BaseLocalizationMetric):
    """Relevance mass accuracy: the share of the positive relevance that lies inside the
    ground-truth region, `sum_{i in mask} phi_i^+ / sum_i phi_i^+`.

    It ranges from 0 to 1 (a map with no positive relevance scores 0). **Higher is better.**

    Ref. Arras et al., CLEVR-XAI: A benchmark dataset for the ground truth evaluation of neural
    network explanations (2022), https://doi.org/10.1016/j.inffus.2021.11.008

    Parameters
    ----------
    masks
        Ground-truth masks, one per input (nonzero inside the region).
    batch_size
        Maps processed per compiled call.
    """

    def __init__(self, masks, batch_size=64, *, strategy=None):
        self._setup(masks, batch_size, strategy)

    def _per_map(self, maps, masks):
        positive = tf.reshape(tf.nn.relu(maps), [tf.shape(maps)[0], -1])
        inside = tf.reduce_sum(positive * tf.reshape(masks, tf.shape(positive)), axis=-1)
        return tf.math.divide_no_nan(inside, tf.reduce_sum(positive, axis=-1))
