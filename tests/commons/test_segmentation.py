"""Semantic segmentation: the operator, the target builders, and segmenters explained by
attribution methods that know nothing about segmentation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_tutorial
from xplique import Tasks
from xplique.attributions import IntegratedGradients, Saliency
from xplique.attributions.grad_cam import GradCAM
from xplique.commons.segmentation import (
    get_class_zone,
    get_common_border,
    get_connected_zone,
    get_in_out_border,
    list_class_connected_zones,
)
from xplique.metrics.fidelity import Deletion

# ------------------------------------------------------------------------------ operator


def test_segmentation_score_by_hand():
    outputs = np.arange(2 * 2 * 3 * 2, dtype="float32").reshape(2, 2, 3, 2)
    targets = np.zeros_like(outputs)
    targets[0, 0, :, 1] = 1.0  # outputs 1, 3, 5 -> mean 3
    targets[1, 1, 2, 0] = 1.0  # output 22
    targets[1, 0, 0, 1] = -1.0  # output 13, subtracted: (22 - 13) / 2
    scores = Tasks.SEMANTIC_SEGMENTATION(lambda x: x, outputs, targets)
    np.testing.assert_allclose(scores, [3.0, 4.5])
    # an empty zone scores 0, not NaN
    np.testing.assert_array_equal(
        Tasks.SEMANTIC_SEGMENTATION(lambda x: x, outputs, np.zeros_like(outputs)), [0.0, 0.0])


# ----------------------------------------------------------------------- target builders


def _predictions(class_map, nb_classes=3):
    """Scores whose argmax is `class_map`."""
    return np.eye(nb_classes, dtype="float32")[np.asarray(class_map)] * 2.0 + 0.1


CLASS_MAP = np.array([
    [0, 1, 1, 0, 2],
    [0, 1, 0, 0, 2],
    [0, 0, 0, 1, 0],
    [1, 0, 0, 1, 1],
])


def test_class_zone():
    zone = get_class_zone(_predictions(CLASS_MAP), 1).numpy()
    assert zone.shape == (4, 5, 3) and zone.dtype == np.float32
    np.testing.assert_array_equal(zone[..., 1], CLASS_MAP == 1)
    np.testing.assert_array_equal(zone[..., [0, 2]], 0)
    batch = get_class_zone(np.stack([_predictions(CLASS_MAP), _predictions(CLASS_MAP[::-1])]), 2)
    np.testing.assert_array_equal(batch[1, ..., 2], CLASS_MAP[::-1] == 2)


def test_connected_zone_is_8_connected():
    zone = get_connected_zone(_predictions(CLASS_MAP), (0, 2)).numpy()
    expected = np.zeros((4, 5), bool)
    expected[0, 1] = expected[0, 2] = expected[1, 1] = True
    np.testing.assert_array_equal(zone[..., 1], expected)
    np.testing.assert_array_equal(zone[..., [0, 2]], 0)
    # (2, 3) and (3, 3), (3, 4) form another class-1 region; (3, 0) touches nothing
    other = get_connected_zone(_predictions(CLASS_MAP), (3, 4)).numpy()[..., 1]
    assert set(zip(*np.nonzero(other))) == {(2, 3), (3, 3), (3, 4)}
    # pixels touching only by a corner belong to one zone (as with cv2.connectedComponents)
    diagonal = np.eye(4, dtype=int)
    chain = get_connected_zone(_predictions(diagonal), (0, 0)).numpy()[..., 1]
    np.testing.assert_array_equal(chain, np.eye(4))
    assert len(list_class_connected_zones(_predictions(diagonal), 1, zone_minimum_size=1)) == 1
    # the other class is split by the diagonal only 4-wise: 8-wise it crosses it
    assert len(list_class_connected_zones(_predictions(diagonal), 0, zone_minimum_size=1)) == 1


def test_list_class_connected_zones_largest_first():
    zones = list_class_connected_zones(_predictions(CLASS_MAP), 1, zone_minimum_size=1)
    sizes = [int(zone.numpy().sum()) for zone in zones]
    assert sizes == [3, 3, 1]
    assert len(list_class_connected_zones(_predictions(CLASS_MAP), 1, zone_minimum_size=2)) == 2
    total = sum(zone.numpy() for zone in zones)
    np.testing.assert_array_equal(total, get_class_zone(_predictions(CLASS_MAP), 1))


def test_in_out_border_by_hand():
    class_map = np.zeros((5, 5), int)
    class_map[1:3, 1:3] = 2
    border = get_in_out_border(get_class_zone(_predictions(class_map), 2)).numpy()
    expected = np.zeros((5, 5))
    expected[0:4, 0:4] = -1.0  # the 8-neighbours outside, diagonals included
    expected[1:3, 1:3] = 1.0  # every pixel of a 2x2 block touches the outside
    np.testing.assert_array_equal(border[..., 2], expected)
    np.testing.assert_array_equal(border[..., :2], 0)


def test_in_out_border_matches_xplique_docstring_example():
    """The zone and border printed in Xplique's `get_in_out_border` docstring."""
    zone = np.array([
        [0, 0, 0, 0, 0],
        [0, 0, 0, 1, 1],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 1],
        [0, 1, 1, 1, 1],
    ])
    expected = np.array([
        [0, 0, -1, -1, -1],
        [0, -1, -1, 1, 1],
        [0, -1, 1, 1, 0],
        [-1, -1, 1, 0, 0],
        [-1, 1, 1, 0, 0],
    ])
    border = get_in_out_border(get_class_zone(_predictions(zone, nb_classes=2), 1)).numpy()
    np.testing.assert_array_equal(border[..., 1], expected)
    np.testing.assert_array_equal(border[..., 0], 0)


