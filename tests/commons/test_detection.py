"""Object detection: box helpers, the detection operator and its variants, and detectors
explained by attribution methods that know nothing about detection."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from xplique import Tasks
from xplique.attributions import IntegratedGradients, Saliency, SmoothGrad
from xplique.attributions.occlusion import Occlusion
from xplique.attributions.rise import Rise
from xplique.commons.boxes import BoxType, box_iou, convert_boxes, format_detections, pad_boxes
from xplique.commons.operators import object_detection_operator
from xplique.metrics.fidelity import Deletion

# ---------------------------------------------------------------------------- box helpers


def test_convert_boxes_known_values():
    xyxy = np.array([[2.0, 4.0, 6.0, 10.0]], "float32")  # x1, y1, x2, y2
    np.testing.assert_allclose(convert_boxes(xyxy, "xyxy", "xywh"), [[2, 4, 4, 6]])
    np.testing.assert_allclose(convert_boxes(xyxy, "xyxy", "cxcywh"), [[4, 7, 4, 6]])
    # relative coordinates are fractions of (width, height) = (20, 40)
    relative = convert_boxes(xyxy, "xyxy", BoxType("xyxy", "relative"), image_size=(40, 20))
    np.testing.assert_allclose(relative, [[0.1, 0.1, 0.3, 0.25]])


@pytest.mark.parametrize("source, target", itertools.product(
    [BoxType(f, c) for f in ("xyxy", "xywh", "cxcywh") for c in ("pixel", "relative")],
    repeat=2,
))
def test_convert_boxes_round_trips(source, target):
    boxes = np.random.default_rng(0).uniform(0.1, 0.9, (3, 2, 4)).astype("float32")
    there = convert_boxes(boxes, source, target, image_size=(30, 50))
    back = convert_boxes(there, target, source, image_size=(30, 50))
    assert there.shape == boxes.shape
    np.testing.assert_allclose(back, boxes, rtol=1e-5, atol=1e-6)


def test_box_helpers_reject_bad_values():
    with pytest.raises(ValueError, match="format"):
        BoxType("yxyx")
    with pytest.raises(ValueError, match="source"):
        convert_boxes(np.zeros((1, 4)), "xyz", "xyxy")
    with pytest.raises(ValueError, match="image_size"):
        convert_boxes(np.zeros((1, 4)), BoxType("xyxy", "relative"), "xyxy")
    with pytest.raises(ValueError, match="last axis of size 4"):
        convert_boxes(np.zeros((1, 5)))
    with pytest.raises(ValueError, match="nb_boxes"):
        pad_boxes([np.ones((3, 6))], nb_boxes=2)


def test_box_iou_known_values_and_broadcasting():
    square = tf.constant([0.0, 0.0, 2.0, 2.0])
    others = tf.constant([
        [0.0, 0.0, 2.0, 2.0],  # same box
        [1.0, 0.0, 3.0, 2.0],  # half overlap: 2 / 6
        [0.5, 0.5, 1.5, 1.5],  # inside: 1 / 4
        [2.0, 0.0, 4.0, 2.0],  # touching: 0
        [5.0, 5.0, 6.0, 6.0],  # disjoint
        [0.0, 0.0, 0.0, 0.0],  # degenerate
    ])
    np.testing.assert_allclose(box_iou(square, others), [1, 1 / 3, 0.25, 0, 0, 0], rtol=1e-6)
    pairs = box_iou(others[:, None, :], others[None, :3, :])
    assert pairs.shape == (6, 3)
    np.testing.assert_allclose(pairs[:, 0], box_iou(square, others))


def test_pad_boxes_and_format_detections():
    padded = pad_boxes([np.ones((2, 7)), np.zeros((0, 7)), 2 * np.ones((1, 7))], nb_boxes=3)
    assert padded.shape == (3, 3, 7) and padded.dtype == tf.float32
    np.testing.assert_array_equal(padded[0, :2], 1)
    np.testing.assert_array_equal(padded[1], 0)
    np.testing.assert_array_equal(padded[2, 0], 2)
    np.testing.assert_array_equal(padded[2, 1:], 0)
    rows = format_detections([[0.5, 0.5, 0.5, 0.5]], [0.9], [[0.2, 0.8]],
                             BoxType("cxcywh", "relative"), image_size=(10, 20))
    np.testing.assert_allclose(rows, [[5, 2.5, 15, 7.5, 0.9, 0.2, 0.8]])


# -------------------------------------------------------------------- detection operator


def _identity(x):
    return x


NO_INPUTS = tf.zeros((1,))  # the models below ignore their inputs


REFERENCE = [0.0, 0.0, 2.0, 2.0, 1.0, 1.0, 0.0]  # box, objectness, one-hot class 0
PREDICTIONS = [
    [1.0, 0.0, 3.0, 2.0, 0.5, 0.6, 0.8],  # IoU 1/3, objectness 0.5, cosine 0.6
    [0.0, 0.0, 2.0, 2.0, 0.2, 0.0, 1.0],  # IoU 1, objectness 0.2, cosine 0
]


@pytest.mark.parametrize("task, expected", [
    (Tasks.OBJECT_DETECTION, max(1 / 3 * 0.5 * 0.6, 1 * 0.2 * 0.0)),
    (Tasks.OBJECT_DETECTION_BOX_POSITION, max(1 / 3, 1.0)),
    (Tasks.OBJECT_DETECTION_BOX_PROBA, max(1 / 3 * 0.5, 1 * 0.2)),
    (Tasks.OBJECT_DETECTION_BOX_CLASS, max(1 / 3 * 0.6, 1 * 0.0)),
])
def test_detection_scores_by_hand(task, expected):
    predictions = tf.constant([PREDICTIONS])
    for targets in (tf.constant([REFERENCE]), tf.constant([[REFERENCE]])):
        np.testing.assert_allclose(task(lambda x: predictions, NO_INPUTS, targets), [expected],
                                   rtol=1e-6)


def test_padded_rows_are_ignored_on_both_sides():
    """A zero prediction row would win over negative scores (logit-like class vectors) and a
    zero reference row would halve the mean: both are padding and must change nothing."""
    predictions = tf.constant([[[0.0, 0.0, 2.0, 2.0, 0.5, -1.0, 0.0]]])  # cosine -1
    padded_predictions = tf.concat([predictions, tf.zeros((1, 2, 7))], axis=1)
    targets = tf.constant([[REFERENCE]])
    padded_targets = tf.constant([[REFERENCE, [0.0] * 7, [0.0] * 7]])
    operator = Tasks.OBJECT_DETECTION
    expected = [1.0 * 0.5 * -1.0]
    for preds in (predictions, padded_predictions):
        for refs in (targets, padded_targets):
            np.testing.assert_allclose(operator(lambda x: preds, NO_INPUTS, refs), expected)
    # no reference or no prediction at all: score 0
    empty = tf.zeros((1, 2, 7))
    np.testing.assert_array_equal(operator(lambda x: predictions, NO_INPUTS, empty), [0.0])
    np.testing.assert_array_equal(operator(lambda x: empty, NO_INPUTS, targets), [0.0])


def _oracle(predictions, references, iou, objectness, classes):
    """Obviously-correct loops in float64."""
    scores = []
    for preds, refs in zip(predictions.astype("float64"), references.astype("float64")):
        preds = [p for p in preds if np.any(p != 0)]
        refs = [r for r in refs if np.any(r != 0)]
        if not preds or not refs:
            scores.append(0.0)
            continue
        best = []
        for ref in refs:
            candidates = []
            for pred in preds:
                score = iou(ref[:4], pred[:4])
                if objectness:
                    score *= pred[4]
                if classes:
                    norms = np.linalg.norm(ref[5:]) * np.linalg.norm(pred[5:])
                    score *= ref[5:] @ pred[5:] / norms if norms else 0.0
                candidates.append(score)
            best.append(max(candidates))
        scores.append(np.mean(best))
    return np.array(scores)


def _numpy_iou(a, b):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _random_boxes(rng, n, count, nb_classes, keep):
    corners = rng.uniform(0, 5, (n, count, 2))
    sizes = rng.uniform(1, 6, (n, count, 2))
    rows = np.concatenate([corners, corners + sizes, rng.uniform(0, 1, (n, count, 1)),
                           rng.normal(size=(n, count, nb_classes))], axis=-1)
    rows[rng.uniform(size=(n, count)) > keep] = 0.0  # padding rows
    return rows.astype("float32")


@pytest.mark.parametrize("objectness, classes", itertools.product([True, False], repeat=2))
def test_detection_operator_matches_loop_oracle(objectness, classes):
    rng = np.random.default_rng(3)
    predictions = _random_boxes(rng, 6, 9, 3, keep=0.7)
    references = _random_boxes(rng, 6, 4, 3, keep=0.6)
    references[0] = 0.0  # an image without reference
    predictions[1] = 0.0  # an image without prediction
    operator = object_detection_operator(include_detection_probability=objectness,
                                         include_classification_score=classes)
    scores = operator(lambda x: tf.constant(predictions), NO_INPUTS, tf.constant(references))
    expected = _oracle(predictions, references, _numpy_iou, objectness, classes)
    assert np.count_nonzero(expected) >= 3
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    # the direct call with keywords gives the same scores
    direct = object_detection_operator(lambda x: tf.constant(predictions), NO_INPUTS, references,
                                       include_detection_probability=objectness,
                                       include_classification_score=classes)
    np.testing.assert_allclose(direct, scores)


def test_detection_operator_takes_its_settings_positionally():
    """Xplique's order: (model, inputs, targets, intersection_score_fn,
    include_detection_probability, include_classification_score)."""
    predictions = tf.constant([PREDICTIONS])
    targets = tf.constant([REFERENCE])
    for flags, task in (((True, True), Tasks.OBJECT_DETECTION),
                        ((False, False), Tasks.OBJECT_DETECTION_BOX_POSITION),
                        ((True, False), Tasks.OBJECT_DETECTION_BOX_PROBA),
                        ((False, True), Tasks.OBJECT_DETECTION_BOX_CLASS)):
        positional = object_detection_operator(lambda x: predictions, NO_INPUTS, targets,
                                               box_iou, *flags)
        np.testing.assert_allclose(positional, task(lambda x: predictions, NO_INPUTS, targets))
    # a positional score function replaces the IoU: a constant 1 leaves objectness x cosine
    ones = lambda a, b: tf.ones_like(a[..., 0])  # noqa: E731
    np.testing.assert_allclose(
        object_detection_operator(lambda x: predictions, NO_INPUTS, targets, ones),
        [max(0.5 * 0.6, 0.2 * 0.0)], rtol=1e-6)
    # `intersection_score=`, the name of Xplique's documentation example, is an alias
    np.testing.assert_allclose(
        object_detection_operator(lambda x: predictions, NO_INPUTS, targets,
                                  intersection_score=ones),
        [max(0.5 * 0.6, 0.2 * 0.0)], rtol=1e-6)
    with pytest.raises(TypeError, match="not both"):
        object_detection_operator(intersection_score_fn=ones, intersection_score=ones)


def test_custom_intersection_score():
    """`intersection_score_fn` replaces the IoU, here by the intersection area."""
    def intersection(a, b):
        width = tf.nn.relu(tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]))
        height = tf.nn.relu(tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]))
        return width * height

    def numpy_intersection(a, b):
        return _numpy_iou(a, b) and (min(a[2], b[2]) - max(a[0], b[0])) * (
            min(a[3], b[3]) - max(a[1], b[1]))

    rng = np.random.default_rng(5)
    predictions = _random_boxes(rng, 4, 6, 2, keep=0.8)
    references = _random_boxes(rng, 4, 3, 2, keep=0.8)
    operator = object_detection_operator(intersection_score_fn=intersection)
    scores = operator(lambda x: tf.constant(predictions), NO_INPUTS, tf.constant(references))
    expected = _oracle(predictions, references, numpy_intersection, True, True)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


def test_detection_operator_errors():
    with pytest.raises(TypeError, match="include_detection_probability"):
        object_detection_operator(include_detection_probability=1)
    with pytest.raises(TypeError, match="intersection_score_fn"):
        object_detection_operator(intersection_score_fn="iou")
    with pytest.raises(TypeError, match="model, inputs, targets"):
        object_detection_operator(_identity)
    with pytest.raises(ValueError, match="nb_boxes"):
        Tasks.OBJECT_DETECTION(lambda x: tf.zeros((2, 7)), NO_INPUTS, tf.zeros((2, 7)))
    with pytest.raises(ValueError, match="targets"):
        Tasks.OBJECT_DETECTION(lambda x: tf.zeros((2, 3, 7)), NO_INPUTS, tf.zeros((2, 1, 3, 7)))


# ------------------------------------------------------- detectors explained by methods

CLASS_SCORES = np.array([[0.8, 0.2], [0.3, 0.7]], "float32")  # per anchor, input-independent


class TinyDetector(tf.Module):
    """Two fixed anchors on (N, 8, 8, 1) images plus one all-zero padding row.

    Anchor k covers a 4x4 quadrant (rows and columns 0:4, then 4:8); its objectness is the
    sigmoid of the mean pixel of that quadrant; its class scores are constants. Only the
    objectness depends on the input, so every gradient is known in closed form.
    """

    def __call__(self, inputs):
        n = tf.shape(inputs)[0]
        means = tf.stack([tf.reduce_mean(inputs[:, 0:4, 0:4, 0], axis=(1, 2)),
                          tf.reduce_mean(inputs[:, 4:8, 4:8, 0], axis=(1, 2))], axis=1)
        anchors = tf.constant([[0.0, 0.0, 4.0, 4.0], [4.0, 4.0, 8.0, 8.0]])
        rows = tf.concat([tf.broadcast_to(anchors, [n, 2, 4]), tf.sigmoid(means)[..., None],
                          tf.broadcast_to(CLASS_SCORES, [n, 2, 2])], axis=-1)
        return tf.concat([rows, tf.zeros([n, 1, 7])], axis=1)


def _detection_data():
    inputs = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 1)).astype("float32")
    first = [0.0, 0.0, 4.0, 4.0, 1.0, 1.0, 0.0]  # anchor 0, class 0
    second = [4.0, 4.0, 8.0, 8.0, 1.0, 0.0, 1.0]  # anchor 1, class 1
    targets = pad_boxes([[first], [first, second], [second]])
    return inputs, targets


def _per_matched_quadrant(inputs, targets, value_of):
    """Maps adding `cosine * value_of(s)` on the quadrant each reference box matches, averaged
    over the image's reference boxes (`s` the quadrant's objectness, sigmoid of its mean
    pixel; `cosine` between the box's classes and the anchor's); zero elsewhere."""
    result = np.zeros_like(inputs)
    for n, refs in enumerate(targets.numpy()):
        refs = [r for r in refs if np.any(r)]
        for ref in refs:
            k = 0 if ref[0] == 0 else 1
            quadrant = (n, slice(4 * k, 4 * k + 4), slice(4 * k, 4 * k + 4), 0)
            s = 1 / (1 + np.exp(-inputs[quadrant].mean()))
            cosine = ref[5:] @ CLASS_SCORES[k] / np.linalg.norm(CLASS_SCORES[k])
            result[quadrant] += cosine * value_of(s) / len(refs)
    return result


def _expected_gradient(inputs, targets):
    """d score / d pixel: cosine * sigmoid'(mean) / 16 inside the matched quadrant, averaged
    over the image's reference boxes."""
    return _per_matched_quadrant(inputs, targets, lambda s: s * (1 - s) / 16)


