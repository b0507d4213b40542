"""Mask samplers shared by the perturbation methods, made on the device inside the kernels.

A mask covers the *cells* of an input: the pixels `(H, W)` of an image (the same mask for every
channel unless a method says otherwise), the `(T, W)` cells of a time series, the `W` features
of a tabular row. Deterministic masks are computed from the pairs' sample numbers, random ones
from uniform noise drawn with :mod:`xplique.commons.random`, so no mask ever depends on
`batch_size`. The host-side helpers at the end build per-input segment maps for LIME-like
methods (interpretable features).
"""

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from xplique.commons.shapes import Modality, modality


def cell_shape(input_shape) -> Tuple[int, ...]:
    """The cells a mask covers for per-input shape `input_shape`: `(H, W)` for images `(H, W, C)`,
    `(T, W)` for time series, `(W,)` for tabular rows."""
    shape = tuple(int(d) for d in input_shape)
    return shape[:2] if len(shape) == 3 else shape


def broadcast_to_input(masks: tf.Tensor, input_rank: int) -> tf.Tensor:
    """Add a channel axis to image masks `(n, H, W)` so they broadcast over `(n, H, W, C)`."""
    return masks[..., None] if input_rank == 4 else masks


# --- Occlusion: sliding patches ---------------------------------------------------------------

def patch_layout(cells: Sequence[int], size: Sequence[int], stride: Sequence[int]):
    """Patch sizes, strides and number of anchors per axis for patches sliding over `cells`.

    Anchors along an axis of length `n` are `0, stride, 2 stride, ...` for as long as the patch
    fits (`ceil((n - size + 1) / stride)` anchors); a patch larger than the axis is clipped to it.
    """
    sizes = tuple(min(int(s), int(n)) for s, n in zip(size, cells))
    counts = tuple(
        max(1, math.ceil((int(n) - s + 1) / int(t))) for n, s, t in zip(cells, sizes, stride)
    )
    return sizes, tuple(int(t) for t in stride), counts


def patch_masks(sample_index: tf.Tensor, cells, sizes, strides, counts) -> tf.Tensor:
    """Binary masks `(n, *cells)`: mask `k` covers the `k`-th patch (anchors in row-major order)."""
    remaining = tf.cast(sample_index, tf.int32)
    masks = None
    for axis in reversed(range(len(cells))):
        anchor = (remaining % counts[axis]) * strides[axis]
        remaining = remaining // counts[axis]
        position = tf.range(cells[axis])[None, :]
        inside = (position >= anchor[:, None]) & (position < anchor[:, None] + sizes[axis])
        shape = [-1] + [1] * len(cells)
        shape[axis + 1] = cells[axis]
        inside = tf.reshape(tf.cast(inside, tf.float32), shape)
        masks = inside if masks is None else masks * inside
    return masks


# --- RISE: upsampled random grids --------------------------------------------------------------

def rise_masks(grid_noise: tf.Tensor, shift_noise: tf.Tensor, input_shape,
               probability: float) -> tf.Tensor:
    """RISE masks `(n, *cells)` in [0, 1] from uniform noise.

    Parameters
    ----------
    grid_noise
        Uniform noise `(n, *rise_grid_shape(input_shape, g))`: a `(g, g)` grid for images, a
        `(g, W)` grid for time series (a grid over time, every feature on its own), the `W`
        features themselves for tabular rows (no grid).
    shift_noise
        Uniform noise `(n, 2)` choosing each mask's random shift.
    input_shape
        Shape of one input.
    probability
        Probability of keeping a grid cell.

    Each gridded axis of length `L` is bilinearly upsampled to `(g + 1) * ceil(L / g)` and
    cropped at a random shift in `[0, ceil(L / g))`, as in Petsiuk et al. (2018).
    """
    binary = tf.cast(grid_noise < probability, tf.float32)
    kind = modality((None,) + tuple(input_shape))
    if kind is Modality.TABULAR:
        return binary
    gridded = (True, True) if kind is Modality.IMAGES else (True, False)
    return upsampled_grid_masks(binary, shift_noise, cell_shape(input_shape), gridded)


