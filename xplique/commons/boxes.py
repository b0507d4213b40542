"""Bounding boxes: formats, conversions, intersection over union, padding.

The object detection operator reads boxes as `[x1, y1, x2, y2]` (corners, "xyxy"), with `x`
along the image width (columns) and `y` along its height (rows). Detectors often emit another
layout: `[x, y, width, height]` ("xywh", top-left corner) or `[cx, cy, width, height]`
("cxcywh", centre), in pixels or relative to the image size (fractions of width and height).
:func:`convert_boxes` moves between them; :func:`format_detections` assembles the
`(..., 4 + 1 + nb_classes)` rows the operator expects; :func:`pad_boxes` stacks a different
number of boxes per image into one tensor padded with all-zero rows (which the operator ignores).
A layout is a :class:`BoxType` of a :class:`BoxFormat` and a :class:`BoxCoordinatesMode`
(Xplique's names; strings work too). Xplique's public path for all of these is
:mod:`xplique.utils_functions.object_detection`.
"""

import enum
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

#: Box layouts: corners, top-left corner and size, centre and size.
BOX_FORMATS = ("xyxy", "xywh", "cxcywh")
#: Coordinate units: pixels, or fractions of the image width and height.
BOX_COORDINATES = ("pixel", "relative")


class BoxFormat(str, enum.Enum):
    """Box layouts (Xplique's `BoxFormat`). Members compare equal to their lowercase names, and
    lookups ignore case: `BoxFormat("XYXY") is BoxFormat.XYXY`."""

    XYXY = "xyxy"
    XYWH = "xywh"
    CXCYWH = "cxcywh"

    @classmethod
    def _missing_(cls, value):
        if isinstance(value, str):
            return cls.__members__.get(value.strip().upper())
        return None


class BoxCoordinatesMode(str, enum.Enum):
    """Coordinate units: PIXEL, or RELATIVE to the image width and height (alias NORMALIZED,
    Xplique's `is_normalized=True`)."""

    PIXEL = "pixel"
    RELATIVE = "relative"
    NORMALIZED = "relative"

    @classmethod
    def _missing_(cls, value):
        if isinstance(value, str):
            return cls.__members__.get(value.strip().upper())
        return None


def _member(enum_type, value, name: str, choices):
    """`value` as a member of `enum_type`: a member, or its name in any case."""
    if isinstance(value, enum_type):
        return value
    key = value.strip().upper() if isinstance(value, str) else None
    if key in enum_type.__members__:
        return enum_type.__members__[key]
    listed = ", ".join(repr(choice) for choice in choices)
    raise ValueError(f"`{name}` must be one of {listed}. Received: {name}={value!r}")


class BoxType:
    """How a box is written: its `format` (:class:`BoxFormat` or its name) and its
    `coordinates` (:class:`BoxCoordinatesMode` or "pixel" / "relative").

    Xplique's spelling works too: `BoxType(BoxFormat.XYXY, is_normalized=False)`, or a bool as
    the second positional argument. `is_normalized` is also readable as a property.

    >>> BoxType("cxcywh", "relative")
    BoxType(format='cxcywh', coordinates='relative')
    >>> BoxType(BoxFormat.XYWH, is_normalized=True) == BoxType("xywh", "relative")
    True
    """

    __slots__ = ("format", "coordinates")

    def __init__(self, format="xyxy", coordinates="pixel", *, is_normalized=None):
        # pylint: disable=redefined-builtin
        if isinstance(coordinates, bool):  # Xplique's BoxType(format, is_normalized)
            if is_normalized is None:
                is_normalized = coordinates
            coordinates = "pixel"
        if is_normalized is not None:
            if not isinstance(is_normalized, bool):
                raise TypeError("`is_normalized` must be a bool. Received: "
                                f"is_normalized={is_normalized!r}")
            coordinates = "relative" if is_normalized else "pixel"
        object.__setattr__(self, "format", _member(BoxFormat, format, "format", BOX_FORMATS))
        object.__setattr__(self, "coordinates", _member(
            BoxCoordinatesMode, coordinates, "coordinates", BOX_COORDINATES))

    def __setattr__(self, name, value):
        raise AttributeError("BoxType is immutable")

    @property
    def is_normalized(self) -> bool:
        """Whether the coordinates are relative to the image size (Xplique's name)."""
        return self.coordinates is BoxCoordinatesMode.RELATIVE

    def __eq__(self, other):
        if not isinstance(other, BoxType):
            return NotImplemented
        return (self.format, self.coordinates) == (other.format, other.coordinates)

    def __hash__(self):
        return hash((self.format.value, self.coordinates.value))

    def __repr__(self):
        return f"BoxType(format={self.format.value!r}, coordinates={self.coordinates.value!r})"


