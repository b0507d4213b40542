"""Attribution heatmaps over images."""

from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from xplique.commons.validation import ensure_float
from xplique.plots.common import (
    ColorScale,
    add_colorbar,
    as_map,
    as_maps,
    color_scale,
    displayable_image,
    grid_shape,
    is_signed,
    overlay_alpha,
    prepare_map,
)


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


def _prepared(explanation, clip_percentile, absolute_value, normalize_value, signed):
    """(map, signed): the 2-D map made absolute, clipped and normalised as asked. A signed map
    is normalised by its largest `|value|` into [-1, 1] (zero stays zero), an unsigned one
    min-max into [0, 1]."""
    values = as_map(explanation)
    if absolute_value:
        values, signed = np.abs(values), False
    elif signed is None:
        signed = is_signed(values)
    if not signed:
        return prepare_map(values, clip_percentile, False, normalize_value), False
    values = prepare_map(values, clip_percentile, False, normalize_value=False)
    if normalize_value:
        largest = float(np.max(np.abs(values)))
        values = values / largest if largest > 0.0 else np.zeros_like(values)
    return values, True


def plot_attribution(explanation, image=None, cmap: Optional[str] = None, alpha: float = 0.5,
                     clip_percentile: Optional[float] = 0.1, absolute_value: bool = False,
                     normalize_value: bool = True, signed: Optional[bool] = None,
                     **plot_kwargs):
    """Draw one explanation on the current axes, over `image` when given.

    Parameters
    ----------
    explanation
        Map of shape (H, W), (H, W, 1) or (H, W, C) (channels averaged).
    image
        Image `(H', W', C)` shown under the heatmap (the heatmap is resized to it).
    cmap
        Matplotlib colormap of the heatmap; None picks one from the values with
        :func:`xplique.plots.common.color_scale`: diverging and centred on zero for a signed
        map, sequential for an unsigned one.
    alpha
        Largest opacity of the heatmap over the image (ignored without an image). The opacity
        fades to 0 where the map is neutral (zero of a signed map, minimum of an unsigned
        one), so the image stays legible under weak attributions.
    clip_percentile
        Clip the map to its `[p, 100 - p]` percentiles (None or 0 for no clipping).
    absolute_value
        Plot `|explanation|` (an unsigned map).
    normalize_value
        Normalise the map: min-max to [0, 1] when unsigned, by its largest `|value|` to
        [-1, 1] when signed (so zero keeps its meaning).
    signed
        Treat the map as signed (True) or unsigned (False); None decides from the values
        (:func:`xplique.plots.common.is_signed`).
    plot_kwargs
        Passed to `matplotlib.pyplot.imshow` for the heatmap (an `alpha` there replaces the
        fading opacity).

    Returns
    -------
    The axes drawn on.

    Notes
    -----
    Xplique min-max normalises every map to [0, 1] and colours it with `cmap="jet"`, which
    hides the sign of Gradient x Input or Integrated Gradients maps and moves their zero from
    map to map. Here a signed map keeps its zero at the centre of a diverging colormap, and
    the overlay fades where the map is weak.
    """
    axes = plt.gca()
    heatmap, signed = _prepared(explanation, clip_percentile, absolute_value, normalize_value,
                                signed)
    scale = color_scale(heatmap, signed=signed, clip_percentile=None, cmap=cmap)
    if image is not None:
        shown = displayable_image(image)
        axes.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0.0, vmax=1.0)
        heatmap = generate_heatmap(heatmap, shown.shape[:2], None, False, False)
        if "alpha" not in plot_kwargs:
            plot_kwargs["alpha"] = overlay_alpha(heatmap, scale, alpha)
    plot_kwargs.setdefault("vmin", scale.vmin)
    plot_kwargs.setdefault("vmax", scale.vmax)
    axes.imshow(heatmap, cmap=scale.cmap, **plot_kwargs)
    axes.axis("off")
    return axes


def plot_attributions(explanations, images=None, cmap: Optional[str] = None, alpha: float = 0.5,
                      clip_percentile: Optional[float] = 0.1, absolute_value: bool = False,
                      cols: int = 5, img_size: float = 2.0, colorbar: bool = True,
                      **plot_kwargs):
    """Draw a grid of explanations, each over its image when `images` is given.

    Parameters
    ----------
    explanations
        Maps `(N, H, W)`, `(N, H, W, 1)` or `(N, H, W, C)` (channels averaged).
    images
        Images `(N, H', W', C)` shown under the heatmaps.
    cmap
        Colormap; None picks one for the whole batch: diverging and centred on zero when the
        maps are signed (both signs beyond 5% of the largest `|value|`), sequential otherwise.
    cols
        Panels per row.
    img_size
        Size of one panel, in inches.
    colorbar
        Draw each panel's colour scale next to it.
    alpha, clip_percentile, absolute_value, plot_kwargs
        As in :func:`plot_attribution`.

    Returns
    -------
    The matplotlib figure.

    Notes
    -----
    Xplique's default is `cmap="viridis"` on min-max normalised maps, without colour bars;
    see :func:`plot_attribution` for why signed maps are drawn differently here.
    """
    maps = as_maps(explanations)
    if images is not None and len(images) != len(maps):
        raise ValueError(f"`images` must hold one image per explanation ({len(maps)}). "
                         f"Received {len(images)} images")
    rows, cols = grid_shape(len(maps), cols)
    size = ensure_float(img_size, "img_size", minimum=0.0)
    signed = False if absolute_value else is_signed(maps)  # one decision for the batch
    width = size * (1.25 if colorbar else 1.0)
    figure = plt.figure(figsize=(cols * width, rows * size), layout="constrained")
    for index, explanation in enumerate(maps):
        plt.subplot(rows, cols, index + 1)
        axes = plot_attribution(explanation, None if images is None else images[index],
                                cmap=cmap, alpha=alpha, clip_percentile=clip_percentile,
                                absolute_value=absolute_value, signed=signed, **plot_kwargs)
        if colorbar:
            heatmap = axes.get_images()[-1]
            low, high = heatmap.get_clim()
            add_colorbar(figure, heatmap, axes,
                         ColorScale(heatmap.get_cmap().name, low, high, signed))
    return figure
