"""Object detection helpers, at Xplique's path `xplique.utils_functions.object_detection`.

A thin public module over :mod:`xplique.commons.boxes` (box types, conversions, IoU, padding)
and :mod:`xplique.commons.operators` (the detection operator and its variants). Boxes are
`(..., 4)` rows, `x` along the image width; `image_size` is `(height, width)` everywhere in
xplique (the box-conversion helpers below say where Xplique's translators differ).
"""

from typing import Tuple

# Not `as tf`: the subpackage `object_detection.tf` (Xplique's path of TfMultiBoxTensor) binds
# the name `tf` in this package once imported.
import tensorflow

from xplique.commons.boxes import (
    BoxCoordinatesMode,
    BoxFormat,
    BoxType,
    box_iou,
    convert_boxes,
    format_detections,
    pad_boxes,
)
from xplique.commons.operators import (
    box_class_operator,
    box_position_operator,
    box_proba_operator,
    object_detection_operator,
)

#: Xplique's name of the default intersection score of the detection operator (the signature a
#: custom `intersection_score_fn` follows): IoU of broadcast `(..., 4)` xyxy boxes.
_box_iou = box_iou


def _format_objects(predictions) -> Tuple[tensorflow.Tensor, tensorflow.Tensor, tensorflow.Tensor]:
    """Split detection rows `(..., 4 + 1 + nb_classes)` into boxes `(..., 4)`, detection
    probabilities `(..., 1)` and class scores `(..., nb_classes)` (Xplique's helper)."""
    predictions = tensorflow.convert_to_tensor(predictions)
    if predictions.shape.rank is None or predictions.shape[-1] is None \
            or predictions.shape[-1] < 5:
        raise ValueError(
            "`predictions` must be rows (..., 4 + 1 + nb_classes). Received: "
            f"predictions.shape={tuple(predictions.shape)}"
        )
    return predictions[..., :4], predictions[..., 4:5], predictions[..., 5:]


def _converted(boxes, source, target, image_size=None) -> tensorflow.Tensor:
    """The first 4 columns of `boxes` converted from `source` to `target`, the others kept."""
    boxes = tensorflow.convert_to_tensor(boxes, dtype_hint=tensorflow.float32)
    converted = convert_boxes(boxes[..., :4], source, target, image_size)
    return tensorflow.concat([converted, tensorflow.cast(boxes[..., 4:], converted.dtype)], axis=-1)


def box_xyxy_to_cxcywh(boxes) -> tensorflow.Tensor:
    """Corners to centre and size; columns after the first 4 (scores) are kept."""
    return _converted(boxes, "xyxy", "cxcywh")


def box_xyxy_to_xywh(boxes) -> tensorflow.Tensor:
    """Corners to top-left corner and size; columns after the first 4 are kept."""
    return _converted(boxes, "xyxy", "xywh")


def box_cxcywh_to_xyxy(boxes) -> tensorflow.Tensor:
    """Centre and size to corners; columns after the first 4 are kept."""
    return _converted(boxes, "cxcywh", "xyxy")


def box_xywh_to_xyxy(boxes) -> tensorflow.Tensor:
    """Top-left corner and size to corners; columns after the first 4 are kept."""
    return _converted(boxes, "xywh", "xyxy")


def _width_height(image_size, name="image_size"):
    try:
        width, height = (float(value) for value in image_size)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be (width, height). Received: {name}={image_size!r}") \
            from error
    if width <= 0 or height <= 0:
        raise ValueError(f"`{name}` must be positive (width, height). Received: "
                         f"{name}={image_size!r}")
    return width, height


def normalize_boxes(boxes, image_size) -> tensorflow.Tensor:
    """Pixel to relative coordinates. `image_size` is **(width, height)** here, as in Xplique's
    box managers (elsewhere in xplique it is `(height, width)`); columns after 4 are kept."""
    width, height = _width_height(image_size)
    return _converted(boxes, "xyxy", BoxType("xyxy", "relative"), (height, width))


def denormalize_boxes(boxes, image_size) -> tensorflow.Tensor:
    """Relative to pixel coordinates; `image_size` is **(width, height)** as in Xplique."""
    width, height = _width_height(image_size)
    return _converted(boxes, BoxType("xyxy", "relative"), "xyxy", (height, width))


__all__ = [
    "BoxFormat",
    "BoxCoordinatesMode",
    "BoxType",
    "convert_boxes",
    "box_iou",
    "format_detections",
    "pad_boxes",
    "box_xyxy_to_cxcywh",
    "box_xyxy_to_xywh",
    "box_cxcywh_to_xyxy",
    "box_xywh_to_xyxy",
    "normalize_boxes",
    "denormalize_boxes",
    "object_detection_operator",
    "box_position_operator",
    "box_proba_operator",
    "box_class_operator",
]