def rise_grid_shape(input_shape, grid_size) -> Tuple[int, ...]:
    """Shape of the low-resolution RISE grid for one input of shape `input_shape`.

    `grid_size` is an int `g` or a pair `(g_h, g_w)`: `(g_h, g_w)` cells over an image, `g_h`
    over the time axis of a time series (every feature on its own), none for tabular rows.
    """
    kind = modality((None,) + tuple(input_shape))
    cells = cell_shape(input_shape)
    grid = tuple(grid_size) if isinstance(grid_size, (tuple, list)) else (grid_size, grid_size)
    if kind is Modality.IMAGES:
        return (int(grid[0]), int(grid[1]))
    if kind is Modality.TIME_SERIES:
        return (int(grid[0]), cells[1])
    return cells


def check_grid_fits(grid, cells, name: str = "grid_size") -> None:
    """Raise a ValueError naming `name` when a grid has more cells along an axis than the
    input (`grid` and `cells` are the per-axis sizes compared)."""
    if any(int(g) > int(c) for g, c in zip(grid, cells)):
        raise ValueError(
            f"`{name}` must not exceed the input's size {tuple(int(c) for c in cells)}: a grid "
            f"cell would be smaller than one input cell. Received: {name} giving a grid of "
            f"{tuple(int(g) for g in grid)}"
        )


def upsampled_grid_masks(binary: tf.Tensor, shift_noise: tf.Tensor, cells,
                         gridded: Tuple[bool, ...]) -> tf.Tensor:
    """Bilinearly upsample grids `(n, a, b)` to `(g + 1) * cell` along the `gridded` axes and
    crop `cells` at random shifts (the RISE construction); other axes are kept as they are."""
    grid = tuple(int(d) for d in binary.shape[1:])
    cell = [math.ceil(c / g) if up else 1 for c, g, up in zip(cells, grid, gridded)]
    upsampled = [(g + 1) * k if up else c for c, g, k, up in zip(cells, grid, cell, gridded)]
    masks = tf.image.resize(binary[..., None], upsampled, method="bilinear")[..., 0]
    for axis, (size, k, up) in enumerate(zip(cells, cell, gridded)):
        if not up:
            continue
        shift = tf.cast(tf.floor(shift_noise[:, axis] * k), tf.int32)
        rows = shift[:, None] + tf.range(size)[None, :]
        masks = tf.gather(masks, rows, axis=axis + 1, batch_dims=1)
    return masks


# --- Global sensitivity analysis: design masks --------------------------------------------------

def resize_masks(masks: tf.Tensor, size, method: str = "nearest") -> tf.Tensor:
    """Resize low-resolution masks `(n, g1, g2, c)` to `(n, H, W, c)` (non-square sizes fine)."""
    return tf.image.resize(masks, tuple(int(s) for s in size), method=method)


def box_blur(images: tf.Tensor, size: int) -> tf.Tensor:
    """Mean over a `size x size` window around each pixel (rows `i - (size - 1) // 2` to
    `i + size // 2`, likewise for columns; only the pixels inside the image count at the
    borders), computed as two separable average pools."""
    height, width = int(images.shape[1]), int(images.shape[2])
    vertical = tf.nn.avg_pool2d(images, (min(size, height), 1), 1, "SAME")
    return tf.nn.avg_pool2d(vertical, (1, min(size, width)), 1, "SAME")


# --- Interpretable features: segment maps (host side) -----------------------------------------

#: Fewest superpixels a default image segmentation may have before it falls back to a grid.
MIN_SUPERPIXELS = 8


def grid_segments(height: int, width: int, cells: int = 8) -> np.ndarray:
    """A regular grid of at most `cells x cells` rectangles (one per pixel on small images)."""
    rows = np.arange(height) * min(cells, height) // height
    columns = np.arange(width) * min(cells, width) // width
    return rows[:, None] * min(cells, width) + columns[None, :]


