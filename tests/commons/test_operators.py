"""Operators and Tasks: every task is a real, callable enum member reachable by name."""

import numpy as np
import pytest
import tensorflow as tf

from xplique import Tasks
from xplique.commons.data import prepare_targets
from xplique.commons.gradients import gradient_of, predictions_of
from xplique.commons.operators import (
    box_class_operator,
    box_position_operator,
    box_proba_operator,
    get_operator,
    object_detection_operator,
    predictions_operator,
    semantic_segmentation_operator,
)

EXPECTED = {
    Tasks.CLASSIFICATION: predictions_operator,
    Tasks.REGRESSION: predictions_operator,
    Tasks.SEMANTIC_SEGMENTATION: semantic_segmentation_operator,
    Tasks.OBJECT_DETECTION: object_detection_operator,
    Tasks.OBJECT_DETECTION_BOX_POSITION: box_position_operator,
    Tasks.OBJECT_DETECTION_BOX_PROBA: box_proba_operator,
    Tasks.OBJECT_DETECTION_BOX_CLASS: box_class_operator,
}


def test_every_task_is_a_member_with_its_operator():
    assert list(Tasks) == list(EXPECTED)
    for task, operator in EXPECTED.items():
        assert task.operator is operator
        assert get_operator(task) is operator
        assert get_operator(task.value) is operator


@pytest.mark.parametrize("name, task", [
    ("classification", Tasks.CLASSIFICATION),
    ("Regression", Tasks.REGRESSION),
    ("semantic segmentation", Tasks.SEMANTIC_SEGMENTATION),
    ("semantic_segmentation", Tasks.SEMANTIC_SEGMENTATION),
    ("object detection", Tasks.OBJECT_DETECTION),
    ("OBJECT_DETECTION", Tasks.OBJECT_DETECTION),
    ("object detection box position", Tasks.OBJECT_DETECTION_BOX_POSITION),
    ("object_detection_box_position", Tasks.OBJECT_DETECTION_BOX_POSITION),
    ("object detection box proba", Tasks.OBJECT_DETECTION_BOX_PROBA),
    ("object_detection box_proba", Tasks.OBJECT_DETECTION_BOX_PROBA),
    ("object detection box class", Tasks.OBJECT_DETECTION_BOX_CLASS),
    ("object-detection-box-class", Tasks.OBJECT_DETECTION_BOX_CLASS),
])
def test_from_string_accepts_spaces_underscores_and_case(name, task):
    assert Tasks.from_string(name) is task


def test_unknown_names_list_the_tasks():
    with pytest.raises(ValueError, match="object detection box proba"):
        Tasks.from_string("object detection box")
    with pytest.raises(TypeError, match="operator"):
        get_operator(3)


def _segmentation_case():
    rng = np.random.default_rng(0)
    outputs = rng.normal(size=(2, 3, 4, 2)).astype("float32")
    targets = np.zeros_like(outputs)
    targets[0, :2, :2, 1] = 1.0
    targets[1, 0, 0, 0] = 1.0
    targets[1, 2, 3, 0] = -1.0
    return outputs, targets


def test_members_are_callable_and_score_like_their_operator():
    identity = lambda x: x  # noqa: E731
    outputs, targets = _segmentation_case()
    expected = semantic_segmentation_operator(identity, outputs, targets)
    np.testing.assert_array_equal(Tasks.SEMANTIC_SEGMENTATION(identity, outputs, targets),
                                  expected)
    boxes = tf.constant([[[0.0, 0.0, 2.0, 2.0, 0.5, 1.0, 0.0]]])
    np.testing.assert_allclose(Tasks.OBJECT_DETECTION(identity, boxes, boxes[:, 0]), [0.5])


def test_segmentation_and_detection_targets_pass_through_prepare_targets():
    """Rank 2 to 4 targets are not class indices: they come back as float32, unchanged."""
    outputs, targets = _segmentation_case()
    for value in (targets, targets[:, 0], np.ones((2, 7), "int32")):
        prepared = prepare_targets(tf.constant(value), lambda: pytest.fail("not class indices"))
        assert prepared.dtype == tf.float32
        np.testing.assert_array_equal(prepared.numpy(), value)