def test_saliency_of_a_padded_detector_is_the_closed_form_gradient():
    inputs, targets = _detection_data()
    expected = _expected_gradient(inputs, targets)
    for batch_size in (1, 2, 8):
        explanations = Saliency(TinyDetector(), batch_size=batch_size,
                                operator=Tasks.OBJECT_DETECTION)(inputs, targets)
        np.testing.assert_allclose(explanations, np.abs(expected), rtol=1e-5, atol=1e-8)
    # one box per image, given as (N, 7) rows
    single = Saliency(TinyDetector(), operator="object detection")(inputs[:1], targets[:1, 0])
    np.testing.assert_allclose(single, np.abs(expected[:1]), rtol=1e-5, atol=1e-8)
    # the position variant has nothing to explain here (fixed anchors)
    position = Saliency(TinyDetector(), operator=Tasks.OBJECT_DETECTION_BOX_POSITION)
    np.testing.assert_array_equal(position(inputs, targets), 0.0)


@pytest.mark.parametrize("task", [task for task in Tasks if "DETECTION" in task.name])
def test_detection_needs_reference_boxes(task):
    """targets=None (the top output) has no meaning for detection: a clear error, for
    explainers and metrics alike."""
    inputs, targets = _detection_data()
    with pytest.raises(ValueError, match="`targets` is required"):
        Saliency(TinyDetector(), operator=task)(inputs)
    with pytest.raises(ValueError, match="`targets` is required"):
        Deletion(TinyDetector(), inputs, None, operator=task)


