"""Attribution heatmaps over images."""

from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from xplique.commons.validation import ensure_float
from xplique.plots.common import as_map, as_maps, displayable_image, grid_shape, prepare_map


def generate_heatmap(explanation, size, clip_percentile: Optional[float] = 0.1,
                     absolute_value: bool = False, normalize_value: bool = True) -> np.ndarray:
    """A 2-D heatmap of `explanation`, prepared as :func:`plot_attribution` does and resized
    (bilinear) to `size`.

    Parameters
    ----------
    explanation
        Map of shape (H, W), (H, W, 1) or (H, W, C) (channels averaged).
    size
        Output size `(height, width)`, or an int for a square.
    clip_percentile, absolute_value, normalize_value
        As in :func:`plot_attribution`.
    """
    heatmap = prepare_map(as_map(explanation), clip_percentile, absolute_value, normalize_value)
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    if len(size) != 2:
        raise ValueError(f"`size` must be (height, width) or an int. Received: size={size!r}")
    if tuple(size) == heatmap.shape:
        return heatmap
    resized = tf.image.resize(heatmap[..., None], tuple(int(s) for s in size), method="bilinear")
    return resized.numpy()[..., 0]


def plot_attribution(explanation, image=None, cmap: str = "jet", alpha: float = 0.5,
                     clip_percentile: Optional[float] = 0.1, absolute_value: bool = False,
                     normalize_value: bool = True, **plot_kwargs):
    """Draw one explanation on the current axes, over `image` when given.

    Parameters
    ----------
    explanation
        Map of shape (H, W), (H, W, 1) or (H, W, C) (channels averaged).
    image
        Image `(H', W', C)` shown under the heatmap (the heatmap is resized to it).
    cmap
        Matplotlib colormap of the heatmap.
    alpha
        Opacity of the heatmap over the image (ignored without an image).
    clip_percentile
        Clip the map to its `[p, 100 - p]` percentiles (None or 0 for no clipping).
    absolute_value
        Plot `|explanation|`.
    normalize_value
        Min-max normalise the map to [0, 1].
    plot_kwargs
        Passed to `matplotlib.pyplot.imshow` for the heatmap.

    Returns
    -------
    The axes drawn on.
    """
    axes = plt.gca()
    heatmap = prepare_map(as_map(explanation), clip_percentile, absolute_value, normalize_value)
    if image is not None:
        shown = displayable_image(image)
        axes.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
        heatmap = generate_heatmap(heatmap, shown.shape[:2], None, False, False)
        plot_kwargs.setdefault("alpha", ensure_float(alpha, "alpha", minimum=0.0))
    axes.imshow(heatmap, cmap=cmap, **plot_kwargs)
    axes.axis("off")
    return axes


def plot_attributions(explanations, images=None, cmap: str = "viridis", alpha: float = 0.5,
                      clip_percentile: Optional[float] = 0.1, absolute_value: bool = False,
                      cols: int = 5, img_size: float = 2.0, **plot_kwargs):
    """Draw a grid of explanations, each over its image when `images` is given.

    Parameters
    ----------
    explanations
        Maps `(N, H, W)`, `(N, H, W, 1)` or `(N, H, W, C)` (channels averaged).
    images
        Images `(N, H', W', C)` shown under the heatmaps.
    cols
        Panels per row.
    img_size
        Size of one panel, in inches.
    cmap, alpha, clip_percentile, absolute_value, plot_kwargs
        As in :func:`plot_attribution`.

    Returns
    -------
    The matplotlib figure.
    """
    maps = as_maps(explanations)
    if images is not None and len(images) != len(maps):
        raise ValueError(f"`images` must hold one image per explanation ({len(maps)}). "
                         f"Received {len(images)} images")
    rows, cols = grid_shape(len(maps), cols)
    size = ensure_float(img_size, "img_size", minimum=0.0)
    figure = plt.figure(figsize=(cols * size, rows * size))
    for index, explanation in enumerate(maps):
        plt.subplot(rows, cols, index + 1)
        plot_attribution(explanation, None if images is None else images[index], cmap=cmap,
                         alpha=alpha, clip_percentile=clip_percentile,
                         absolute_value=absolute_value, **plot_kwargs)
    return figure
