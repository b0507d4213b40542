"""plot_maco / plot_feature_visualizations, and the demo panel."""

import json
import types

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from xplique.plots import plot_feature_visualizations, plot_maco  # noqa: E402
from xplique.plots.maco import maco_rgba  # noqa: E402


def test_maco_rgba_saturates_the_transparency_at_its_percentile():
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (6, 7, 3))
    alpha = np.zeros((6, 7, 3))
    alpha[:3] = rng.uniform(0, 1, (3, 7, 3))
    rgba = maco_rgba(image, alpha, percentile_image=1.0, percentile_alpha=80)
    assert rgba.shape == (6, 7, 4) and rgba.min() >= 0.0 and rgba.max() <= 1.0
    mean = alpha.mean(-1)
    cap = np.percentile(mean, 80)
    np.testing.assert_allclose(rgba[..., 3], np.minimum(mean, cap) / cap)
    assert np.all(rgba[3:, :, 3] == 0.0)
    gray = maco_rgba(image[..., :1], alpha[..., 0])
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
    with pytest.raises(ValueError, match="percentile_alpha"):
        maco_rgba(image, alpha, percentile_alpha=120)
    with pytest.raises(ValueError, match="same size"):
        maco_rgba(image, alpha[:2])


def test_plot_maco_and_grid_draw_titled_panels():
    rng = np.random.default_rng(1)
    figure = plt.figure()
    ax = plot_maco(rng.uniform(size=(8, 8, 3)), rng.uniform(size=(8, 8, 3)))
    assert ax.images[0].get_array().shape == (8, 8, 4)
    plt.close(figure)
    names = ["a & b", "c & d", "e & f"]
    figure = plot_feature_visualizations(rng.uniform(size=(3, 5, 6, 1)), names, cols=2)
    titles = [ax.get_title() for ax in figure.axes if ax.images]
    assert titles == names and len(figure.axes) == 4
    plt.close(figure)
    with pytest.raises(ValueError, match="names"):
        plot_feature_visualizations(rng.uniform(size=(3, 5, 6, 1)), names[:2])


def test_demo_panel_on_an_untrained_demo_model(monkeypatch):
    from xplique.demo import build_model, feature_visualization

    monkeypatch.setattr(feature_visualization, "STEPS", 8)  # the panel's speed is measured apart
    rng = np.random.default_rng(0)
    digits = rng.uniform(size=(20, 8, 8, 1)).astype("float32")
    context = types.SimpleNamespace(model=build_model(), x_train=digits, y_train=np.arange(20) % 10,
                                    x_test=digits, y_test=np.arange(20) % 10, inputs=digits[:3],
                                    labels=np.arange(3), predicted=np.arange(3), seed=0)
    result = feature_visualization.panel(context)
    summary = json.loads(json.dumps(result["summary"]))
    assert len(summary["probability_of_own_class"]) == 10
    assert len([ax for ax in result["figure"].axes if ax.images]) == 10
    assert isinstance(feature_visualization.TITLE, str)
