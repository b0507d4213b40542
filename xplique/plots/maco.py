"""Plots of feature visualizations: a MaCo image with its transparency, and a grid of the
images of an objective with their names."""

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np

from xplique.commons.validation import ensure_float, ensure_positive_int
from xplique.plots.common import grid_shape, to_numpy


def _percentile(name: str, value) -> float:
    value = ensure_float(value, name)
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"`{name}` must be in [0, 100]. Received: {name}={value!r}")
    return value


def maco_rgba(image, alpha, percentile_image: float = 1.0, percentile_alpha: float = 80
              ) -> np.ndarray:
    """The RGBA array :func:`plot_maco` shows: the image clipped to its
    `[percentile_image, 100 - percentile_image]` percentiles, the channel-mean transparency
    clipped at its `percentile_alpha` percentile and scaled to [0, 1], the image multiplied by
    it and min-max normalised, the transparency as alpha channel."""
    image = to_numpy(image, "image").astype(np.float64)
    alpha = to_numpy(alpha, "alpha").astype(np.float64)
    percentile_image = _percentile("percentile_image", percentile_image)
    percentile_alpha = _percentile("percentile_alpha", percentile_alpha)
    if image.ndim == 2:
        image = image[..., None]
    if alpha.ndim == 2:
        alpha = alpha[..., None]
    if image.ndim != 3 or alpha.ndim != 3 or image.shape[:2] != alpha.shape[:2]:
        raise ValueError("`image` and `alpha` must be (H, W) or (H, W, C) maps of the same "
                         f"size. Received: image.shape={image.shape}, alpha.shape={alpha.shape}")
    low, high = np.percentile(image, [percentile_image, 100.0 - percentile_image])
    image = np.clip(image, low, high)
    alpha = alpha.mean(-1, keepdims=True)
    alpha = np.clip(alpha, None, np.percentile(alpha, percentile_alpha))
    alpha = alpha / alpha.max() if alpha.max() > 0 else np.ones_like(alpha)
    image = image * alpha
    span = image.max() - image.min()
    image = (image - image.min()) / span if span > 0 else np.zeros_like(image)
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, -1)
    return np.concatenate([image[..., :3], alpha], -1)


def plot_maco(image, alpha, percentile_image: float = 1.0, percentile_alpha: float = 80,
              ax=None):
    """Draw a MaCo image with its transparency on `ax` (the current axes when None): the
    pixels that mattered little to the objective fade out.

    Parameters
    ----------
    image
        `(H, W, C)` image returned by :func:`xplique.features_visualizations.maco`.
    alpha
        Its `(H, W, C)` (or `(H, W)`) transparency.
    percentile_image
        Percentile clipped at both ends of the image values.
    percentile_alpha
        Percentile above which the transparency saturates (fully opaque).
    ax
        Matplotlib axes to draw on.
    """
    rgba = maco_rgba(image, alpha, percentile_image, percentile_alpha)
    ax = plt.gca() if ax is None else ax
    ax.imshow(rgba)
    ax.axis("off")
    return ax


def plot_feature_visualizations(images, names: Optional[Sequence[str]] = None, cols: int = 5,
                                img_size: float = 2.0, fontsize: float = 8.0):
    """A grid of feature visualizations, one panel per image, titled with its name.

    Parameters
    ----------
    images
        `(N, H, W, C)` images (e.g. the last element of :func:`optimize`'s list), or a list.
    names
        The N names (e.g. :func:`optimize`'s second output).
    cols
        Panels per row.
    img_size
        Side of each panel, in inches.
    fontsize
        Size of the titles.

    Returns
    -------
    The matplotlib figure.
    """
    images = [to_numpy(image, "images") for image in images]
    if names is not None and len(names) != len(images):
        raise ValueError(f"`names` must give one name per image ({len(images)}). "
                         f"Received {len(names)} names")
    ensure_positive_int(cols, "cols")
    rows, cols = grid_shape(len(images), cols)
    figure, axes = plt.subplots(rows, cols, figsize=(cols * img_size, rows * img_size),
                                squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        image = images[index]
        span = image.max() - image.min()
        image = (image - image.min()) / span if span > 0 else np.zeros_like(image)
        if image.ndim == 3 and image.shape[-1] == 1:
            ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(image)
        if names is not None:
            ax.set_title(str(names[index]), fontsize=fontsize)
    figure.tight_layout()
    return figure
