"""The relevance heatmap is centred on zero: red positive, blue negative, white zero."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from xplique.plots import plot_relevance  # noqa: E402


def test_colour_range_is_symmetric_and_channels_are_summed():
    maps = np.zeros((3, 4, 4, 2), "float32")
    maps[0, 0, 0] = [3.0, 1.0]   # +4 after summing channels
    maps[0, 1, 1, 0] = -1.0
    maps[1, 2, 2, 1] = -2.0      # only negative
    figure = plot_relevance(maps, images=np.ones((3, 4, 4, 3)), cols=2, titles=["a", "b", "c"])
    heatmaps = [axes.get_images()[-1] for axes in figure.axes]
    assert [h.get_clim() for h in heatmaps] == [(-4.0, 4.0), (-2.0, 2.0), (-1.0, 1.0)]
    np.testing.assert_allclose(heatmaps[0].get_array()[0, 0], 4.0)
    cmap, norm = heatmaps[1].get_cmap(), heatmaps[1].norm
    red, green, blue, _ = cmap(norm(2.0))
    assert red > max(green, blue)  # positive is red
    red, green, blue, _ = cmap(norm(-2.0))
    assert blue > max(red, green)  # negative is blue
    assert np.allclose(cmap(norm(0.0))[:3], 1.0, atol=0.02)  # zero is white
    assert [axes.get_title() for axes in figure.axes] == ["a", "b", "c"]


def test_percentile_limit_and_errors():
    maps = np.linspace(-1, 1, 100).reshape(1, 10, 10)
    figure = plot_relevance(maps, percentile=50.0, colorbar=True)
    low, high = figure.axes[0].get_images()[0].get_clim()
    assert low == -high and high == pytest.approx(np.percentile(np.abs(maps), 50))
    with pytest.raises(ValueError, match="images"):
        plot_relevance(maps, images=np.ones((2, 10, 10)))
    with pytest.raises(ValueError, match="explanations"):
        plot_relevance(np.ones(5))
