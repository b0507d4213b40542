"""Xplique's public paths and names import and behave: utils_functions, box types, detection
plots, exceptions, the fidelity re-exports and the randomization strategy base."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.patches as mpatches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402


def test_utils_functions_segmentation_is_the_segmentation_helpers():
    from xplique.commons import segmentation as ours
    from xplique.utils_functions import segmentation

    for name in segmentation.__all__:
        assert getattr(segmentation, name) is getattr(ours, name)
    zone = np.zeros((4, 4, 2), np.float32)
    zone[1:3, 1:3, 1] = 1.0
    border = segmentation.get_in_out_border(zone).numpy()[..., 1]
    assert border[0, 0] == -1.0  # the diagonal neighbour is on the outer border (8-connected)


def test_utils_functions_object_detection_names():
    from xplique.commons.operators import object_detection_operator
    from xplique.utils_functions import object_detection as od

    assert od.object_detection_operator is object_detection_operator
    boxes = tf.constant([[10.0, 20.0, 30.0, 60.0, 0.9, 0.2, 0.8]])  # xyxy + score + classes
    centred = od.box_xyxy_to_cxcywh(boxes).numpy()
    np.testing.assert_allclose(centred, [[20.0, 40.0, 20.0, 40.0, 0.9, 0.2, 0.8]])
    np.testing.assert_allclose(od.box_cxcywh_to_xyxy(centred), boxes)
    np.testing.assert_allclose(od.box_xyxy_to_xywh(boxes)[..., :4], [[10.0, 20.0, 20.0, 40.0]])
    np.testing.assert_allclose(od.box_xywh_to_xyxy(od.box_xyxy_to_xywh(boxes)), boxes)
    # Xplique's box managers take (width, height)
    relative = od.normalize_boxes(boxes, (100, 200)).numpy()
    np.testing.assert_allclose(relative[0, :4], [0.1, 0.1, 0.3, 0.3])
    np.testing.assert_allclose(od.denormalize_boxes(relative, (100, 200)), boxes, rtol=1e-6)
    # the IoU under Xplique's private name, and the row splitter
    assert float(od._box_iou(tf.constant([0., 0., 2., 2.]), tf.constant([1., 0., 3., 2.]))) == \
        pytest.approx(1 / 3)
    coordinates, probability, classes = od._format_objects(boxes)
    assert coordinates.shape == (1, 4) and probability.shape == (1, 1) and classes.shape == (1, 2)


def test_box_types_accept_xplique_spellings():
    from xplique.utils_functions.object_detection import (
        BoxCoordinatesMode,
        BoxFormat,
        BoxType,
        convert_boxes,
    )

    assert BoxType(BoxFormat.XYXY, is_normalized=False) == BoxType("xyxy", "pixel")
    assert BoxType(BoxFormat.CXCYWH, True) == BoxType("cxcywh", BoxCoordinatesMode.RELATIVE)
    assert BoxType("XYWH", BoxCoordinatesMode.NORMALIZED).is_normalized
    assert BoxFormat("XYXY") is BoxFormat.XYXY and BoxFormat("cxcywh") is BoxFormat.CXCYWH
    assert {BoxType(BoxFormat.XYXY, False), BoxType("xyxy")} == {BoxType()}
    with pytest.raises(AttributeError):
        BoxType().format = BoxFormat.XYWH
    with pytest.raises(ValueError, match="format"):
        BoxType("yxyx")
    with pytest.raises(TypeError, match="is_normalized"):
        BoxType("xyxy", is_normalized="yes")
    # conversions with enum-typed box types match the string-typed ones
    boxes = np.array([[0.5, 0.5, 0.2, 0.4]], np.float32)
    np.testing.assert_allclose(
        convert_boxes(boxes, BoxType(BoxFormat.CXCYWH, is_normalized=True),
                      BoxType(BoxFormat.XYXY, is_normalized=False), image_size=(50, 100)),
        [[40.0, 15.0, 60.0, 35.0]])


def test_exceptions_and_regression_operator_paths():
    from xplique.commons.exceptions import InvalidModelException, InvalidOperatorException
    from xplique.commons.operators import regression_operator

    assert issubclass(InvalidOperatorException, TypeError)
    assert issubclass(InvalidModelException, TypeError)
    with pytest.warns(DeprecationWarning):
        regression_operator(lambda x: x, tf.ones((1, 2)), tf.zeros((1, 2)))


def test_fidelity_and_randomization_exports():
    from xplique import metrics
    from xplique.metrics import fidelity, randomization

    for name in ("AverageDropMetric", "AverageIncreaseMetric", "AverageGainMetric"):
        assert getattr(fidelity, name) is getattr(metrics, name)
    assert issubclass(randomization.ProgressiveLayerRandomization,
                      randomization.ModelRandomizationStrategy)
    with pytest.raises(TypeError):
        randomization.ModelRandomizationStrategy()  # abstract


# ------------------------------------------------------------------- detection plots


def _rectangles(ax):
    return [patch for patch in ax.patches if isinstance(patch, mpatches.Rectangle)]


def test_plot_image_detections_draws_each_box_where_it_is():
    from xplique.plots import plot_image_detections
    from xplique.utils_functions.object_detection import BoxFormat, BoxType

    image = np.random.default_rng(0).uniform(size=(40, 60, 3))
    detections = np.array([
        [5.0, 10.0, 25.0, 30.0, 0.9, 0.1, 0.9],   # class 1
        [30.0, 0.0, 60.0, 20.0, 0.4, 0.8, 0.2],   # class 0
        [0.0] * 7,                                 # padding
    ])
    colors = {"cat": "red", "dog": "blue"}
    figure = plot_image_detections(image, detections, ["cat", "dog"], colors,
                                   heatmap=np.ones((8, 12)), title="two boxes")
    ax = figure.axes[0]
    rectangles = _rectangles(ax)
    assert len(rectangles) == 2
    assert [(r.get_x(), r.get_y(), r.get_width(), r.get_height()) for r in rectangles] == [
        (5.0, 10.0, 20.0, 20.0), (30.0, 0.0, 30.0, 20.0)]
    assert matplotlib.colors.to_hex(rectangles[0].get_edgecolor()) == "#0000ff"  # dog
    assert [text.get_text() for text in ax.texts] == ["0.90", "0.40"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["dog", "cat"]
    assert ax.get_title() == "two boxes"
    assert len(ax.images) == 2  # the image and the heatmap stretched over it
    assert ax.images[1].get_extent() == [-0.5, 59.5, 39.5, -0.5]
    plt.close(figure)
    # relative centre-size boxes are scaled to the image
    centred = np.array([[0.25, 0.5, 0.5, 0.5, 1.0, 1.0, 0.0]])
    figure = plot_image_detections(image, centred, ["cat", "dog"], colors,
                                   box_type=BoxType(BoxFormat.CXCYWH, is_normalized=True))
    rectangle = _rectangles(figure.axes[0])[0]
    assert (rectangle.get_x(), rectangle.get_y(), rectangle.get_width(),
            rectangle.get_height()) == pytest.approx((0.0, 10.0, 30.0, 20.0))
    plt.close(figure)


class _MultiBox:
    """Xplique's multi-box tensors expose boxes(), scores() and probas()."""

    def __init__(self, rows):
        self.rows = np.asarray(rows)

    def boxes(self):
        return self.rows[:, :4]

    def scores(self):
        return self.rows[:, 4]

    def probas(self):
        return self.rows[:, 5:]