def default_segments(sample: np.ndarray) -> np.ndarray:
    """Default interpretable features of one input: superpixels for images (scikit-image
    `quickshift(ratio=0.5, kernel_size=2)` in Lab space for RGB, `felzenszwalb` otherwise,
    on the image rescaled to [0, 1]), one feature per cell for time series and tabular rows.

    Superpixel algorithms return one or two segments on tiny images (8x8 digits): with fewer
    than :data:`MIN_SUPERPIXELS` segments, a regular :func:`grid_segments` is used instead."""
    cells = cell_shape(sample.shape)
    if sample.ndim != 3:
        return np.arange(int(np.prod(cells))).reshape(cells)
    from skimage import segmentation  # pylint: disable=import-outside-toplevel

    image = sample.astype("float64")
    image = (image - image.min()) / max(float(image.max() - image.min()), 1e-12)  # to [0, 1]
    if image.shape[-1] == 3:
        segments = segmentation.quickshift(image, ratio=0.5, kernel_size=2)
    else:
        segments = segmentation.felzenszwalb(image, channel_axis=-1)
    if len(np.unique(segments)) < MIN_SUPERPIXELS:
        return grid_segments(*image.shape[:2])
    return segments


def _default_segments_of(samples: np.ndarray) -> list:
    """:func:`default_segments` of every sample, on all host cores for images (scikit-image's
    superpixel loops release the GIL)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(len(samples), cores or 1)
    if samples.ndim != 4 or workers < 2:
        return [default_segments(sample) for sample in samples]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(default_segments, samples))


def segment_maps(inputs: tf.Tensor, mapping, first_input: int) -> Tuple[np.ndarray, np.ndarray]:
    """Per-input segment maps with contiguous ids, and each input's number of segments.

    Parameters
    ----------
    inputs
        The group's inputs.
    mapping
        None (:func:`default_segments`), a callable `mapping(sample) -> segment ids` called on
        each input (a numpy array without batch axis), or precomputed maps `(N_total, *cells)`
        for every input of the call, indexed from the first one.
    first_input
        Global index of the group's first input (to slice precomputed maps).

    Returns
    -------
    maps
        int32 array `(n, *cells)` with ids `0 .. nb_segments - 1`.
    nb_segments
        int32 array `(n,)`.
    """
    samples = inputs.numpy()
    cells = cell_shape(samples.shape[1:])
    if mapping is None:
        raw = _default_segments_of(samples)
    elif callable(mapping):
        raw = [np.asarray(mapping(sample)) for sample in samples]
    else:
        maps = np.asarray(mapping)
        stop = first_input + len(samples)
        if maps.ndim != len(cells) + 1 or maps.shape[0] < stop:
            raise ValueError(
                f"`map_to_interpret_space` as an array must hold one map of shape {cells} per "
                f"input, i.e. shape (N, {', '.join(map(str, cells))}) with N >= {stop}. "
                f"Received: shape {maps.shape}"
            )
        raw = list(maps[first_input:stop])
    out = np.empty((len(samples),) + cells, np.int32)
    counts = np.empty(len(samples), np.int32)
    for i, segments in enumerate(raw):
        if tuple(segments.shape) != cells or not np.issubdtype(segments.dtype, np.integer):
            raise ValueError(
                f"`map_to_interpret_space` must give integer segment ids of shape {cells} per "
                f"input. Received: dtype {segments.dtype}, shape {tuple(segments.shape)}"
            )
        _, relabelled = np.unique(segments, return_inverse=True)
        out[i] = relabelled.reshape(cells)
        counts[i] = int(relabelled.max()) + 1
    return out, counts


def expand_segments(values: tf.Tensor, maps: tf.Tensor) -> tf.Tensor:
    """Spread per-segment values `(n, F)` onto the cells of each input: `(n, *cells)`."""
    return tf.gather(values, maps, batch_dims=1)


def segment_sums(values: tf.Tensor, maps: tf.Tensor, width: int) -> tf.Tensor:
    """Sum per-cell values `(n, *cells, k)` over the segments of each input: `(n, width, k)`,
    zero for the ids an input does not use (the adjoint of :func:`expand_segments`)."""
    count = tf.shape(maps)[0]
    offsets = tf.reshape(tf.range(count) * width, [-1] + [1] * (maps.shape.rank - 1))
    depth = int(values.shape[-1])
    sums = tf.math.unsorted_segment_sum(
        tf.reshape(values, [-1, depth]), tf.reshape(maps + offsets, [-1]), count * width)
    return tf.reshape(sums, [count, width, depth])


def first_features(nb_features: tf.Tensor, width) -> tf.Tensor:
    """`(n, width)` float mask of the features `f < nb_features[i]` of each input."""
    return tf.cast(tf.range(width)[None, :] < tf.cast(nb_features, tf.int32)[:, None], tf.float32)


def reference_value(value, sample_shape) -> Optional[np.ndarray]:
    """A reference (baseline) value as an array broadcastable to one input."""
    array = np.asarray(value, dtype="float32")
    try:
        np.broadcast_to(array, tuple(sample_shape))
    except ValueError as error:
        raise ValueError(
            f"`ref_value` must broadcast to the shape of one input {tuple(sample_shape)}. "
            f"Received: shape {array.shape}"
        ) from error
    return array


# --- Coalitions of interpretable features (LIME, KernelSHAP) ----------------------------------

def bernoulli_coalitions(noise: tf.Tensor, nb_features: tf.Tensor, probability: float):
    """Coalitions `(n, F)` keeping each of an input's features with `probability`.

    `noise` is uniform `(n, F)`; features beyond an input's `nb_features` are never kept.
    """
    kept = tf.cast(noise < probability, tf.float32)
    return kept * first_features(nb_features, tf.shape(noise)[1])


def shapley_size_distribution(nb_features: np.ndarray, width: int) -> np.ndarray:
    """Cumulative distribution `(N, width)` of the coalition sizes `1 .. width` of KernelSHAP for
    inputs with `nb_features` features each: size `k` has probability proportional to
    `(M - 1) / (k (M - k))` for `1 <= k <= M - 1` (computed once per input, on the host)."""
    sizes = np.arange(1, width + 1, dtype="float64")[None, :]
    total = np.asarray(nb_features, "float64")[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(sizes < total, (total - 1.0) / (sizes * (total - sizes)), 0.0)
    cumulative = np.cumsum(weights, axis=1)
    last = cumulative[:, -1:]
    return np.where(last > 0, cumulative / np.where(last > 0, last, 1.0), 1.0).astype("float32")


def shapley_coalitions(noise: tf.Tensor, size_noise: tf.Tensor, nb_features: tf.Tensor,
                       size_distribution: tf.Tensor):
    """Coalitions `(n, F)` drawn from the Shapley kernel distribution.

    The size `k` of a coalition of an input with `M` features is drawn with probability
    proportional to `(M - 1) / (k (M - k))`, `1 <= k <= M - 1`, then the `k` features with the
    smallest `noise` are kept: every coalition of size `k` is equally likely.

    The `k`-th smallest noise value is found without sorting: about `k` of the `M` values lie
    below `k / M`; if `c` do, the threshold is the `(c - k + 1)`-th largest of them (`c >= k`)
    or the `(k - c)`-th smallest of the others (`c < k`), found by one `top_k` of the largest
    such rank in the chunk, about the standard deviation `sqrt(M) / 2` of `c`, instead of a
    sort of all `M` values.

    Parameters
    ----------
    noise
        Uniform noise `(n, F)`, one value per feature.
    size_noise
        Uniform noise `(n,)` choosing each coalition's size.
    nb_features
        `(n,)` number of features of each pair's input.
    size_distribution
        `(n, >= F - 1)` cumulative distribution of the sizes of each pair's input, from
        :func:`shapley_size_distribution`.
    """
    width = tf.shape(noise)[1]
    valid = first_features(nb_features, width) > 0
    below = tf.reduce_sum(tf.cast(size_distribution < size_noise[:, None], tf.int32), axis=1)
    size = tf.clip_by_value(below + 1, 1, tf.maximum(tf.cast(nb_features, tf.int32) - 1, 1))
    # Values below the expected quantile k / M, and how far their count is from k.
    quantile = tf.cast(size, tf.float32) / tf.maximum(tf.cast(nb_features, tf.float32), 1.0)
    under = valid & (noise < quantile[:, None])
    excess = tf.reduce_sum(tf.cast(under, tf.int32), axis=1) - size
    from_under = excess >= 0
    rank = tf.where(from_under, excess + 1, -excess)  # >= 1
    candidates = tf.where(from_under[:, None], tf.where(under, noise, -2.0),
                          tf.where(valid & ~under, -noise, -2.0))
    largest = tf.math.top_k(candidates, k=tf.reduce_max(rank), sorted=True).values
    found = tf.gather(largest, rank - 1, batch_dims=1)
    threshold = tf.where(from_under, found, -found)
    return tf.cast(valid & (noise <= threshold[:, None]), tf.float32)