def test_integrated_gradients_of_a_detector_is_complete():
    """Completeness: the attributions sum to score(x) - score(baseline)."""
    inputs, targets = _detection_data()
    model = TinyDetector()
    explanations = IntegratedGradients(model, steps=64, operator=Tasks.OBJECT_DETECTION_BOX_PROBA,
                                       reducer=None)(inputs, targets).numpy()
    scores = Tasks.OBJECT_DETECTION_BOX_PROBA(model, inputs, targets).numpy()
    baseline = Tasks.OBJECT_DETECTION_BOX_PROBA(model, np.zeros_like(inputs), targets).numpy()
    np.testing.assert_allclose(explanations.sum(axis=(1, 2, 3)), scores - baseline, atol=1e-4)
    assert np.all(explanations[np.abs(_expected_gradient(inputs, targets)) == 0] == 0)


def test_smoothgrad_of_a_detector_stays_in_the_matched_boxes():
    inputs, targets = _detection_data()
    explanations = SmoothGrad(TinyDetector(), nb_samples=8, operator=Tasks.OBJECT_DETECTION,
                              seed=0)(inputs, targets).numpy()
    inside = _expected_gradient(inputs, targets) != 0
    assert np.all(explanations[~inside] == 0)
    assert np.all(explanations[inside] > 0)


