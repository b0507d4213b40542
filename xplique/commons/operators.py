"""Operators: the only place where tasks plug in.

An operator is a callable `g(model, inputs, targets) -> (N,)` giving one score per input.
Explainers and metrics reach the model only through it, so a method never needs to know which
task it serves. :class:`Tasks` names the built-in operators; every member is callable as the
operator it names, and `operator=` accepts a member, its name as a string, or any callable.

Built-in operators (targets are documented in docs/tasks.md):

- classification / regression: :func:`predictions_operator`, targets `(N, n_outputs)`;
- semantic segmentation: :func:`semantic_segmentation_operator`, targets `(N, H, W, C_out)`
  masks built with :mod:`xplique.commons.segmentation`;
- object detection: :func:`object_detection_operator` and its variants, model outputs and
  targets are boxes `[x1, y1, x2, y2, objectness, class scores...]` (see
  :mod:`xplique.commons.boxes`).
"""

import enum
import warnings
from typing import Callable, Dict

import tensorflow as tf

from xplique.commons.boxes import box_iou
from xplique.commons.exceptions import InvalidOperatorException
from xplique.commons.validation import ensure_callable, ensure_choice


def predictions_operator(model: Callable, inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Score of the targeted outputs: `sum(model(inputs) * targets, axis=-1)`.

    With one-hot targets this is the targeted class score (classification); with dense targets
    it is the projection of the outputs on a direction (regression).
    """
    outputs = model(inputs)
    return tf.reduce_sum(outputs * tf.cast(targets, outputs.dtype), axis=-1)


def regression_operator(model: Callable, inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Mean absolute error between the outputs and `targets`: `mean(|model(inputs) - targets|)`
    over the last axis, one value per input.

    Deprecated, as in Xplique: at the unperturbed input, with `targets = model(inputs)`, the
    error is 0 and its gradient is 0 too, so gradient-based explanations are all zeros. It is
    kept for code written for Xplique and warns on every call; use
    :func:`predictions_operator` (`Tasks.REGRESSION`) with targets selecting the outputs.

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     regression_operator(lambda x: 2.0 * x, tf.ones((1, 2)), tf.zeros((1, 2))).numpy()
    array([2.], dtype=float32)
    """
    warnings.warn(
        "regression_operator is deprecated (its gradients vanish at the explained input); use "
        "Tasks.REGRESSION (predictions_operator) with targets selecting the outputs",
        DeprecationWarning, stacklevel=2,
    )
    outputs = model(inputs)
    return tf.reduce_mean(tf.abs(outputs - tf.cast(targets, outputs.dtype)), axis=-1)


def _flat(tensor: tf.Tensor) -> tf.Tensor:
    return tf.reshape(tensor, [tf.shape(tensor)[0], -1])


def semantic_segmentation_operator(model: Callable, inputs: tf.Tensor, targets: tf.Tensor):
    """Mean output of the targeted zone and classes.

    `targets` has the shape of the model outputs, `(N, H, W, C_out)` for images: nonzero where
    a pixel and class belong to the explained zone (1 for a zone, +1/-1 for a border, or any
    weights). The score is `sum(model(inputs) * targets) / count_nonzero(targets)` over all but
    the batch axis, and 0 for an empty target.
    """
    outputs = model(inputs)
    targets = tf.cast(targets, outputs.dtype)
    total = tf.reduce_sum(_flat(outputs * targets), axis=1)
    zone_size = tf.math.count_nonzero(_flat(targets), axis=1, dtype=outputs.dtype)
    return tf.math.divide_no_nan(total, zone_size)


def _class_similarity(reference: tf.Tensor, predicted: tf.Tensor) -> tf.Tensor:
    """Cosine similarity of class vectors (0 when one of them is zero)."""
    reference = tf.math.l2_normalize(reference, axis=-1)
    predicted = tf.math.l2_normalize(predicted, axis=-1)
    return tf.reduce_sum(reference * predicted, axis=-1)


def _detection_score(model, inputs, targets, intersection_score_fn, with_objectness, with_class):
    predictions = model(inputs)
    if predictions.shape.rank is not None and predictions.shape.rank != 3:
        raise ValueError(
            "Object detection models must output boxes (N, nb_boxes, 4 + 1 + nb_classes). "
            f"Received outputs of shape {tuple(predictions.shape)}"
        )
    references = tf.cast(targets, predictions.dtype)
    if references.shape.rank == 2:
        references = references[:, None, :]
    if references.shape.rank != 3:
        raise ValueError(
            "Object detection `targets` must be boxes (N, 4 + 1 + nb_classes) or "
            f"(N, nb_ref, 4 + 1 + nb_classes). Received: targets.shape={tuple(targets.shape)}"
        )
    # Pairs (image, reference r, prediction b) broadcast as (N, R, 1, .) against (N, 1, B, .).
    refs, preds = references[:, :, None, :], predictions[:, None, :, :]
    score = intersection_score_fn(refs[..., :4], preds[..., :4])
    if with_objectness:
        score = score * preds[..., 4]
    if with_class:
        score = score * _class_similarity(refs[..., 5:], preds[..., 5:])
    # All-zero rows are padding: they neither match nor count.
    pred_valid = tf.reduce_any(tf.not_equal(predictions, 0.0), axis=-1)[:, None, :]
    ref_valid = tf.reduce_any(tf.not_equal(references, 0.0), axis=-1)
    lowest = tf.constant(score.dtype.min, score.dtype)
    best = tf.reduce_max(tf.where(pred_valid, score, lowest), axis=-1)
    best = tf.where(ref_valid & tf.reduce_any(pred_valid, axis=-1), best, tf.zeros_like(best))
    count = tf.reduce_sum(tf.cast(ref_valid, best.dtype), axis=-1)
    return tf.math.divide_no_nan(tf.reduce_sum(best, axis=-1), count)


def object_detection_operator(
    model: Callable = None,
    inputs: tf.Tensor = None,
    targets: tf.Tensor = None,
    intersection_score_fn: Callable = box_iou,
    include_detection_probability: bool = True,
    include_classification_score: bool = True,
    *,
    intersection_score: Callable = None,
):
    """Detection score of the reference boxes (the D-RISE similarity, averaged over boxes).

    The model outputs `(N, nb_boxes, 4 + 1 + nb_classes)` rows
    `[x1, y1, x2, y2, objectness, class scores...]` (pixel xyxy boxes, before non-maximum
    suppression); `targets` are reference rows of the same layout, `(N, 4 + 1 + nb_classes)`
    (one box per image) or `(N, nb_ref, 4 + 1 + nb_classes)`. All-zero rows, on either side,
    are padding and are ignored. For each reference box, every predicted box gets
    `intersection_score_fn(ref, pred) * objectness * cosine(ref classes, pred classes)`; the
    best prediction is kept and the scores are averaged over the reference boxes (0 when an
    image has no reference or no prediction).

    Called with `model, inputs, targets` it returns the `(N,)` scores; the settings may follow
    positionally, in Xplique's order
    `(model, inputs, targets, intersection_score_fn, include_detection_probability,
    include_classification_score)`. Called with the settings only (no model, inputs, targets)
    it returns an operator with those settings, e.g.
    `object_detection_operator(include_classification_score=False)`.

    Parameters
    ----------
    intersection_score_fn
        `fn(reference_boxes, predicted_boxes) -> scores`, broadcasting `(..., 4)` xyxy boxes
        (default: :func:`xplique.commons.boxes.box_iou`). It matches predictions to references,
        so it is part of every variant.
    include_detection_probability
        Multiply by the predicted objectness.
    include_classification_score
        Multiply by the cosine similarity of the reference and predicted class vectors.
    intersection_score
        Keyword-only alias of `intersection_score_fn`, the name Xplique's object detection
        documentation uses in its custom-score example.
    """
    if intersection_score is not None:
        if intersection_score_fn is not box_iou:
            raise TypeError("Give `intersection_score_fn` or its alias `intersection_score`, "
                            "not both")
        intersection_score_fn = ensure_callable(intersection_score, "intersection_score")
    ensure_callable(intersection_score_fn, "intersection_score_fn")
    for name, flag in (("include_detection_probability", include_detection_probability),
                       ("include_classification_score", include_classification_score)):
        if not isinstance(flag, bool):
            raise TypeError(f"`{name}` must be a bool. Received: {name}={flag!r}")

    def operator(model, inputs, targets):
        return _detection_score(model, inputs, targets, intersection_score_fn,
                                include_detection_probability, include_classification_score)

    operator.requires_targets = True  # the model's top output is no reference box
    if model is None and inputs is None and targets is None:
        return operator
    if model is None or inputs is None or targets is None:
        raise TypeError(
            "object_detection_operator takes either (model, inputs, targets), to score, or only "
            "keyword settings, to build an operator. Received only part of (model, inputs, "
            "targets)"
        )
    return operator(model, inputs, targets)


object_detection_operator.requires_targets = True


def requires_targets(operator: Callable) -> bool:
    """Whether `operator` cannot explain "the model's top output" (`targets=None`): detection
    operators need reference boxes."""
    return bool(getattr(operator, "requires_targets", False))


def _variant(name: str, **settings) -> Callable:
    operator = object_detection_operator(**settings)
    operator.__name__ = operator.__qualname__ = name
    return operator


#: The detection variants of :class:`Tasks` (the IoU always matches predictions to references).
box_position_operator = _variant("box_position_operator", include_detection_probability=False,
                                 include_classification_score=False)
box_proba_operator = _variant("box_proba_operator", include_classification_score=False)
box_class_operator = _variant("box_class_operator", include_detection_probability=False)


class Tasks(enum.Enum):
    """The built-in tasks. Each member is callable as its operator.

    - CLASSIFICATION, REGRESSION: :func:`predictions_operator`.
    - SEMANTIC_SEGMENTATION: :func:`semantic_segmentation_operator`.
    - OBJECT_DETECTION: :func:`object_detection_operator` (IoU x objectness x class cosine).
    - OBJECT_DETECTION_BOX_POSITION: IoU only (what places the box).
    - OBJECT_DETECTION_BOX_PROBA: IoU x objectness (what makes the detector see an object).
    - OBJECT_DETECTION_BOX_CLASS: IoU x class cosine (what gives the box its class).

    The IoU stays in every detection variant: it is what ties a predicted box to a reference.

    >>> from xplique import Tasks
    >>> [task.value for task in Tasks]  # doctest: +ELLIPSIS
    ['classification', 'regression', 'semantic_segmentation', 'object_detection', ...]
    >>> Tasks.from_string("object detection box proba") is Tasks.OBJECT_DETECTION_BOX_PROBA
    True
    """

    CLASSIFICATION = "classification"
    REGRESSION = "regression"
    SEMANTIC_SEGMENTATION = "semantic_segmentation"
    OBJECT_DETECTION = "object_detection"
    OBJECT_DETECTION_BOX_POSITION = "object_detection_box_position"
    OBJECT_DETECTION_BOX_PROBA = "object_detection_box_proba"
    OBJECT_DETECTION_BOX_CLASS = "object_detection_box_class"

    def __call__(self, model: Callable, inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        return _TASK_OPERATORS[self](model, inputs, targets)

    @property
    def operator(self) -> Callable:
        """The plain operator function this task names."""
        return _TASK_OPERATORS[self]

    @classmethod
    def from_string(cls, name: str) -> "Tasks":
        """Return the task named `name` (case-insensitive; spaces, dashes or underscores)."""
        if not isinstance(name, str):
            raise TypeError(f"`operator` name must be a string. Received: {name!r}")
        key = " ".join(name.strip().lower().replace("-", " ").replace("_", " ").split())
        by_name = {task.value.replace("_", " "): task for task in cls}
        ensure_choice(key, "operator", by_name)
        return by_name[key]


#: Task -> operator function.
_TASK_OPERATORS: Dict[Tasks, Callable] = {
    Tasks.CLASSIFICATION: predictions_operator,
    Tasks.REGRESSION: predictions_operator,
    Tasks.SEMANTIC_SEGMENTATION: semantic_segmentation_operator,
    Tasks.OBJECT_DETECTION: object_detection_operator,
    Tasks.OBJECT_DETECTION_BOX_POSITION: box_position_operator,
    Tasks.OBJECT_DETECTION_BOX_PROBA: box_proba_operator,
    Tasks.OBJECT_DETECTION_BOX_CLASS: box_class_operator,
}


def get_operator(operator) -> Callable:
    """Turn an `operator` argument (None, a :class:`Tasks` member, a name, a callable) into a
    callable `g(model, inputs, targets) -> (N,)`. None means classification."""
    if operator is None:
        return predictions_operator
    if isinstance(operator, Tasks):
        return operator.operator
    if isinstance(operator, str):
        return Tasks.from_string(operator).operator
    if callable(operator):
        return operator
    raise InvalidOperatorException(
        "`operator` must be None, a Tasks member, a task name or a callable "
        f"g(model, inputs, targets). Received: operator={operator!r}"
    )
