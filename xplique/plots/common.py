"""Conversions and colour scales shared by the plotting functions and the demo.

Numpy only, no matplotlib state: :func:`add_colorbar` draws on a figure it is given and imports
matplotlib lazily. :func:`color_scale` is THE rule for colouring an attribution map anywhere in
xplique: a diverging colormap centred on zero for signed maps, a sequential one for unsigned
maps (see :func:`is_signed`).
"""

from typing import NamedTuple, Optional, Sequence

import numpy as np

from xplique.commons.validation import ensure_float, ensure_positive_int


def to_numpy(values, name: str) -> np.ndarray:
    """`values` (array, tensor, list) as a float numpy array, naming `name` on failure."""
    if hasattr(values, "numpy"):
        values = values.numpy()
    array = np.asarray(values)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"`{name}` must hold numbers. Received an array of dtype {array.dtype}")
    return array.astype(np.float64)


def _channels_averaged(values, name: str, batched: bool) -> np.ndarray:
    """`values` as maps `(H, W)` (or `(N, H, W)` when `batched`): a trailing channel axis is
    averaged away (squeezed when it is 1)."""
    values = to_numpy(values, name)
    rank = 3 if batched else 2
    if values.ndim == rank + 1:
        return values.mean(axis=-1)
    if values.ndim != rank:
        axes = "N, H, W" if batched else "H, W"
        raise ValueError(f"`{name}` must have shape ({axes}), ({axes}, 1) or ({axes}, C). "
                         f"Received: {name}.shape={values.shape}")
    return values


def as_map(explanation, name: str = "explanation") -> np.ndarray:
    """One explanation as a 2-D map: (H, W) kept, (H, W, 1) squeezed, (H, W, C) averaged over
    channels."""
    return _channels_averaged(explanation, name, batched=False)


def as_maps(explanations, name: str = "explanations") -> np.ndarray:
    """A batch of explanations `(N, H, W)`, `(N, H, W, 1)` or `(N, H, W, C)` as `(N, H, W)`."""
    return _channels_averaged(explanations, name, batched=True)


def prepare_map(explanation: np.ndarray, clip_percentile: Optional[float] = 0.1,
                absolute_value: bool = False, normalize_value: bool = True) -> np.ndarray:
    """Absolute value (optional), clipping to the `[p, 100 - p]` percentiles, then min-max
    normalisation to [0, 1] (a constant map becomes zeros)."""
    values = np.abs(explanation) if absolute_value else np.array(explanation, dtype=np.float64)
    if clip_percentile:
        percentile = ensure_float(clip_percentile, "clip_percentile", minimum=0.0)
        if percentile >= 50:
            raise ValueError("`clip_percentile` must be in [0, 50). Received: "
                             f"clip_percentile={clip_percentile!r}")
        low, high = np.percentile(values, [percentile, 100.0 - percentile])
        values = np.clip(values, low, high)
    if normalize_value:
        low, high = values.min(), values.max()
        values = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return values


def displayable_image(image) -> np.ndarray:
    """An image `(H, W)`, `(H, W, 1)` or `(H, W, 3|4)` scaled to [0, 1] when it is not already,
    grayscale images returned 2-D."""
    image = to_numpy(image, "image")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)):
        raise ValueError("`image` must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4). "
                         f"Received: image.shape={image.shape}")
    low, high = image.min(), image.max()
    if low < 0.0 or high > 1.0:
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image


