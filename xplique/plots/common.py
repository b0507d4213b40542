"""Conversions shared by the plotting functions (numpy only, no matplotlib state)."""

from typing import Optional, Sequence

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