BoxTypeLike = Union[BoxType, BoxFormat, str]


def _box_type(value: BoxTypeLike, name: str) -> BoxType:
    if isinstance(value, BoxType):
        return value
    if isinstance(value, str):  # BoxFormat members are strings too
        return BoxType(_member(BoxFormat, value, name, BOX_FORMATS))
    raise TypeError(
        f"`{name}` must be a BoxType or one of {', '.join(map(repr, BOX_FORMATS))}. "
        f"Received: {name}={value!r}"
    )


def _boxes_tensor(boxes, name: str = "boxes") -> tf.Tensor:
    boxes = tf.convert_to_tensor(boxes, dtype_hint=tf.float32)
    if not boxes.dtype.is_floating:
        boxes = tf.cast(boxes, tf.float32)
    if boxes.shape.rank is not None and (boxes.shape.rank == 0 or boxes.shape[-1] != 4):
        raise ValueError(
            f"`{name}` must have a last axis of size 4 (one box per row). "
            f"Received: {name}.shape={tuple(boxes.shape)}"
        )
    return boxes


def _scale(image_size, dtype) -> tf.Tensor:
    """The `[w, h, w, h]` factor turning relative coordinates into pixels."""
    if image_size is None or len(image_size) != 2:
        raise ValueError(
            "`image_size` must be (height, width) to convert between pixel and relative "
            f"coordinates. Received: image_size={image_size!r}"
        )
    height, width = image_size
    return tf.constant([width, height, width, height], dtype)


def convert_boxes(
    boxes,
    source: BoxTypeLike = "xyxy",
    target: BoxTypeLike = "xyxy",
    image_size: Optional[Tuple[int, int]] = None,
) -> tf.Tensor:
    """Convert boxes `(..., 4)` from the `source` layout to the `target` layout.

    Parameters
    ----------
    boxes
        Array or tensor of boxes, last axis of size 4.
    source, target
        :class:`BoxType` or a format name ("xyxy", "xywh", "cxcywh"; pixel coordinates).
    image_size
        `(height, width)` of the images, needed only when one side is relative and the other
        in pixels.

    Returns
    -------
    The converted boxes, same shape and floating dtype.

    >>> convert_boxes([[10., 20., 4., 6.]], "cxcywh", "xyxy").numpy().tolist()
    [[8.0, 17.0, 12.0, 23.0]]
    >>> convert_boxes([[0., 0., 50., 25.]], "xyxy", BoxType("xyxy", "relative"), (50, 100))
    ... # doctest: +ELLIPSIS
    <tf.Tensor: shape=(1, 4), dtype=float32, numpy=array([[0. , 0. , 0.5, 0.5]]...)>
    """
    source, target = _box_type(source, "source"), _box_type(target, "target")
    boxes = _boxes_tensor(boxes)
    first, second = boxes[..., :2], boxes[..., 2:]
    if source.format == "xywh":
        first, second = first, first + second
    elif source.format == "cxcywh":
        first, second = first - second / 2.0, first + second / 2.0
    if target.format == "xywh":
        second = second - first
    elif target.format == "cxcywh":
        first, second = (first + second) / 2.0, second - first
    converted = tf.concat([first, second], axis=-1)
    if source.coordinates != target.coordinates:
        scale = _scale(image_size, converted.dtype)
        converted = converted * scale if source.coordinates == "relative" else converted / scale
    return converted


