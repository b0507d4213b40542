"""One colour rule everywhere: diverging and centred on zero for signed maps, sequential for
unsigned maps, a colour bar per panel, overlays that fade where the map is neutral, and demo
grids readable at 100% zoom (fonts >= 8 pt at dpi 100, split under 2000 px)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from xplique.demo import MAX_FIGURE_WIDTH_PX, grid_figures, save_grid  # noqa: E402
from xplique.plots import (  # noqa: E402
    plot_attribution,
    plot_attributions,
    plot_timeseries_attributions,
)
from xplique.plots.common import (  # noqa: E402
    DIVERGING_CMAP,
    SEQUENTIAL_CMAP,
    color_scale,
    is_signed,
    overlay_alpha,
)

RNG = np.random.default_rng(0)


def test_is_signed_needs_both_signs_beyond_the_tolerance():
    assert is_signed(RNG.normal(size=(8, 8)))
    assert not is_signed(np.abs(RNG.normal(size=(8, 8))))
    noisy = np.abs(RNG.normal(size=(8, 8)))
    noisy[0, 0] = -0.01 * noisy.max()  # round-off below zero: still unsigned
    assert not is_signed(noisy)
    noisy[0, 0] = -0.2 * noisy.max()
    assert is_signed(noisy)
    assert not is_signed(np.zeros((4, 4))) and not is_signed(-np.ones((4, 4)))
    assert is_signed(np.array([-1.0, 0.5, np.nan]))  # non-finite values are ignored


def test_color_scale_is_symmetric_for_signed_maps_and_sequential_otherwise():
    values = RNG.normal(size=(16, 16)) + 0.5  # signed but not centred
    scale = color_scale(values, clip_percentile=None)
    assert scale.signed and scale.cmap == DIVERGING_CMAP
    assert scale.vmin == -scale.vmax == pytest.approx(-np.abs(values).max())
    clipped = color_scale(values, clip_percentile=5)
    assert clipped.vmax == pytest.approx(np.percentile(np.abs(values), 95))

    positive = np.abs(values)
    scale = color_scale(positive, clip_percentile=None)
    assert not scale.signed and scale.cmap == SEQUENTIAL_CMAP
    assert (scale.vmin, scale.vmax) == pytest.approx((positive.min(), positive.max()))
    # forcing the kind, overriding only the colormap, constant maps
    assert color_scale(positive, signed=True).vmin < 0
    assert color_scale(values, cmap="jet").cmap == "jet"
    flat = color_scale(np.full((3, 3), 2.0))
    assert flat.vmax > flat.vmin
    with pytest.raises(ValueError, match="clip_percentile"):
        color_scale(values, clip_percentile=60)


def test_overlay_alpha_is_zero_where_the_map_is_neutral():
    values = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]])
    alpha = overlay_alpha(values, color_scale(values, clip_percentile=None), 0.6)
    np.testing.assert_allclose(alpha, [[0.6, 0.6 * np.sqrt(0.5), 0.0, 0.6 * np.sqrt(0.5), 0.6]])
    positive = np.array([1.0, 2.0, 3.0])
    alpha = overlay_alpha(positive, color_scale(positive, clip_percentile=None), 0.5)
    np.testing.assert_allclose(alpha, [0.0, 0.5 * np.sqrt(0.5), 0.5])


def _heatmaps(figure):
    """The heatmap images of a plot_attributions figure (colour-bar axes hold none)."""
    return [ax.get_images()[-1] for ax in figure.axes if ax.get_images()]


def test_plot_attributions_centres_signed_maps_on_zero():
    maps = RNG.normal(size=(3, 6, 6, 1))
    figure = plot_attributions(maps, cols=3)
    heatmaps = _heatmaps(figure)
    assert len(heatmaps) == 3 and len(figure.axes) == 6  # one colour bar per panel
    for heatmap in heatmaps:
        low, high = heatmap.get_clim()
        assert low == pytest.approx(-high)
        assert heatmap.get_cmap().name == DIVERGING_CMAP
        # zero is drawn in the colormap's neutral centre colour (near white)
        assert np.all(np.asarray(heatmap.to_rgba(0.0)[:3]) > 0.9)
    plt.close(figure)

    figure = plot_attributions(maps, cols=3, absolute_value=True)
    for heatmap in _heatmaps(figure):
        assert heatmap.get_cmap().name == SEQUENTIAL_CMAP
        assert heatmap.get_array().min() >= 0.0
    plt.close(figure)
    figure = plot_attributions(maps, cols=3, cmap="jet")
    assert {h.get_cmap().name for h in _heatmaps(figure)} == {"jet"}
    plt.close(figure)


def test_overlay_keeps_the_image_visible_where_the_map_is_zero(tmp_path):
    image = np.tile(np.linspace(0.0, 1.0, 16), (16, 1))[..., None]  # a horizontal ramp
    explanation = np.zeros((16, 16, 1))
    explanation[4:8, 4:8] = 1.0
    explanation[10:14, 10:14] = -1.0
    figure = plt.figure(figsize=(2, 2))
    axes = plot_attribution(explanation, image, alpha=0.7)
    overlay = axes.get_images()[-1]
    opacity = np.asarray(overlay.get_alpha())
    assert opacity.shape == (16, 16)
    assert opacity[0, 0] == 0.0 and opacity[5, 5] == pytest.approx(0.7)
    assert opacity[12, 12] == pytest.approx(0.7)
    # the rendered pixels of the zero region are the ramp itself, untouched
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[..., :3].astype(float) / 255
    grey = pixels[np.all(np.abs(np.diff(pixels, axis=-1)) < 0.02, axis=-1)]
    assert len(grey) > 0.3 * pixels.shape[0] * pixels.shape[1]
    assert grey.std() > 0.2  # a visible ramp, not one flat colour
    plt.close(figure)


def _texts(figure):
    return [text for text in figure.findobj(matplotlib.text.Text) if text.get_text().strip()]


def test_demo_grid_is_readable_and_split_under_the_width_limit(tmp_path):
    inputs = RNG.uniform(size=(2, 8, 8, 1)).astype("float32")
    columns = {f"Method{i:02d}": RNG.normal(size=(2, 8, 8, 1)) for i in range(15)}
    columns["Absolute"] = np.abs(RNG.normal(size=(2, 8, 8, 1)))
    columns["Broken"] = None
    labels = ["true 0, pred 0", "true 1, pred 7"]
    figures = grid_figures(inputs, columns, labels)
    assert len(figures) >= 2
    titles, ylabels, kinds = [], [], {}
    for index, figure in enumerate(figures):
        for text in _texts(figure):
            assert text.get_fontsize() >= 8, text.get_text()
        for ax in figure.axes:
            if ax.get_title():
                titles.append(ax.get_title())
            if ax.get_ylabel():
                ylabels.append(ax.get_ylabel())
            for heatmap in ax.get_images():
                kinds.setdefault(ax.get_title().split("\n")[0] or None, heatmap.get_cmap().name)
        path = tmp_path / f"grid-{index}.png"
        figure.savefig(path, dpi=100)
        assert imread(path).shape[1] <= MAX_FIGURE_WIDTH_PX
    # every method is titled once, the input column is repeated in each figure
    assert sorted(t.split("\n")[0] for t in titles if t != "input") == sorted(columns)
    assert titles.count("input") == len(figures)
    assert ylabels == labels * len(figures)
    assert kinds["Method00"] == DIVERGING_CMAP and kinds["Absolute"] == SEQUENTIAL_CMAP
    assert "Broken\n(failed)" in titles and "Method00\n(signed)" in titles
    assert "Absolute\n(unsigned)" in titles
    # a colour bar per heatmap panel: 16 working methods x 2 rows
    colorbars = sum(1 for f in figures for ax in f.axes if ax.get_label() == "<colorbar>")
    assert colorbars == 16 * 2


def test_small_grid_keeps_one_file(tmp_path):
    inputs = RNG.uniform(size=(2, 8, 8, 1))
    paths = save_grid(str(tmp_path / "grid.png"), inputs, {"A": RNG.normal(size=(2, 8, 8))})
    assert paths == [str(tmp_path / "grid.png")]
    many = {f"M{i}": RNG.normal(size=(2, 8, 8)) for i in range(10)}
    paths = save_grid(str(tmp_path / "many.png"), inputs, many)
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["many-1.png", "many-2.png"]
    assert imread(paths[0])[..., :3].std() > 0.1


def test_timeseries_colours_follow_the_same_rule():
    maps = RNG.normal(size=(2, 12, 3))
    figure = plot_timeseries_attributions(maps, ["a", "b", "c"], cols=2, clip_percentile=None)
    for ax, panel in zip(figure.axes, maps):
        low, high = ax.get_images()[0].get_clim()
        assert low == pytest.approx(-high) and high == pytest.approx(np.abs(panel).max())
    plt.close(figure)
    figure = plot_timeseries_attributions(maps, ["a", "b", "c"], cols=2, absolute_value=True)
    for ax in figure.axes:
        image = ax.get_images()[0]
        assert image.get_cmap().name == SEQUENTIAL_CMAP and image.get_clim()[0] == 0.0
    plt.close(figure)