@pytest.mark.parametrize("task", list(Tasks))
def test_every_operator_runs_inside_compiled_kernels_and_traces_once(task):
    """The operators are pure TF: compiled scores and gradients match eager ones and a new
    number of inputs does not retrace."""
    if task in (Tasks.CLASSIFICATION, Tasks.REGRESSION):
        model = lambda x: tf.reduce_sum(x, axis=1) ** 2  # noqa: E731
        inputs = tf.random.stateless_uniform((5, 3, 4), (0, 1))
        targets = tf.random.stateless_uniform((5, 4), (0, 2))
    elif task is Tasks.SEMANTIC_SEGMENTATION:
        model = lambda x: x**2  # noqa: E731
        inputs = tf.random.stateless_uniform((5, 3, 4, 2), (0, 1))
        targets = tf.cast(tf.random.stateless_uniform((5, 3, 4, 2), (0, 2)) > 0.5, tf.float32)
    else:
        # boxes grow with the inputs: (N, 3 boxes, 7) from (N, 3, 7) inputs
        def model(x):
            corner = 2.0 * x[..., :2]
            return tf.concat([corner, corner + 1.0 + 2.0 * x[..., 2:4], tf.sigmoid(x[..., 4:])], -1)

        inputs = tf.random.stateless_uniform((5, 3, 7), (0, 1))
        targets = tf.concat([tf.constant([[0.0, 0.0, 2.0, 2.0, 1.0, 0.0, 1.0]])] * 5, 0)
    predictions = predictions_of(model, task.operator)
    gradients = gradient_of(model, task.operator)
    eager_scores = task(model, inputs, targets)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        total = tf.reduce_sum(task(model, inputs, targets))
    eager_gradients = tape.gradient(total, inputs)
    np.testing.assert_allclose(predictions(inputs, targets), eager_scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradients(inputs, targets), eager_gradients, rtol=1e-5,
                               atol=1e-6)
    assert np.all(np.isfinite(eager_gradients.numpy()))
    assert np.any(eager_gradients.numpy() != 0)
    predictions(inputs[:2], targets[:2])
    gradients(inputs[:3], targets[:3])
    assert predictions.tracing_count == 1 and gradients.tracing_count == 1


# ------------------------------------------------------------ Xplique's public names


def test_regression_operator_is_the_mean_absolute_error_and_deprecated():
    from xplique.commons.operators import regression_operator

    outputs = np.array([[1.0, -2.0, 3.0], [0.5, 0.5, 0.5]], "float32")
    targets = np.array([[1.0, 0.0, 0.0], [0.0, 1.5, 0.5]], "float32")
    with pytest.warns(DeprecationWarning, match="regression_operator"):
        scores = regression_operator(lambda x: x, tf.constant(outputs), targets)
    np.testing.assert_allclose(scores, np.abs(outputs - targets).mean(axis=-1), rtol=1e-6)
    # the reason it is deprecated: at targets = model(x) the gradient vanishes
    model = lambda x: 2.0 * x  # noqa: E731
    x = tf.constant([[0.3, -0.7]])
    with pytest.warns(DeprecationWarning):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = regression_operator(model, x, model(x))
    np.testing.assert_array_equal(tape.gradient(score, x), 0.0)


def test_invalid_operators_raise_xplique_exception_types():
    from xplique.commons.exceptions import (
        InvalidModelException,
        InvalidOperatorException,
        no_gradients_available,
        raise_invalid_operator,
    )

    with pytest.raises(InvalidOperatorException, match="operator"):
        get_operator(42)
    with pytest.raises(TypeError):  # still a TypeError for code catching that
        get_operator(42)
    with pytest.raises(InvalidOperatorException):
        raise_invalid_operator()
    with pytest.raises(InvalidModelException, match="gradients"):
        no_gradients_available()
