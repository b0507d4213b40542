"""Test-time augmentation of explanations."""

from typing import List, Optional, Sequence

import tensorflow as tf

from xplique.attributions.meta.base import MetaExplainer, ensure_explainer
from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.data import iter_groups
from xplique.commons.distribution import ensure_strategy
from xplique.commons.model_surgery import is_graph_model
from xplique.commons.shapes import Modality, modality
from xplique.commons.validation import ensure_float
from xplique.types import InputsLike, TargetsLike


class TTA(MetaExplainer):
    """Test-time augmentation: the mean of an explainer's maps over horizontally flipped and
    rescaled copies of the images, each map first brought back to the original geometry
    (un-flipped, resized back).

    Ref. Krizhevsky et al., ImageNet Classification with Deep Convolutional Neural Networks
    (2012), https://doi.org/10.1145/3065386 (flipped and cropped test-time copies);
    Simonyan and Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition
    (2015), https://arxiv.org/abs/1409.1556 (multi-scale, flipped evaluation).

    Parameters
    ----------
    explainer
        Any object with `explain(inputs, targets)` returning image maps `(N, H, W, C)`.
    scales
        Zoom factors (> 0); 1.0 is the image itself.
    flips
        Also explain the horizontal mirror of every scaled copy.

    Notes
    -----
    How a scale is applied depends on the model. When the explainer's model accepts any
    image size (a graph model whose input has `None` height and width), the image is resized
    by the factor, explained, and the map resized back. Otherwise (fixed input size, or a
    model whose input size cannot be read) a scale is a centred zoom that keeps the size:
    `scale > 1` resizes up and crops the centre, so the map covers only the central `1/scale`
    of the image and each pixel is averaged over the copies that saw it; `scale < 1` resizes
    down and pads with zeros around, and the map's central part is resized back. Resizing is
    bilinear. With `targets=None` the class is chosen once, on the original images, so every
    copy explains the same class. Pixels no copy saw (every scale > 1) get 0.
    `TTA(e, scales=(1.0,), flips=False)` returns exactly what `e` returns. The wrapped
    explainer explains `len(scales) * (2 if flips else 1)` copies of each image: every
    `e.batch_size` images, the copies of the same shape (all of them, at a fixed input size)
    are explained in one call, so that `e` fills whole batches.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from xplique.attributions import Saliency
    >>> model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(2)])
    >>> tta = TTA(Saliency(model), scales=(1.0, 1.5), flips=True)
    >>> tta(np.ones((3, 6, 6, 1), "float32"), [0, 1, 0]).shape
    TensorShape([3, 6, 6, 1])
    """

    def __init__(self, explainer, scales: Sequence[float] = (1.0,), flips: bool = True, *,
                 strategy=None):
        self.explainer = ensure_explainer(explainer)
        self.strategy = ensure_strategy(strategy)
        self.scales = _ensure_scales(scales)
        if not isinstance(flips, bool):
            raise TypeError(f"`flips` must be a bool. Received: flips={flips!r}")
        self.flips = flips
        self._compiled = {}

    def explain(self, inputs: InputsLike, targets: TargetsLike = None, *,
                top_k: Optional[int] = None) -> tf.Tensor:
        """The explanations averaged over the augmented copies, in the inputs' geometry.

        `targets="all"` and `top_k` are refused: the top classes of each augmented copy may
        differ from the original's, so their average would mix maps of different classes.
        """
        if top_k is not None or (isinstance(targets, str) and targets == "all"):
            raise ValueError(
                "TTA does not take targets='all' or top_k: each augmented copy could rank the "
                "classes differently. Pass the classes as targets, one call per class. "
                f"Received: targets={targets!r}, top_k={top_k!r}")
        parts: List[tf.Tensor] = []
        batch_size = getattr(self.explainer, "batch_size", 32)
        for images, group_targets in iter_groups(inputs, targets, batch_size):
            if modality(images) is not Modality.IMAGES:
                raise ValueError(
                    "`inputs` must be images (N, H, W, C) for TTA. Received: "
                    f"inputs.shape={tuple(images.shape)}"
                )
            if group_targets is None:
                group_targets = _top_targets(self.explainer, images)
            parts.append(self._average(images, group_targets))
        if not parts:
            raise ValueError("`inputs` is empty: there is nothing to explain")
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=0)

    def _average(self, images, targets):
        size = tuple(int(d) for d in images.shape[1:3])
        resize = _accepts_any_size(getattr(self.explainer, "model", None))
        views = [(scale, flip) for scale in self.scales
                 for flip in ((False, True) if self.flips else (False,))]
        if len(views) == 1:  # one copy: exactly the wrapped explainer's call
            return self._restored_mean(images, targets, views, size, resize)
        # Several copies: every `batch_size` images, the copies of the same shape are explained
        # in one call, so the wrapped explainer fills whole batches (one ragged batch per slice
        # instead of one per copy) and is called once per slice instead of once per copy.
        step = getattr(self.explainer, "batch_size", None) or int(images.shape[0])
        if targets is None:
            return batched(lambda part: self._restored_mean(part, None, views, size, resize),
                           [images], step)
        return batched(lambda part, part_targets: self._restored_mean(
            part, part_targets, views, size, resize), [images, targets], step)

    def _geometry(self, kind, *config) -> Compiled:
        """:func:`_augment` or :func:`_restore` for one copy, compiled once (the `tf.image`
        functions cost about a millisecond per eager call in Python checks alone)."""
        key = (kind,) + config
        if key not in self._compiled:
            function = _augment if kind == "augment" else _restore
            self._compiled[key] = Compiled(lambda tensor: function(tensor, *config))
        return self._compiled[key]

    def _restored_mean(self, images, targets, views, size, resize):
        """Mean over `views` of the explanations of `images`, restored to their geometry."""
        count = int(images.shape[0])
        by_shape = {}
        for scale, flip in views:
            view = self._geometry("augment", scale, flip, resize)(images)
            by_shape.setdefault(tuple(view.shape[1:]), []).append((scale, flip, view))
        total, coverage = 0.0, 0.0
        for same_shape in by_shape.values():
            stacked = tf.concat([view for _, _, view in same_shape], axis=0)
            stacked_targets = None if targets is None else tf.concat(
                [targets] * len(same_shape), axis=0)
            explanations = tf.cast(self.explainer.explain(stacked, stacked_targets), tf.float32)
            for index, (scale, flip, _) in enumerate(same_shape):
                restore = self._geometry("restore", scale, flip, resize, size)
                back, covered = restore(explanations[index * count:(index + 1) * count])
                total, coverage = total + back, coverage + covered
        return tf.math.divide_no_nan(total, tf.cast(coverage, total.dtype))


