"""Model outputs that know how to become attribution targets, for classifiers
(:class:`TfClassifierTensor`) and detectors (:class:`TfMultiBoxTensor`), both following the
:class:`StructuredPrediction` protocol (Xplique's names and methods). Holistic CRAFT's `decode`
returns them; Xplique's paths (`xplique.commons.prediction_types`,
`xplique.utils_functions.classification.tf`, `xplique.utils_functions.object_detection.tf`)
lead here."""

from numbers import Integral
from typing import Optional, Protocol, runtime_checkable

import tensorflow as tf


@runtime_checkable
class StructuredPrediction(Protocol):
    """Model outputs that can be filtered and turned into attribution targets."""

    def to_batched_tensor(self) -> tf.Tensor:
        """The outputs as a tensor with a leading batch axis."""

    def filter(self, class_id: Optional[int] = None, confidence: Optional[float] = None):
        """The predictions kept for `class_id` and `confidence` (detectors; classifiers
        return themselves)."""

    def to_attribution_target(self, class_id: Optional[int] = None):
        """The targets that explain these predictions (one-hot `class_id` rows for a
        classifier, the boxes themselves for a detector)."""


class TfClassifierTensor:
    """Classifier outputs `(n, n_classes)` (or one row `(n_classes,)`).

    Parameters
    ----------
    tensor
        Logits or probabilities.
    """

    def __init__(self, tensor):
        tensor = tf.convert_to_tensor(tensor)
        if tensor.shape.rank not in (1, 2):
            raise ValueError(
                "`tensor` must hold classifier outputs (n_classes,) or (n, n_classes). "
                f"Received: tensor.shape={tuple(tensor.shape)}"
            )
        self.tensor = tensor

    @classmethod
    def from_predictions(cls, predictions) -> "TfClassifierTensor":
        """`predictions` wrapped (returned as they are when already wrapped)."""
        return predictions if isinstance(predictions, cls) else cls(predictions)

    @property
    def shape(self) -> tf.TensorShape:
        """Shape of the outputs."""
        return self.tensor.shape

    @property
    def num_classes(self) -> int:
        """Number of classes (last axis)."""
        return int(self.tensor.shape[-1])

    @property
    def batch_size(self) -> int:
        """Number of output rows (1 for a single row)."""
        return 1 if self.tensor.shape.rank == 1 else int(self.tensor.shape[0])

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to explain."""
        return self.batch_size == 0 or self.num_classes == 0

    def __tf_tensor__(self, dtype=None, name=None) -> tf.Tensor:
        return tf.convert_to_tensor(self.tensor, dtype=dtype, name=name)

    def numpy(self):
        """The outputs as a numpy array."""
        return self.tensor.numpy()

    def to_batched_tensor(self) -> tf.Tensor:
        """`(n, n_classes)` outputs (a single row gets a batch axis)."""
        return self.tensor[None] if self.tensor.shape.rank == 1 else self.tensor

    def filter(self, class_id=None, confidence=None) -> "TfClassifierTensor":
        """Classifiers have nothing to filter: `self`."""
        del class_id, confidence
        return self

    def to_attribution_target(self, class_id=None) -> "TfClassifierTensor":
        """One-hot rows of `class_id`, shaped like the outputs (None: `self`)."""
        if class_id is None:
            return self
        if not isinstance(class_id, Integral) or isinstance(class_id, bool) or \
                not 0 <= int(class_id) < self.num_classes:
            raise ValueError(
                f"`class_id` must be a class index in [0, {self.num_classes}). Received: "
                f"class_id={class_id!r}"
            )
        row = tf.one_hot(int(class_id), self.num_classes, dtype=self.tensor.dtype)
        return TfClassifierTensor(tf.broadcast_to(row, tf.shape(self.tensor)))


def kept_boxes(boxes: tf.Tensor, class_id=None, confidence=None) -> tf.Tensor:
    """Boxes `(n, B, 4 + 1 + C)` of the images kept by class and objectness: a box is kept
    when it is not padding (all zero), its predicted class (argmax of the class scores) is
    `class_id` (when given) and its objectness is at least `confidence` (when given). Kept
    boxes come first in their original order, the rest are zero rows (padding, which the
    detection operators ignore), trimmed to the most boxes kept by one image (at least 1)."""
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    keep = tf.reduce_any(boxes != 0.0, axis=-1)
    if class_id is not None:
        keep &= tf.argmax(boxes[..., 5:], axis=-1, output_type=tf.int32) == int(class_id)
    if confidence is not None:
        keep &= boxes[..., 4] >= float(confidence)
    order = tf.argsort(tf.cast(~keep, tf.int32), axis=1, stable=True)
    kept = tf.gather(boxes * tf.cast(keep, boxes.dtype)[..., None], order, batch_dims=1)
    most = max(1, int(tf.reduce_max(tf.reduce_sum(tf.cast(keep, tf.int32), axis=1))))
    return kept[:, :most]


class TfMultiBoxTensor:
    """Detector outputs: the boxes of one image `(B, 4 + 1 + C)` (Xplique's form), or of a
    batch of images `(n, B, 4 + 1 + C)`, each row `[x1, y1, x2, y2, objectness, class
    scores...]` (all-zero rows are padding).

    Parameters
    ----------
    tensor
        The boxes.
    """

    def __init__(self, tensor):
        tensor = tf.convert_to_tensor(tensor)
        if tensor.shape.rank not in (2, 3) or (tensor.shape[-1] is not None
                                               and tensor.shape[-1] < 5):
            raise ValueError(
                "`tensor` must hold boxes (B, 4 + 1 + C) or (n, B, 4 + 1 + C). Received: "
                f"tensor.shape={tuple(tensor.shape)}"
            )
        self.tensor = tensor

    def __len__(self) -> int:
        return int(self.tensor.shape[0])

    @property
    def shape(self) -> tf.TensorShape:
        """Shape of the boxes."""
        return self.tensor.shape

    @property
    def dtype(self) -> tf.DType:
        """Data type of the boxes."""
        return self.tensor.dtype

    @property
    def is_empty(self) -> bool:
        """Whether no (non-padding) box is left."""
        return not bool(tf.reduce_any(self.tensor != 0.0))

    def __tf_tensor__(self, dtype=None, name=None) -> tf.Tensor:
        return tf.convert_to_tensor(self.tensor, dtype=dtype, name=name)

    def __getitem__(self, key) -> tf.Tensor:
        return self.tensor[key]

    def numpy(self):
        """The boxes as a numpy array."""
        return self.tensor.numpy()

    def boxes(self) -> tf.Tensor:
        """Corners `[x1, y1, x2, y2]` `(..., B, 4)`."""
        return self.tensor[..., :4]

    def scores(self) -> tf.Tensor:
        """Objectness `(..., B)`."""
        return self.tensor[..., 4]

    def probas(self) -> tf.Tensor:
        """Class scores `(..., B, C)`."""
        return self.tensor[..., 5:]

    def filter(self, class_id=None, confidence=None) -> "TfMultiBoxTensor":
        """The boxes whose predicted class is `class_id` and objectness at least
        `confidence` (None: no condition); padding rows are dropped. A batch keeps its shape
        `(n, B', 4 + 1 + C)`: kept boxes first, zero rows after (:func:`kept_boxes`)."""
        if self.tensor.shape.rank == 3:
            return TfMultiBoxTensor(kept_boxes(self.tensor, class_id, confidence))
        kept = kept_boxes(self.tensor[None], class_id, confidence)[0]
        count = int(tf.reduce_sum(tf.cast(tf.reduce_any(kept != 0.0, axis=-1), tf.int32)))
        return TfMultiBoxTensor(kept[:count])

    def to_attribution_target(self, class_id=None) -> "TfMultiBoxTensor":
        """The boxes are their own targets: `self` (`class_id` is for :meth:`filter`)."""
        del class_id
        return self

    def to_batched_tensor(self) -> tf.Tensor:
        """`(n, B, 4 + 1 + C)` boxes (one image's get a batch axis)."""
        return self.tensor[None] if self.tensor.shape.rank == 2 else self.tensor
