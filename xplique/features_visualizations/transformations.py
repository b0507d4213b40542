"""Random image transformations for feature visualization (transformation robustness).

Ref. Olah et al., Feature Visualization (2017), https://distill.pub/2017/feature-visualization/
("transformation robustness": jitter, scale, rotate a little at every step, so that the image
must excite the unit under all of them and high-frequency adversarial patterns are discouraged).

Each factory returns a function `f(images, rng=None) -> images` for `(N, H, W, C)` images that
keeps the shape and dtype; `rng` is the `tf.random.Generator` drawing the randomness (the
global generator when None), so a seeded optimisation is reproducible.

Notes
-----
Xplique's `pad`, `random_jitter` and `random_scale` change the image size (the final resize to
the model input absorbs it). Here every transformation keeps the size, and each image of the
batch gets its own random draw: jitter and scale are crops (or, past the borders, padded
views) resampled back to the image size, and `pad` adds a border of `pad_value` while
shrinking the content to keep the size. The resampling is bilinear, with
`tf.image.crop_and_resize`'s conventions, computed as two matrix products per image (the
gradient of `crop_and_resize` with respect to the image is a slow scatter on CPU): those
products, and the folding of a run of transformations into one of them, live in
:mod:`xplique.features_visualizations.resampling`.
"""

import functools
import inspect
from typing import Callable, Optional, Sequence

import tensorflow as tf

from xplique.features_visualizations.resampling import (
    Shape,
    _foldable,
    _Folded,
    _resample,
    _shape,
)

Transformation = Callable[..., tf.Tensor]


def _rng(rng: Optional[tf.random.Generator]) -> tf.random.Generator:
    return rng if rng is not None else tf.random.get_global_generator()


def _no_draw(shape: Shape, rng=None):  # pylint: disable=unused-argument
    return ()


def _separable(transformation: Transformation, draw: Callable, matrices_from: Callable
               ) -> Transformation:
    """Mark `transformation` as the linear map `rows @ image @ cols^T` of each image and
    channel, so that :func:`compose_transformations` can multiply consecutive ones into a
    single pair of products. Its randomness is split from its arithmetic:
    `draw(shape, rng) -> tuple` draws the random numbers (the same calls as the
    transformation), `matrices_from(shape, *draws) -> (rows, cols)` is a pure function of
    them (`shape` as :data:`Shape`); `matrices(images, rng)` chains both."""
    transformation.draw = draw
    transformation.matrices_from = matrices_from
    transformation.matrices = lambda images, rng=None: matrices_from(
        _shape(images), *draw(_shape(images), rng))
    return transformation


def _geometric(transformation: Transformation, draw: Optional[Callable],
               boxes_from: Optional[Callable]) -> Transformation:
    """Mark `transformation` as a resampling of each image in a box (normalised
    `[y1, x1, y2, x2]`, zeros outside), so that :func:`compose_transformations` can merge
    consecutive ones into a single resampling: `draw(shape, rng) -> tuple` draws its random
    numbers, `boxes_from(shape, *draws)` is a pure function of them, `boxes(images, rng)`
    chains both. `boxes_from=None` marks a transformation that is not a zero-border
    resampling (it is applied on its own)."""
    transformation.draw = draw
    transformation.boxes_from = boxes_from
    transformation.boxes = None if boxes_from is None else (
        lambda images, rng=None: boxes_from(_shape(images), *draw(_shape(images), rng)))
    return transformation


def _identity(transformation: Transformation) -> Transformation:
    """Mark `transformation` as the identity (it draws nothing)."""
    transformation.identity = True
    transformation.boxes = None
    return transformation


def pad(size: int = 6, pad_value: float = 0.0) -> Transformation:
    """Add a border of `size` pixels of `pad_value` around the images (content shrunk so the
    image keeps its size)."""
    size = int(size)

    def boxes_from(shape):
        batch, height, width = shape
        inner_h = max(height - 1.0 - 2.0 * size, 1.0)
        inner_w = max(width - 1.0 - 2.0 * size, 1.0)
        box = tf.constant([-size / inner_h, -size / inner_w,
                           (height - 1.0 - size) / inner_h, (width - 1.0 - size) / inner_w],
                          tf.float32)
        return tf.tile(box[None], [batch, 1])

    def transformation(images, rng=None):  # pylint: disable=unused-argument
        if size == 0:
            return images
        return _resample(images, boxes_from(_shape(images)), float(pad_value))

    if size == 0:
        return _identity(transformation)
    return _geometric(transformation, _no_draw,
                      boxes_from if float(pad_value) == 0.0 else None)


