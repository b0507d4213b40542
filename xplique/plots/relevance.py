"""Relevance heatmaps: diverging red/blue maps symmetric around zero (LRP, DeepLIFT).

Positive relevance (evidence for the explained output) is red, negative (evidence against) is
blue, zero is white, and each map's colour range is `[-m, m]` with `m` its largest `|value|`
(or a percentile of `|value|`), so colours compare across pixels without shifting zero: the
"centered" heatmaps of ExplainableAI.jl and zennit.
"""

from typing import Optional

import matplotlib.pyplot as plt
import numpy as np

from xplique.commons.validation import ensure_float, ensure_positive_int


def relevance_map(explanation, percentile: Optional[float] = None) -> tuple:
    """`(map, limit)`: a 2-D map (channels summed, so relevance totals are kept) and its
    symmetric colour limit `m` (largest `|value|`, or its `percentile`; 1 for an all-zero map).
    """
    values = np.asarray(explanation, dtype=np.float64)
    if values.ndim == 3:
        values = values.sum(axis=-1)
    if values.ndim != 2:
        raise ValueError("`explanations` must be maps (H, W) or (H, W, C). Received a map of "
                         f"shape {values.shape}")
    magnitudes = np.abs(values)
    limit = magnitudes.max() if percentile is None else np.percentile(magnitudes, percentile)
    return values, float(limit) if limit > 0 else 1.0


def plot_relevance(explanations, images=None, cols: int = 5, img_size: float = 2.0,
                   cmap: str = "seismic", percentile: Optional[float] = None,
                   alpha: float = 0.8, colorbar: bool = False, titles=None):
    """Draw relevance maps as diverging heatmaps centred on zero.

    Parameters
    ----------
    explanations
        Maps `(N, H, W)` or `(N, H, W, C)` (channels summed), e.g. `LRP(...)(images, labels)`.
    images
        Optional images `(N, H, W, C)` or `(N, H, W)` drawn in grey under the maps.
    cols
        Panels per row.
    img_size
        Size of one panel, in inches.
    cmap
        Diverging colormap (blue negative, white zero, red positive by default).
    percentile
        Colour limit of each map: None for its largest `|value|`, else this percentile of
        `|value|` (e.g. 99.5, so a few extreme pixels do not wash the rest out); values beyond
        saturate.
    alpha
        Opacity of the maps over `images`.
    colorbar
        Draw each panel's colour scale.
    titles
        Optional panel titles, one per map.

    Returns
    -------
    The matplotlib figure.
    """
    maps = np.asarray(explanations)
    if maps.ndim not in (3, 4):
        raise ValueError("`explanations` must be maps (N, H, W) or (N, H, W, C). Received "
                         f"shape {maps.shape}")
    if images is not None and len(images) != len(maps):
        raise ValueError(f"`images` must hold one image per explanation ({len(maps)}). "
                         f"Received {len(images)} images")
    if titles is not None and len(titles) != len(maps):
        raise ValueError(f"`titles` must hold one title per explanation ({len(maps)}). "
                         f"Received {len(titles)} titles")
    cols = min(ensure_positive_int(cols, "cols"), len(maps))
    rows = -(-len(maps) // cols)
    size = ensure_float(img_size, "img_size", minimum=0.0)
    alpha = ensure_float(alpha, "alpha", minimum=0.0)
    if percentile is not None:
        percentile = ensure_float(percentile, "percentile", minimum=0.0)
    figure = plt.figure(figsize=(cols * size * (1.25 if colorbar else 1.0), rows * size),
                        layout="constrained")
    for index, explanation in enumerate(maps):
        axes = figure.add_subplot(rows, cols, index + 1)
        values, limit = relevance_map(explanation, percentile)
        if images is not None:
            image = np.asarray(images[index], dtype=np.float64)
            gray = image.mean(axis=-1) if image.ndim == 3 else image
            axes.imshow(gray, cmap="gray")
        heatmap = axes.imshow(values, cmap=cmap, vmin=-limit, vmax=limit,
                              alpha=alpha if images is not None else 1.0)
        if colorbar:
            figure.colorbar(heatmap, ax=axes, shrink=0.8)
        if titles is not None:
            axes.set_title(str(titles[index]), fontsize=9)
        axes.axis("off")
    return figure