def _top_targets(explainer, images):
    """The targets the (innermost) explainer would pick for the original images, so that every
    copy explains the same class; None when it cannot say (each copy then picks its own)."""
    while not hasattr(explainer, "_targets_for") and hasattr(explainer, "explainer"):
        explainer = explainer.explainer
    if not hasattr(explainer, "_targets_for"):
        return None
    return explainer._targets_for(images, None)  # pylint: disable=protected-access


def _ensure_scales(scales):
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__iter__"):
        raise TypeError(f"`scales` must be a sequence of numbers. Received: scales={scales!r}")
    values = tuple(ensure_float(scale, "scales") for scale in scales)
    if not values or min(values) <= 0:
        raise ValueError(
            f"`scales` must hold at least one number > 0. Received: scales={scales!r}"
        )
    return values


def _accepts_any_size(model) -> bool:
    """True for graph models whose single image input has free height and width."""
    if not is_graph_model(model) or len(model.inputs) != 1:
        return False
    shape = tuple(model.inputs[0].shape)
    return len(shape) == 4 and shape[1] is None and shape[2] is None


def _scaled_size(size, scale):
    return tuple(max(1, int(round(side * scale))) for side in size)


def _augment(images, scale, flip, resize):
    """The copy of `images` at `scale` (resized, or zoomed at constant size), mirrored."""
    size = tuple(int(d) for d in images.shape[1:3])
    if scale != 1.0:
        images = tf.image.resize(images, _scaled_size(size, scale), method="bilinear")
        if not resize:
            images = tf.image.resize_with_crop_or_pad(images, *size)
    if flip:
        images = tf.reverse(images, axis=[2])
    return images


def _restore(explanations, scale, flip, resize, size):
    """Undo :func:`_augment` on the maps: `(maps, coverage)` in the original geometry, the
    coverage saying how much of each pixel the copy saw."""
    if flip:
        explanations = tf.reverse(explanations, axis=[2])
    if scale == 1.0:
        return explanations, tf.ones([])
    if resize:
        return tf.image.resize(explanations, size, method="bilinear"), tf.ones([])
    scaled = _scaled_size(size, scale)
    seen = tf.ones_like(explanations[..., :1])
    explanations = tf.image.resize_with_crop_or_pad(explanations, *scaled)
    seen = tf.image.resize_with_crop_or_pad(seen, *scaled)
    return (tf.image.resize(explanations, size, method="bilinear"),
            tf.image.resize(seen, size, method="bilinear"))