def random_jitter(delta: int = 6) -> Transformation:
    """Shift each image by a random number of pixels in `[-delta/2, delta/2]` along each
    axis (the view is a crop of side `size - delta` resized back: a shift and a slight zoom,
    as Xplique's random crop followed by the resize to the model input)."""
    delta = int(delta)

    def draw(shape, rng=None):
        return (_rng(rng).uniform((shape[0], 2), 0.0, float(delta)),)

    def boxes_from(shape, offsets):
        _, height, width = shape
        span_h, span_w = max(height - 1.0, 1.0), max(width - 1.0, 1.0)
        top, left = offsets[:, 0] / span_h, offsets[:, 1] / span_w
        return tf.stack([top, left, top + 1.0 - delta / span_h, left + 1.0 - delta / span_w], 1)

    def transformation(images, rng=None):
        if delta == 0:
            return images
        return _resample(images, boxes_from(_shape(images), *draw(_shape(images), rng)))

    if delta == 0:
        return _identity(transformation)
    return _geometric(transformation, draw, boxes_from)


def random_scale(scale_range: Sequence[float] = (0.95, 1.05)) -> Transformation:
    """Rescale each image's content around its centre by a factor drawn in `scale_range`
    (below 1 the border shows zeros)."""
    low, high = float(scale_range[0]), float(scale_range[1])

    def draw(shape, rng=None):
        return (_rng(rng).uniform((shape[0],), low, high),)

    def boxes_from(shape, scales):  # pylint: disable=unused-argument
        half = 0.5 / scales
        return tf.stack([0.5 - half, 0.5 - half, 0.5 + half, 0.5 + half], 1)

    def transformation(images, rng=None):
        return _resample(images, boxes_from(_shape(images), *draw(_shape(images), rng)))

    return _geometric(transformation, draw, boxes_from)


def _gaussian_line(sigma: tf.Tensor, kernel_size: int) -> tf.Tensor:
    """The normalised 1-D Gaussian of `kernel_size` taps."""
    positions = tf.range(kernel_size, dtype=tf.float32) - (kernel_size - 1) / 2.0
    line = tf.exp(-0.5 * tf.square(positions / sigma))
    return line / tf.reduce_sum(line)


def random_blur(sigma_range: Sequence[float] = (1.0, 2.0), kernel_size: int = 10
                ) -> Transformation:
    """Blur the images with a `kernel_size` Gaussian of standard deviation drawn in
    `sigma_range` (one depthwise kernel per channel, whatever the channel count).

    The Gaussian is separable: the blur runs as a vertical then a horizontal 1-D pass (with
    the same zero padding), `2 k` instead of `k^2` products per pixel, forward and backward."""
    low, high = float(sigma_range[0]), float(sigma_range[1])
    kernel_size = int(kernel_size)

    def transformation(images, rng=None):
        channels = int(images.shape[-1])
        sigma = _rng(rng).uniform((), low, high)
        line = tf.cast(_gaussian_line(sigma, kernel_size), images.dtype)
        column = tf.tile(line[:, None, None, None], [1, 1, channels, 1])
        row = tf.tile(line[None, :, None, None], [1, 1, channels, 1])
        images = tf.nn.depthwise_conv2d(images, column, [1, 1, 1, 1], "SAME")
        return tf.nn.depthwise_conv2d(images, row, [1, 1, 1, 1], "SAME")

    def draw(shape, rng=None):  # pylint: disable=unused-argument
        return (_rng(rng).uniform((), low, high),)

    def matrices_from(shape, sigma):
        line = _gaussian_line(sigma, kernel_size)
        return (_convolution_matrix(line, shape[1])[None],
                _convolution_matrix(line, shape[2])[None])

    return _separable(transformation, draw, matrices_from)


def _convolution_matrix(line: tf.Tensor, size: int) -> tf.Tensor:
    """The `(size, size)` matrix of the 1-D correlation with `line` under "SAME" zero padding
    (`floor((k - 1) / 2)` zeros before, the rest after, as TensorFlow's convolutions)."""
    kernel_size = int(line.shape[0])
    before = (kernel_size - 1) // 2
    outputs = tf.range(size)[:, None]
    taps = tf.range(size)[None, :] - outputs + before  # input j feeds output i via tap j-i+b
    valid = tf.logical_and(taps >= 0, taps < kernel_size)
    weights = tf.gather(line, tf.clip_by_value(taps, 0, kernel_size - 1))
    return tf.where(valid, weights, tf.zeros((), line.dtype))