def test_in_out_border_ignores_the_image_frame_and_common_border():
    """Left half class 0, right half class 1: the only border is between columns 1 and 2."""
    class_map = np.zeros((4, 4), int)
    class_map[:, 2:] = 1
    predictions = _predictions(class_map, nb_classes=2)
    left = get_in_out_border(get_class_zone(predictions, 0)).numpy()
    right = get_in_out_border(get_class_zone(predictions, 1)).numpy()
    np.testing.assert_array_equal(left[..., 0], np.tile([0, 1, -1, 0], (4, 1)))
    np.testing.assert_array_equal(right[..., 1], np.tile([0, -1, 1, 0], (4, 1)))
    common = get_common_border(left, right).numpy()
    np.testing.assert_array_equal(common[..., 0], np.tile([0, 1, -1, 0], (4, 1)))
    np.testing.assert_array_equal(common[..., 1], np.tile([0, -1, 1, 0], (4, 1)))
    # a zone in the corner only touches the left one: its outer border meets the right
    # zone's outer border at (0, 1), a pixel inside neither, which is no common border
    class_map[0, 0] = 2
    corner = get_in_out_border(get_class_zone(_predictions(class_map), 2)).numpy()
    far = get_in_out_border(get_class_zone(_predictions(class_map), 1)).numpy()
    np.testing.assert_array_equal(get_common_border(corner, far), 0)


def test_borders_of_a_batch_equal_per_image_borders():
    maps = np.random.default_rng(0).integers(0, 3, (3, 6, 7))
    zones = get_class_zone(_predictions(maps), 1)
    batch = get_in_out_border(zones).numpy()
    for index in range(3):
        np.testing.assert_array_equal(batch[index], get_in_out_border(zones[index]))


def test_target_builders_reject_bad_values():
    predictions = _predictions(CLASS_MAP)
    with pytest.raises(ValueError, match="class_id"):
        get_class_zone(predictions, 3)
    with pytest.raises(TypeError, match="class_id"):
        get_class_zone(predictions, 1.0)
    with pytest.raises(ValueError, match="coordinates"):
        get_connected_zone(predictions, (4, 0))
    with pytest.raises(ValueError, match="predictions"):
        get_connected_zone(predictions[None], (0, 0))
    with pytest.raises(ValueError, match="same shape"):
        get_common_border(predictions, predictions[:2])
    with pytest.raises(ValueError, match="zone_minimum_size"):
        list_class_connected_zones(predictions, 1, zone_minimum_size=0)


# ---------------------------------------------------------- segmenters explained by methods

H, W, C_IN, C_OUT = 6, 7, 3, 2


def _linear_segmenter():
    """A 1x1 convolution: outputs[p] = inputs[p] @ WEIGHTS, so every gradient is known."""
    inputs = keras.Input((H, W, C_IN))
    head = keras.layers.Conv2D(C_OUT, 1, use_bias=False, name="head")
    model = keras.Model(inputs, head(inputs))
    head.set_weights([WEIGHTS[None, None]])
    return model


WEIGHTS = np.array([[0.5, -2.0], [1.5, 0.25], [-1.0, 1.0]], "float32")


def _segmentation_data():
    inputs = np.random.default_rng(1).uniform(-1, 1, (2, H, W, C_IN)).astype("float32")
    targets = np.zeros((2, H, W, C_OUT), "float32")
    targets[0, 1:4, 2:5, 1] = 1.0  # a 3x3 zone of class 1
    targets[1] = get_in_out_border(targets[:1])[0]  # its in/out border (+1 / -1)
    return inputs, targets


