"""Targets for the semantic segmentation operator: which zone and class to explain.

A segmentation target has the shape of the model outputs, `(H, W, C)` per image (stack them
into `(N, H, W, C)`), and is nonzero on the (pixel, class) entries to explain; the operator
scores the mean model output over those entries (see
:func:`xplique.commons.operators.semantic_segmentation_operator`). The builders below read a
model's predictions (scores or probabilities, class = argmax over the last axis) and return
float32 tensors:

- :func:`get_class_zone`: every pixel predicted as a class;
- :func:`get_connected_zone`: the connected region of the class predicted at one pixel;
- :func:`list_class_connected_zones`: every connected region of a class;
- :func:`get_in_out_border`: +1 just inside a zone, -1 just outside (what places its border);
- :func:`get_common_border`: the part two borders share (what separates two zones).

Neighbourhoods are 8-connected, as in Xplique: a pixel touches the 8 pixels around it, diagonals
included, both for connected zones and for borders. These are data-preparation helpers run once
per image on the host (numpy/scipy), not in a kernel.
"""

from typing import List, Sequence

import numpy as np
import tensorflow as tf
from scipy import ndimage

from xplique.commons.validation import ensure_positive_int


def _predictions(predictions, name: str = "predictions", single: bool = False) -> np.ndarray:
    array = np.asarray(predictions)
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise TypeError(f"`{name}` must hold numbers. Received an array of dtype {array.dtype}")
    ranks = (3,) if single else (3, 4)
    if array.ndim not in ranks:
        expected = "(H, W, C)" if single else "(H, W, C) or (N, H, W, C)"
        raise ValueError(
            f"`{name}` must have shape {expected}. Received: {name}.shape={array.shape}"
        )
    return array


def _square(rank: int) -> np.ndarray:
    """8-connected (3 x 3) structuring element acting on the last two (spatial) axes only."""
    return ndimage.generate_binary_structure(2, 2).reshape((1,) * (rank - 2) + (3, 3))


def _class_channel(class_id, nb_classes: int) -> int:
    if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)):
        raise TypeError(f"`class_id` must be an int. Received: class_id={class_id!r}")
    if not 0 <= class_id < nb_classes:
        raise ValueError(
            f"`class_id` must lie in [0, {nb_classes - 1}] for predictions with {nb_classes} "
            f"classes. Received: class_id={class_id}"
        )
    return int(class_id)


def _zone_mask(spatial: np.ndarray, class_id: int, nb_classes: int) -> tf.Tensor:
    """Put a spatial 0/1 map into channel `class_id` of a `(..., H, W, C)` float32 mask."""
    mask = np.zeros(spatial.shape + (nb_classes,), np.float32)
    mask[..., class_id] = spatial
    return tf.constant(mask)


def get_class_zone(predictions, class_id: int) -> tf.Tensor:
    """Mask of every pixel predicted as `class_id`, in that class's channel.

    Parameters
    ----------
    predictions
        Model outputs `(H, W, C)` or `(N, H, W, C)`.
    class_id
        The class to explain.

    Returns
    -------
    Float32 tensor of the shape of `predictions`: 1 at `(pixel, class_id)` where the predicted
    class is `class_id`, 0 elsewhere.

    >>> predictions = np.zeros((2, 3, 2)); predictions[0, :, 1] = 1.0
    >>> get_class_zone(predictions, 1).numpy()[..., 1].tolist()
    [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    """
    array = _predictions(predictions)
    class_id = _class_channel(class_id, array.shape[-1])
    return _zone_mask(np.argmax(array, axis=-1) == class_id, class_id, array.shape[-1])


def _check_coordinates(coordinates, height: int, width: int):
    try:
        row, column = (int(value) for value in coordinates)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"`coordinates` must be a (row, column) pair of ints. Received: {coordinates!r}"
        ) from error
    if not (0 <= row < height and 0 <= column < width):
        raise ValueError(
            f"`coordinates` must lie inside the ({height}, {width}) image. "
            f"Received: coordinates={tuple(coordinates)}"
        )
    return row, column


