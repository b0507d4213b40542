"""Attribution heatmaps of time series `(T, W)`: features on the rows, time on the columns."""

from typing import Optional

import matplotlib.pyplot as plt
import numpy as np

from xplique.commons.validation import ensure_float
from xplique.plots.common import color_scale, feature_names, grid_shape, prepare_map, to_numpy


def _panels(explanations, subtitles):
    """(titles, maps) from a dict {title: (T, W)} or an array (N, T, W) / (T, W)."""
    if isinstance(explanations, dict):
        titles = list(explanations)
        maps = [to_numpy(value, "explanations") for value in explanations.values()]
    else:
        stacked = to_numpy(explanations, "explanations")
        if stacked.ndim == 2:
            stacked = stacked[None]
        maps = list(stacked)
        titles = [None] * len(maps)
    for panel in maps:
        if panel.ndim != 2:
            raise ValueError("`explanations` must be time-series maps (T, W), a batch (N, T, W) "
                             f"or a dict of (T, W) maps. Received a map of shape {panel.shape}")
    if subtitles is not None:
        titles = list(subtitles)
        if len(titles) != len(maps):
            raise ValueError(f"`subtitles` must hold one title per explanation ({len(maps)}). "
                             f"Received {len(titles)}")
    return titles, maps


def plot_timeseries_attributions(explanations, features, title: Optional[str] = None,
                                 subtitles=None, filepath: Optional[str] = None,
                                 cmap: str = "coolwarm", colorbar: bool = False,
                                 clip_percentile: Optional[float] = 0.1,
                                 absolute_value: bool = False, cols: int = 5,
                                 img_size: float = 3.0, **plot_kwargs):
    """Draw time-series explanations as heatmaps, one panel per explanation.

    Parameters
    ----------
    explanations
        One map `(T, W)`, a batch `(N, T, W)`, or a dict `{name: (T, W) map}` (the names become
        the panel titles, e.g. one panel per attribution method).
    features
        Names of the W features (rows of each panel).
    title
        Title of the whole figure.
    subtitles
        Titles of the panels.
    filepath
        Save the figure there when given.
    cmap
        Colormap. Without `absolute_value` the colour scale is symmetric around 0, so a
        diverging colormap shows positive and negative relevance apart. With `absolute_value`
        and the default `"coolwarm"`, the sequential colormap of
        :func:`xplique.plots.common.color_scale` is used instead (half a diverging colormap
        would show small magnitudes as a neutral colour).
    colorbar
        Add a colour bar to each panel.
    clip_percentile
        Clip each map to its `[p, 100 - p]` percentiles (None or 0 for no clipping).
    absolute_value
        Plot `|explanation|`.
    cols
        Panels per row.
    img_size
        Height of a panel, in inches (panels are twice as wide).
    plot_kwargs
        Passed to `matplotlib.pyplot.imshow`.

    Returns
    -------
    The matplotlib figure.
    """
    titles, maps = _panels(explanations, subtitles)
    names = feature_names(features, maps[0].shape[1], "features")
    rows, cols = grid_shape(len(maps), cols)
    size = ensure_float(img_size, "img_size", minimum=0.0)
    figure = plt.figure(figsize=(2.0 * size * cols, size * rows))
    for index, (panel_title, panel) in enumerate(zip(titles, maps)):
        axes = figure.add_subplot(rows, cols, index + 1)
        values = prepare_map(panel, clip_percentile, absolute_value, normalize_value=False)
        # signed maps: symmetric limits around 0; |maps|: a sequential colormap from 0, unless
        # the user chose a colormap
        scale = color_scale(values, signed=not absolute_value, clip_percentile=None,
                            cmap=None if absolute_value and cmap == "coolwarm" else cmap)
        low = 0.0 if absolute_value else scale.vmin
        image = axes.imshow(values.T, cmap=scale.cmap, vmin=low, vmax=scale.vmax,
                            aspect="auto", interpolation="nearest", **plot_kwargs)
        axes.set_yticks(np.arange(len(names)), names)
        axes.set_xlabel("time step")
        if panel_title is not None:
            axes.set_title(str(panel_title))
        if colorbar:
            figure.colorbar(image, ax=axes)
    if title is not None:
        figure.suptitle(title)
    figure.tight_layout()
    if filepath is not None:
        figure.savefig(filepath)
    return figure