def test_saliency_and_integrated_gradients_with_the_segmentation_operator():
    """For a linear segmenter the gradient of the zone score is `mask[p, c] * W[:, c] / |zone|`
    and Integrated Gradients from a zero baseline is exactly `x * gradient`."""
    inputs, targets = _segmentation_data()
    model = _linear_segmenter()
    gradient = np.einsum("nhwc,kc->nhwk", targets, WEIGHTS)
    gradient /= np.count_nonzero(targets.reshape(2, -1), axis=1)[:, None, None, None]
    saliency = Saliency(model, operator=Tasks.SEMANTIC_SEGMENTATION, reducer=None)
    np.testing.assert_allclose(saliency(inputs, targets), np.abs(gradient), rtol=1e-5,
                               atol=1e-7)
    max_saliency = Saliency(model, operator="semantic segmentation")(inputs, targets)
    np.testing.assert_allclose(max_saliency, np.abs(gradient).max(-1, keepdims=True),
                               rtol=1e-5, atol=1e-7)
    integrated = IntegratedGradients(model, steps=4, operator=Tasks.SEMANTIC_SEGMENTATION,
                                     reducer=None)(inputs, targets)
    np.testing.assert_allclose(integrated, inputs * gradient, rtol=1e-5, atol=1e-7)


def test_segmentation_targets_stream_from_datasets_and_default_to_the_prediction():
    inputs, targets = _segmentation_data()
    model = _linear_segmenter()
    saliency = Saliency(model, batch_size=1, operator=Tasks.SEMANTIC_SEGMENTATION)
    expected = saliency(inputs, targets)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    np.testing.assert_allclose(saliency(dataset), expected, rtol=1e-6)
    np.testing.assert_allclose(saliency(dataset.batch(1)), expected, rtol=1e-6)
    # no targets: the predicted class of every pixel
    outputs = model(inputs)
    predicted = tf.one_hot(tf.argmax(outputs, -1), C_OUT)
    np.testing.assert_allclose(saliency(inputs), saliency(inputs, predicted), rtol=1e-6)


def _conv_segmenter():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((H, W, C_IN))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    outputs = keras.layers.Conv2D(C_OUT, 1, name="head")(features)
    return keras.Model(inputs, outputs)


def test_gradcam_with_the_segmentation_operator_matches_its_formula():
    """Grad-CAM at a same-size feature map: ReLU(sum_k mean(dg/dA_k) A_k), with g the zone
    score; different zones give different maps (the operator takes effect)."""
    inputs, targets = _segmentation_data()
    model = _conv_segmenter()
    features = keras.Model(model.inputs, [model.get_layer("conv").output, model.output])
    x = tf.constant(inputs)
    with tf.GradientTape() as tape:
        activations, outputs = features(x)
        total = tf.reduce_sum(Tasks.SEMANTIC_SEGMENTATION(lambda _: outputs, x, targets))
    gradients = tape.gradient(total, activations)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    expected = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1, keepdims=True))
    maps = GradCAM(model, operator=Tasks.SEMANTIC_SEGMENTATION, conv_layer="conv")(
        inputs, targets)
    assert maps.shape == (2, H, W, 1)
    np.testing.assert_allclose(maps, expected, rtol=1e-4, atol=1e-6)
    other = targets.copy()
    other[0] = 0.0
    other[0, 4:, :, 0] = 1.0
    assert not np.allclose(
        GradCAM(model, operator=Tasks.SEMANTIC_SEGMENTATION)(inputs[:1], other[:1]), maps[:1])


def test_fidelity_metrics_score_zones_through_the_operator():
    """Deletion in one step: its curve is the mean zone score of the inputs, then of the
    all-zero baseline (0 for a linear segmenter)."""
    inputs, targets = _segmentation_data()
    model = _linear_segmenter()
    metric = Deletion(model, inputs, targets, steps=1, operator="semantic segmentation")
    curve = metric.detailed_evaluate(np.ones((2, H, W, 1), "float32"))
    scores = Tasks.SEMANTIC_SEGMENTATION(model, inputs, targets).numpy()
    np.testing.assert_allclose(list(curve.values()), [scores.mean(), 0.0], rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------ tutorials


def test_segmentation_tutorial_runs():
    namespace = run_tutorial("segmentation.ipynb")
    maps = namespace["explanations"]
    assert set(maps) == {"Saliency", "Integrated Gradients", "Grad-CAM"}
    for explanation in maps.values():
        assert explanation.shape == (4, 32, 32, 1) and np.all(np.isfinite(explanation))