def get_connected_zone(predictions, coordinates: Sequence[int]) -> tf.Tensor:
    """Mask of the connected region predicted as the class found at `coordinates`.

    Parameters
    ----------
    predictions
        Model outputs for one image, `(H, W, C)`.
    coordinates
        `(row, column)` of a pixel inside the zone to explain.

    Returns
    -------
    Float32 `(H, W, C)` tensor: 1 on the pixels 8-connected to `coordinates` that share its
    predicted class, in that class's channel.
    """
    array = _predictions(predictions, single=True)
    row, column = _check_coordinates(coordinates, *array.shape[:2])
    classes = np.argmax(array, axis=-1)
    class_id = int(classes[row, column])
    labels, _ = ndimage.label(classes == class_id, structure=_square(2))
    return _zone_mask(labels == labels[row, column], class_id, array.shape[-1])


def list_class_connected_zones(
    predictions, class_id: int, zone_minimum_size: int = 100
) -> List[tf.Tensor]:
    """Masks of every connected region predicted as `class_id` with at least
    `zone_minimum_size` pixels, largest first.

    Parameters
    ----------
    predictions
        Model outputs for one image, `(H, W, C)`.
    class_id
        The class whose regions are listed.
    zone_minimum_size
        Smallest region (in pixels) kept.
    """
    array = _predictions(predictions, single=True)
    class_id = _class_channel(class_id, array.shape[-1])
    zone_minimum_size = ensure_positive_int(zone_minimum_size, "zone_minimum_size")
    labels, count = ndimage.label(np.argmax(array, axis=-1) == class_id, structure=_square(2))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    kept = [label + 1 for label in np.argsort(-sizes, kind="stable")
            if sizes[label] >= zone_minimum_size]
    return [_zone_mask(labels == label, class_id, array.shape[-1]) for label in kept]


def get_in_out_border(class_zone) -> tf.Tensor:
    """The border of a zone: +1 on its pixels that touch the outside, -1 on the outside pixels
    that touch it (8 neighbours, diagonals included), in the zone's class channel(s).

    Explaining it shows what makes the model put the border where it is. The image frame is
    not a border: a zone touching the edge of the image has no border there.

    Parameters
    ----------
    class_zone
        A zone mask `(H, W, C)` or `(N, H, W, C)` (e.g. from :func:`get_class_zone`); a pixel
        belongs to the zone when any of its channels is nonzero.

    Returns
    -------
    Float32 tensor of the shape of `class_zone`, with values in {-1, 0, 1}.
    """
    array = _predictions(class_zone, "class_zone")
    nonzero = array != 0
    zone = nonzero.any(axis=-1)
    square = _square(zone.ndim)
    inner = zone & ~ndimage.binary_erosion(zone, square, border_value=1)
    outer = ndimage.binary_dilation(zone, square) & ~zone
    spatial = inner.astype(np.float32) - outer.astype(np.float32)
    channels = nonzero.any(axis=(-3, -2), keepdims=True)  # the zone's classes, per image
    return tf.constant(spatial[..., None] * channels.astype(np.float32))


def get_common_border(border_one, border_two) -> tf.Tensor:
    """The part of two in/out borders where they meet: where two zones touch.

    Keeps the sum of the two borders on the pixels that lie on both borders and inside one of
    the two zones. For two adjacent zones of classes `a` and `b`, a pixel of zone `a` along the
    shared edge gets +1 for `a` and -1 for `b` (and the other way round on `b`'s side):
    explaining it shows what separates the two zones. Pixels just outside both zones (e.g. a
    thin strip of a third class between them) are not kept.

    Parameters
    ----------
    border_one, border_two
        Borders from :func:`get_in_out_border`, same shape `(H, W, C)` or `(N, H, W, C)`.
    """
    one = _predictions(border_one, "border_one")
    two = _predictions(border_two, "border_two")
    if one.shape != two.shape:
        raise ValueError(
            "`border_one` and `border_two` must have the same shape. Received: "
            f"{one.shape} and {two.shape}"
        )
    both = (one != 0).any(axis=-1) & (two != 0).any(axis=-1)
    both &= (one > 0).any(axis=-1) | (two > 0).any(axis=-1)
    return tf.constant(((one + two) * both[..., None]).astype(np.float32))