def box_iou(boxes_a: tf.Tensor, boxes_b: tf.Tensor) -> tf.Tensor:
    """Intersection over union of xyxy boxes, broadcast over the leading axes.

    `boxes_a (..., 4)` and `boxes_b (..., 4)` broadcast against each other (e.g. `(N, R, 1, 4)`
    and `(N, 1, B, 4)` give all `(N, R, B)` pairs). Degenerate pairs (zero union) score 0.
    Differentiable everywhere (zero gradient where a box has no overlap).

    >>> float(box_iou(tf.constant([0., 0., 2., 2.]), tf.constant([1., 0., 3., 2.])))
    0.3333333432674408
    """
    a_x1, a_y1, a_x2, a_y2 = tf.unstack(boxes_a, 4, axis=-1)
    b_x1, b_y1, b_x2, b_y2 = tf.unstack(boxes_b, 4, axis=-1)
    width = tf.nn.relu(tf.minimum(a_x2, b_x2) - tf.maximum(a_x1, b_x1))
    height = tf.nn.relu(tf.minimum(a_y2, b_y2) - tf.maximum(a_y1, b_y1))
    intersection = width * height
    area_a = tf.nn.relu(a_x2 - a_x1) * tf.nn.relu(a_y2 - a_y1)
    area_b = tf.nn.relu(b_x2 - b_x1) * tf.nn.relu(b_y2 - b_y1)
    return tf.math.divide_no_nan(intersection, area_a + area_b - intersection)


def format_detections(
    boxes,
    objectness,
    class_scores,
    box_type: BoxTypeLike = "xyxy",
    image_size: Optional[Tuple[int, int]] = None,
) -> tf.Tensor:
    """Assemble detector outputs into the rows the detection operator reads:
    `[x1, y1, x2, y2, objectness, class scores...]`, boxes converted to pixel xyxy.

    Works on TensorFlow tensors inside a model (differentiable), so a detector can end with it.

    Parameters
    ----------
    boxes
        `(..., 4)` boxes written as `box_type`.
    objectness
        `(...)` or `(..., 1)` detection probabilities.
    class_scores
        `(..., nb_classes)` class probabilities (or one-hot classes for reference boxes).
    box_type
        Layout of `boxes` (:class:`BoxType` or format name).
    image_size
        `(height, width)`, needed when `box_type` is relative.
    """
    boxes = convert_boxes(boxes, box_type, BoxType("xyxy", "pixel"), image_size)
    objectness = tf.cast(objectness, boxes.dtype)
    if objectness.shape.rank == boxes.shape.rank - 1:
        objectness = objectness[..., None]
    return tf.concat([boxes, objectness, tf.cast(class_scores, boxes.dtype)], axis=-1)


def pad_boxes(boxes_per_image: Sequence, nb_boxes: Optional[int] = None) -> tf.Tensor:
    """Stack per-image box rows `(nb_i, D)` into one `(N, nb_boxes, D)` float32 tensor padded
    with all-zero rows, which the detection operator ignores.

    Parameters
    ----------
    boxes_per_image
        One array of rows per image (an image may have none: shape `(0, D)`).
    nb_boxes
        Rows per image after padding; defaults to the largest count.

    >>> pad_boxes([np.ones((2, 6)), np.ones((0, 6))]).shape
    TensorShape([2, 2, 6])
    """
    arrays = [np.asarray(rows, dtype=np.float32) for rows in boxes_per_image]
    if not arrays:
        raise ValueError("`boxes_per_image` must hold at least one image. Received none")
    if any(rows.ndim != 2 for rows in arrays) or len({rows.shape[1] for rows in arrays}) != 1:
        shapes = [rows.shape for rows in arrays]
        raise ValueError(
            "`boxes_per_image` must hold 2-D arrays (nb_boxes, D) with the same D. "
            f"Received shapes {shapes}"
        )
    longest = max(rows.shape[0] for rows in arrays)
    size = longest if nb_boxes is None else int(nb_boxes)
    if size < longest:
        raise ValueError(
            f"`nb_boxes` must be at least the largest number of boxes ({longest}). "
            f"Received: nb_boxes={nb_boxes}"
        )
    padded = np.zeros((len(arrays), size, arrays[0].shape[1]), np.float32)
    for index, rows in enumerate(arrays):
        padded[index, : rows.shape[0]] = rows
    return tf.constant(padded)