def random_flip(horizontal: bool = True, vertical: bool = False) -> Transformation:
    """Flip each image left-right (and/or up-down) with probability 1/2."""

    def transformation(images, rng=None):
        generator = _rng(rng)
        batch = tf.shape(images)[0]
        for enabled, axis in ((horizontal, 2), (vertical, 1)):
            if enabled:
                flip = generator.uniform((batch, 1, 1, 1)) < 0.5
                images = tf.where(flip, tf.reverse(images, axis=[axis]), images)
        return images

    def draw(shape, rng=None):  # the same draws as the transformation
        generator = _rng(rng)
        batch = shape[0]
        return tuple(generator.uniform((batch, 1, 1, 1))
                     for enabled in (horizontal, vertical) if enabled)

    def matrices_from(shape, *draws):
        draws = list(draws)
        found = {}
        for enabled, axis in ((horizontal, 2), (vertical, 1)):
            identity = tf.eye(shape[axis], dtype=tf.float32)[None]
            if enabled:
                flip = draws.pop(0) < 0.5
                found[axis] = tf.where(flip[:, :, :, 0], tf.reverse(identity, axis=[2]),
                                       identity)
            else:
                found[axis] = identity
        return found[1], found[2]

    return _separable(transformation, draw, matrices_from)


def compose_transformations(transformations: Sequence[Transformation]) -> Transformation:
    """One transformation applying `transformations` in order (each with the same `rng`).

    Consecutive geometric transformations of this module (`pad` with a zero border,
    `random_jitter`, `random_scale`) are merged into one resampling of each image in the
    composed box: the same geometry, one bilinear interpolation instead of several (sharper,
    and several times cheaper, its backward pass included). The blur and the flips are linear
    maps of the rows and of the columns too: with the resamplings around them they are
    multiplied into one row matrix and one column matrix per image (small `H x H` and `W x W`
    products), applied to the images by two batched matrix products, so the standard stack
    costs one resampling, forward and backward, instead of two resamplings, two blur passes
    and a flip (the same values, up to rounding). The random numbers of such a run are drawn
    first (the same generator calls as one transformation after the other) and its matrices
    built from them by one XLA-compiled function where XLA runs (see
    :mod:`xplique.features_visualizations.resampling`).
    """
    transformations = list(transformations)
    for index, function in enumerate(transformations):
        if not callable(function):
            raise TypeError(
                f"`transformations[{index}]` must be callable. Received: {function!r}"
            )
    # runs of consecutive foldable transformations, and the others, in order
    segments: list = []
    for function in transformations:
        if _foldable(function):
            if not segments or not isinstance(segments[-1], _Folded):
                segments.append(_Folded())
            segments[-1].functions.append(function)
        else:
            segments.append(function)

    def transformation(images, rng=None):
        for segment in segments:
            if isinstance(segment, _Folded):
                images = segment(images, rng)
            else:
                images = apply(segment, images, rng)
        return images

    transformation.segments = tuple(segments)
    if len(segments) == 1 and isinstance(segments[0], _Folded):
        # a single run of row and column products: it also applies to channels-first images
        transformation.channels_first = segments[0].channels_first
    return transformation


def accepts_rng(function: Callable) -> bool:
    """Whether `function` takes an `rng` keyword (the transformations of this module do; a
    user's function of the images alone does not)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "rng" or p.kind is p.VAR_KEYWORD for p in parameters)


def apply(function: Transformation, images: tf.Tensor, rng) -> tf.Tensor:
    """Call a transformation, with `rng` when it accepts one."""
    return function(images, rng=rng) if accepts_rng(function) else function(images)


def generate_standard_transformations(size: int) -> Transformation:
    """The standard stack for `size`-pixel images (unit = size // 16): pad 4 units, jitters of
    2, 2, 4, 4, 4 units, scale in (0.92, 0.96), blur sigma in (1, 1.1), jitters of 1, 1 unit,
    random horizontal flip.

    One stack per size is built and kept (it holds no state: the randomness comes from the
    `rng` of each call), so repeated optimisations reuse its compiled matrices."""
    return _standard_transformations(max(int(size) // 16, 0))


@functools.lru_cache(maxsize=32)
def _standard_transformations(unit: int) -> Transformation:
    return compose_transformations([
        pad(unit * 4, 0.0),
        random_jitter(unit * 2),
        random_jitter(unit * 2),
        random_jitter(unit * 4),
        random_jitter(unit * 4),
        random_jitter(unit * 4),
        random_scale((0.92, 0.96)),
        random_blur(sigma_range=(1.0, 1.1)),
        random_jitter(unit),
        random_jitter(unit),
        random_flip(),
    ])


__all__ = [
    "pad", "random_jitter", "random_scale", "random_blur", "random_flip",
    "compose_transformations", "generate_standard_transformations",
]