def test_occlusion_of_a_padded_detector_is_the_closed_form_drop():
    """Patches equal to the quadrants: occluding the matched quadrant (with 0) sets its
    objectness to sigmoid(0), so its cells get `cosine * (sigmoid(mean) - 1/2)`, averaged
    over the image's references; the other quadrants change nothing."""
    inputs, targets = _detection_data()
    expected = _per_matched_quadrant(inputs, targets, lambda s: s - 0.5)
    for batch_size in (1, 3, 64):
        explanations = Occlusion(TinyDetector(), batch_size=batch_size, patch_size=4,
                                 patch_stride=4, operator=Tasks.OBJECT_DETECTION)(inputs, targets)
        np.testing.assert_allclose(explanations, expected, rtol=1e-5, atol=1e-7)


def test_rise_of_a_padded_detector_highlights_the_matched_box():
    """With positive pixels, keeping more of the matched quadrant raises its objectness, so
    RISE ranks that quadrant above the two quadrants no anchor reads."""
    inputs = np.random.default_rng(2).uniform(3, 5, (2, 8, 8, 1)).astype("float32")
    first = [0.0, 0.0, 4.0, 4.0, 1.0, 1.0, 0.0]
    second = [4.0, 4.0, 8.0, 8.0, 1.0, 0.0, 1.0]
    targets = pad_boxes([[first], [second, [0.0] * 7]], nb_boxes=3)
    explanations = Rise(TinyDetector(), batch_size=50, nb_samples=300, grid_size=2, seed=0,
                        operator=Tasks.OBJECT_DETECTION)(inputs, targets).numpy()[..., 0]
    quadrants = [explanations[:, :4, :4], explanations[:, :4, 4:], explanations[:, 4:, :4],
                 explanations[:, 4:, 4:]]
    means = np.stack([q.mean(axis=(1, 2)) for q in quadrants], axis=1)  # (N, 4 quadrants)
    matched = [0, 3]
    for n, k in enumerate(matched):
        assert means[n, k] > means[n, 1] and means[n, k] > means[n, 2], means[n]


def test_fidelity_metrics_score_detections_through_the_operator():
    """Deletion in one step: its curve is the mean detection score of the inputs, then of the
    all-zero baseline (what the metric sees comes only from the operator)."""
    inputs, targets = _detection_data()
    model = TinyDetector()
    metric = Deletion(model, inputs, targets, steps=1, operator=Tasks.OBJECT_DETECTION)
    curve = metric.detailed_evaluate(np.abs(_expected_gradient(inputs, targets)))
    scores = Tasks.OBJECT_DETECTION(model, inputs, targets).numpy()
    baseline = Tasks.OBJECT_DETECTION(model, np.zeros_like(inputs), targets).numpy()
    np.testing.assert_allclose(list(curve.values()), [scores.mean(), baseline.mean()],
                               rtol=1e-5)


def test_detection_tutorial_runs():
    from tests.helpers import run_tutorial

    namespace = run_tutorial("detection.ipynb")
    assert namespace["detections"].shape == (2, 20, 7)
    assert namespace["targets"].shape[0] == 2 and namespace["targets"].shape[2] == 7