def grid_shape(count: int, cols: int) -> Sequence[int]:
    """Rows and columns of a grid of `count` panels with at most `cols` columns."""
    cols = min(ensure_positive_int(cols, "cols"), max(count, 1))
    return -(-count // cols), cols


def feature_names(names, count: int, name: str = "features_name") -> list:
    """`names` as a list of `count` strings (default `"feature i"`)."""
    if names is None:
        return [f"feature {index}" for index in range(count)]
    names = [str(value) for value in names]
    if len(names) != count:
        raise ValueError(f"`{name}` must name the {count} features. Received {len(names)} names")
    return names


# --------------------------------------------------------------------------- colour scales

#: A map is *signed* when its positive part and its negative part both reach beyond this
#: fraction of its largest absolute value (tiny negative noise does not make a map signed).
SIGNED_TOLERANCE = 0.05

#: Colormap of signed maps (centred on zero: red positive, blue negative, white zero).
DIVERGING_CMAP = "RdBu_r"

#: Colormap of unsigned maps (dark low, bright high; readable in grayscale).
SEQUENTIAL_CMAP = "viridis"


class ColorScale(NamedTuple):
    """How to colour a map: the colormap, its limits, and whether the map is signed."""

    cmap: str
    vmin: float
    vmax: float
    signed: bool

    def fraction(self, values) -> np.ndarray:
        """How far each value is from the scale's neutral point, in [0, 1]: `|v| / vmax` for a
        signed scale (0 at zero), the position between `vmin` and `vmax` otherwise."""
        values = np.asarray(values, dtype=np.float64)
        if self.signed:
            return np.clip(np.abs(values) / self.vmax, 0.0, 1.0)
        return np.clip((values - self.vmin) / (self.vmax - self.vmin), 0.0, 1.0)


def is_signed(values, tolerance: float = SIGNED_TOLERANCE) -> bool:
    """Whether `values` has both signs beyond `tolerance` times its largest absolute value.

    Gradient x Input, Integrated Gradients or Occlusion maps are signed; Saliency (an absolute
    value) or Grad-CAM (after a ReLU) are not. Non-finite values are ignored.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    tolerance = ensure_float(tolerance, "tolerance", minimum=0.0)
    if values.size == 0:
        return False
    largest = float(np.max(np.abs(values)))
    if largest == 0.0:
        return False
    return bool(values.min() < -tolerance * largest and values.max() > tolerance * largest)


def color_scale(values, signed: Optional[bool] = None, clip_percentile: Optional[float] = 0.1,
                cmap: Optional[str] = None, tolerance: float = SIGNED_TOLERANCE) -> ColorScale:
    """The colormap and limits that show `values` honestly.

    Signed maps (see :func:`is_signed`; or `signed=True`) get the diverging
    :data:`DIVERGING_CMAP` with symmetric limits `(-b, b)`, so zero is always the neutral
    colour; `b` is the `100 - clip_percentile` percentile of `|values|`. Unsigned maps get the
    sequential :data:`SEQUENTIAL_CMAP` from the low to the high percentile (an unsigned map is
    read by ranking, so its full range is used). `cmap` overrides the colormap only.

    Parameters
    ----------
    values
        The map (any shape); non-finite values are ignored.
    signed
        Force the kind of scale; None decides from the values.
    clip_percentile
        Percentile clipped at each end (None or 0 for the extremes).
    cmap
        Colormap name to use instead of the default of the kind.
    tolerance
        As in :func:`is_signed`.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        values = np.zeros(1)
    percentile = 0.0
    if clip_percentile:
        percentile = ensure_float(clip_percentile, "clip_percentile", minimum=0.0)
        if percentile >= 50:
            raise ValueError("`clip_percentile` must be in [0, 50). Received: "
                             f"clip_percentile={clip_percentile!r}")
    if signed is None:
        signed = is_signed(values, tolerance)
    if signed:
        bound = float(np.percentile(np.abs(values), 100.0 - percentile))
        bound = bound if bound > 0.0 else (float(np.max(np.abs(values))) or 1.0)
        return ColorScale(cmap or DIVERGING_CMAP, -bound, bound, True)
    low, high = (float(v) for v in np.percentile(values, [percentile, 100.0 - percentile]))
    if not high > low:
        low, high = (low - 1.0, low) if low > 0 else (low, low + 1.0)
    return ColorScale(cmap or SEQUENTIAL_CMAP, low, high, False)


def overlay_alpha(values, scale: ColorScale, alpha: float) -> np.ndarray:
    """Per-pixel opacity of a heatmap drawn over an image: `alpha` where the map is strongest,
    fading (as the square root of the distance to neutral) to transparent where it is neutral
    (zero of a signed map, the minimum of an unsigned one), so the image stays legible under
    weak attributions."""
    alpha = ensure_float(alpha, "alpha", minimum=0.0)
    # the square root keeps mid-strength attributions visible while zero stays transparent
    return np.clip(alpha * np.sqrt(scale.fraction(values)), 0.0, 1.0)


def add_colorbar(figure, mappable, axes, scale: ColorScale, fontsize: float = 8.0):
    """A slim colour bar next to `axes` with three ticks (low, neutral or middle, high)."""
    bar = figure.colorbar(mappable, ax=axes, fraction=0.046, pad=0.03)
    middle = 0.0 if scale.signed else (scale.vmin + scale.vmax) / 2.0
    bar.set_ticks([scale.vmin, middle, scale.vmax])
    bar.ax.tick_params(labelsize=fontsize, length=2, pad=1)
    bar.ax.yaxis.set_major_formatter(_short_number_formatter())
    return bar


def _short_number_formatter():
    from matplotlib.ticker import FuncFormatter  # pylint: disable=C0415 (matplotlib is lazy)

    def short(value, _position):
        return "0" if value == 0 else f"{value:.2g}"

    return FuncFormatter(short)