def test_plot_images_detections_grid_and_errors():
    from xplique.plots.object_detection import plot_images_detections

    images = np.random.default_rng(1).uniform(size=(3, 20, 20))
    results = [np.array([[1.0, 1.0, 5.0, 5.0, 0.5, 1.0]]), _MultiBox([[2, 2, 9, 9, 0.7, 1.0]]),
               np.zeros((2, 6))]
    figure = plot_images_detections(images, results, ["thing"], {"thing": "green"},
                                    titles=["a", "b", "c"], num_cols=2)
    assert len(figure.axes) == 4
    assert [len(_rectangles(ax)) for ax in figure.axes] == [1, 1, 0, 0]
    assert [ax.get_title() for ax in figure.axes[:3]] == ["a", "b", "c"]
    assert figure.axes[3].axison is False
    plt.close(figure)
    with pytest.raises(ValueError, match="multibox_results_list"):
        plot_images_detections(images, results[:2], ["thing"], {})
    with pytest.raises(ValueError, match="titles"):
        plot_images_detections(images, results, ["thing"], {}, titles=["a"])


def test_prediction_types_at_xplique_paths():
    """Holistic CRAFT's `decode` results, importable where Xplique puts them, and one class
    behind every path."""
    from xplique.commons import prediction_types
    from xplique.concepts import TfClassifierTensor as FromConcepts
    from xplique.utils_functions.classification.tf import TfClassifierTensor
    from xplique.utils_functions.object_detection.tf import TfMultiBoxTensor
    from xplique.utils_functions.object_detection.tf.multi_box_tensor import (
        TfMultiBoxTensor as Deep,
    )

    assert TfClassifierTensor is prediction_types.TfClassifierTensor is FromConcepts
    assert TfMultiBoxTensor is prediction_types.TfMultiBoxTensor is Deep
    logits = TfClassifierTensor(tf.constant([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5]]))
    assert isinstance(logits, prediction_types.StructuredPrediction)
    target = logits.to_attribution_target(2)  # the class explained, for every input
    np.testing.assert_array_equal(target.to_batched_tensor(), [[0, 0, 1], [0, 0, 1]])
