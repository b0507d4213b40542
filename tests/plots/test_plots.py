"""Every plot renders, with the Agg backend, to an image that is not blank."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from xplique.plots import (  # noqa: E402
    barplot,
    fidelity_curves,
    generate_heatmap,
    plot_attribution,
    plot_attributions,
    plot_feature_impact,
    plot_mean_feature_impact,
    plot_timeseries_attributions,
    summary_plot_tabular,
)

RNG = np.random.default_rng(0)


def _pixel_variance(figure, path) -> float:
    figure.savefig(path)
    plt.close(figure)
    return float(plt.imread(str(path))[..., :3].var())


@pytest.mark.parametrize("channels", [None, 1, 3])
def test_plot_attributions_accepts_every_map_shape(tmp_path, channels):
    shape = (4, 12, 10) if channels is None else (4, 12, 10, channels)
    images = RNG.uniform(size=(4, 24, 20, 3))
    figure = plot_attributions(RNG.normal(size=shape), images, cols=3)
    assert len(figure.axes) == 8  # 4 panels and their colour bars
    assert len(plot_attributions(RNG.normal(size=shape), cols=3, colorbar=False).axes) == 4
    assert _pixel_variance(figure, tmp_path / "grid.png") > 1e-3


def test_plot_attribution_on_current_axes(tmp_path):
    figure = plt.figure()
    plot_attribution(RNG.normal(size=(8, 8, 3)), RNG.uniform(size=(8, 8, 1)),
                     absolute_value=True)
    assert _pixel_variance(figure, tmp_path / "one.png") > 1e-3


def test_generate_heatmap_resizes_and_normalises():
    explanation = np.arange(12.0).reshape(3, 4, 1)
    heatmap = generate_heatmap(explanation, (6, 8), clip_percentile=None)
    assert heatmap.shape == (6, 8)
    assert heatmap.min() == pytest.approx(0.0) and heatmap.max() == pytest.approx(1.0)
    clipped = generate_heatmap(np.arange(100.0).reshape(10, 10), 10, clip_percentile=10)
    assert np.sum(clipped == 0.0) >= 10 and np.sum(clipped == 1.0) >= 10


def test_tabular_plots(tmp_path):
    explanations = RNG.normal(size=(30, 5))
    values = RNG.uniform(size=(30, 5))
    names = [f"f{i}" for i in range(5)]
    figures = [
        plot_feature_impact(explanations[0], names, values[0], max_display=3),
        plot_mean_feature_impact(explanations, names),
        summary_plot_tabular(explanations, values, names, max_display=4),
        summary_plot_tabular(explanations),
    ]
    for index, figure in enumerate(figures):
        assert _pixel_variance(figure, tmp_path / f"tabular{index}.png") > 1e-3
    assert len(figures[0].axes[0].patches) == 3


def test_timeseries_plot(tmp_path):
    explanations = {"Saliency": RNG.normal(size=(20, 3)), "Occlusion": RNG.normal(size=(20, 3))}
    path = tmp_path / "series.png"
    figure = plot_timeseries_attributions(explanations, ["a", "b", "c"], title="t",
                                          filepath=str(path), colorbar=True)
    assert path.exists()
    assert _pixel_variance(figure, tmp_path / "series2.png") > 1e-3
    batch = plot_timeseries_attributions(RNG.normal(size=(3, 20, 3)), ["a", "b", "c"],
                                         absolute_value=True, cols=2)
    assert _pixel_variance(batch, tmp_path / "series3.png") > 1e-3


def test_metric_plots(tmp_path):
    scores = {"Deletion": {"Saliency": 0.3, "GradCAM": 0.1},
              "MuFidelity": {"Saliency": 0.2, "GradCAM": 0.5}}
    figure = barplot(scores, sort_metric="Deletion", ascending=True, title="scores")
    labels = [tick.get_text() for tick in figure.axes[0].get_xticklabels()]
    assert labels == ["GradCAM", "Saliency"]
    assert _pixel_variance(figure, tmp_path / "bars.png") > 1e-3
    curves = {"Saliency": {0.0: 1.0, 0.5: 0.4, 1.0: 0.1}, "GradCAM": {0.0: 1.0, 0.5: 0.2, 1.0: 0.1}}
    figure = fidelity_curves(curves, methods_colors={"Saliency": "red", "GradCAM": "blue"})
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend == ["Saliency (AUC 0.475)", "GradCAM (AUC 0.375)"]
    assert _pixel_variance(figure, tmp_path / "curves.png") > 1e-3


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match="explanations"):
        plot_attributions(np.ones((3, 4)))
    with pytest.raises(ValueError, match="features_name"):
        plot_mean_feature_impact(np.ones((3, 4)), ["a"])
    with pytest.raises(ValueError, match="sort_metric"):
        barplot({"a": {"m": 1.0}}, sort_metric="b")
