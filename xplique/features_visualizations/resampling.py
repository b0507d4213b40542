"""Transformations as products of row and column matrices, and the kernel that folds them.

A zero-border resampling of each image in a box (normalised `[y1, x1, y2, x2]`,
`tf.image.crop_and_resize`'s bilinear conventions) is the linear map `rows @ image @ cols^T`
of each image and channel: :func:`_resample` computes it as two batched matrix products
(whose gradient is as cheap as the forward pass, unlike `crop_and_resize`'s scatter on CPU).

:class:`_Folded` is a run of consecutive transformations of
:mod:`xplique.features_visualizations.transformations` (resamplings, blur, flips) applied as a
single row and a single column matrix per image: their random numbers are drawn first, then
the matrices are a pure function of the draws (:func:`_folded_matrices`), compiled by XLA
where it runs (:func:`xplique.commons.compiled.fused`). The public transformation factories
live in :mod:`xplique.features_visualizations.transformations`.
"""

from typing import Callable, Dict, Optional, Sequence, Tuple

import tensorflow as tf

from xplique.commons.compiled import fused

#: `(batch, height, width)` of a batch of images: the batch an int or a scalar tensor, the
#: height and width static ints (what the pure constructions of boxes and matrices need).
Shape = Tuple[object, int, int]


def _shape(images: tf.Tensor) -> Shape:
    batch = images.shape[0] if images.shape[0] is not None else tf.shape(images)[0]
    return batch, int(images.shape[1]), int(images.shape[2])


def _interpolation(low: tf.Tensor, high: tf.Tensor, size_in: int, size_out: int) -> tf.Tensor:
    """Bilinear interpolation matrices `(N, size_out, size_in)` sampling `[low, high]`
    (normalised, `tf.image.crop_and_resize`'s convention) along one axis; rows sampling outside
    the image are zero."""
    steps = tf.linspace(0.0, 1.0, size_out) if size_out > 1 else tf.constant([0.5])
    coordinates = (low[:, None] + (high - low)[:, None] * steps[None]) * float(size_in - 1)
    inside = tf.logical_and(coordinates >= -1e-4, coordinates <= size_in - 1 + 1e-4)
    pixels = tf.range(size_in, dtype=tf.float32)
    weights = tf.nn.relu(1.0 - tf.abs(coordinates[..., None] - pixels[None, None]))
    return weights * tf.cast(inside, tf.float32)[..., None]


def _box_matrices(boxes: tf.Tensor, height: int, width: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """The `(N, H, H)` row and `(N, W, W)` column interpolation matrices of the boxes."""
    rows = _interpolation(boxes[:, 0], boxes[:, 2], height, height)
    cols = _interpolation(boxes[:, 1], boxes[:, 3], width, width)
    return rows, cols


def _apply_matrices(images: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor) -> tf.Tensor:
    """`rows @ image @ cols^T` for each image (and channel): `rows` `(N or 1, H, H)` acts on
    the rows, `cols` `(N or 1, W, W)` on the columns."""
    height, width = int(images.shape[1]), int(images.shape[2])
    dtype = images.dtype
    batch, channels = tf.shape(images)[0], tf.shape(images)[3]
    # rows: (N, H, H) @ (N, H, W C); columns: (N, W, W) @ (N, W, H C) on the transposed
    # images. Plain batched products: the same sums as the einsums, in about 60% of the time
    # (forward and backward).
    out = tf.matmul(tf.cast(rows, dtype), tf.reshape(images, (batch, height, -1)))
    out = tf.transpose(tf.reshape(out, (batch, height, width, channels)), [0, 2, 1, 3])
    out = tf.matmul(tf.cast(cols, dtype), tf.reshape(out, (batch, width, -1)))
    return tf.transpose(tf.reshape(out, (batch, width, height, channels)), [0, 2, 1, 3])


def _resample(images: tf.Tensor, boxes: tf.Tensor, fill: float = 0.0) -> tf.Tensor:
    """Each image's normalised `[y1, x1, y2, x2]` box resampled (bilinear) to the image size;
    outside the image the value is `fill`. The resampling is two batched matrix products
    (rows, then columns), whose gradient is as cheap as the forward pass."""
    height, width = int(images.shape[1]), int(images.shape[2])
    rows, cols = _box_matrices(boxes, height, width)
    out = _apply_matrices(images, rows, cols)
    if fill != 0.0:
        covered = tf.reduce_sum(rows, -1)[:, :, None] * tf.reduce_sum(cols, -1)[:, None, :]
        out += tf.cast(fill * (1.0 - covered), images.dtype)[..., None]
    return out


def _compose_boxes(outer: tf.Tensor, inner: tf.Tensor) -> tf.Tensor:
    """The box of "resample in `outer`, then resample the result in `inner`"."""
    y1, x1, y2, x2 = tf.unstack(outer, axis=1)
    u1, v1, u2, v2 = tf.unstack(inner, axis=1)
    return tf.stack([y1 + (y2 - y1) * u1, x1 + (x2 - x1) * v1,
                     y1 + (y2 - y1) * u2, x1 + (x2 - x1) * v2], axis=1)


def _foldable(function) -> bool:
    """Whether `function` is a transformation of :mod:`transformations` that folds into row
    and column matrices (an identity, a zero-border resampling, or a separable linear map)."""
    return (getattr(function, "identity", False)
            or getattr(function, "boxes", None) is not None
            or getattr(function, "matrices_from", None) is not None)


def _folded_matrices(shape: Shape, functions: Sequence[Callable], draws: Sequence
                     ) -> Optional[Tuple[tf.Tensor, tf.Tensor]]:
    """The row and column matrices of `functions` applied in order, from their random draws:
    a pure function of the draws. None when every function is the identity."""
    height, width = shape[1], shape[2]
    matrices, boxes = None, None

    def then(matrices, rows, cols):  # `rows, cols` applied after `matrices`
        if matrices is None:
            return rows, cols
        return tf.matmul(rows, matrices[0]), tf.matmul(cols, matrices[1])

    def flushed(matrices, boxes):
        if boxes is None:
            return matrices
        return then(matrices, *_box_matrices(boxes, height, width))

    for function, drawn in zip(functions, draws):
        if getattr(function, "identity", False):
            continue
        if getattr(function, "boxes", None) is not None:
            # consecutive resamplings compose exactly as boxes: one interpolation
            box = function.boxes_from(shape, *drawn)
            boxes = box if boxes is None else _compose_boxes(boxes, box)
        else:
            matrices = then(flushed(matrices, boxes), *function.matrices_from(shape, *drawn))
            boxes = None
    return flushed(matrices, boxes)


class _Folded:
    """A run of foldable transformations applied as one row and one column matrix per image.

    The random numbers are drawn first, by the transformations' own `draw` (the same
    generator calls, in the same order, as applying them one by one); the matrices are then
    a pure function of the draws, compiled with XLA where it runs (one fused kernel instead
    of a couple of hundred tiny operations) when the batch size is static."""

    def __init__(self):
        self.functions: list = []
        self._compiled: Dict[Shape, Callable] = {}

    def matrices(self, shape: Shape, rng) -> Optional[Tuple[tf.Tensor, tf.Tensor]]:
        """The row `(N or 1, H, H)` and column `(N or 1, W, W)` matrices for images of
        `shape` (None for an identity), drawing the random numbers from `rng`."""
        draws = [() if getattr(function, "identity", False) else function.draw(shape, rng)
                 for function in self.functions]
        if all(getattr(function, "identity", False) for function in self.functions):
            return None
        if not isinstance(shape[0], int):
            return _folded_matrices(shape, self.functions, draws)
        if shape not in self._compiled:
            counts = [len(drawn) for drawn in draws]
            functions = self.functions

            def build(*flat):
                grouped, start = [], 0
                for count in counts:
                    grouped.append(flat[start:start + count])
                    start += count
                return _folded_matrices(shape, functions, grouped)

            self._compiled[shape] = fused(build)
        return self._compiled[shape](*[value for drawn in draws for value in drawn])

    def __call__(self, images: tf.Tensor, rng) -> tf.Tensor:
        matrices = self.matrices(_shape(images), rng)
        if matrices is None:
            return images
        return _apply_matrices(images, *matrices)

    def channels_first(self, planes: tf.Tensor, rng) -> tf.Tensor:
        """The transformed images, channels last, of images given channels first
        `(N, C, H, W)` (the same values as transposing them first and calling this run): the
        row and column products need no transposition in that layout."""
        batch = planes.shape[0] if planes.shape[0] is not None else tf.shape(planes)[0]
        matrices = self.matrices((batch, int(planes.shape[2]), int(planes.shape[3])), rng)
        if matrices is not None:
            rows, cols = (tf.cast(matrix, planes.dtype)[:, None] for matrix in matrices)
            planes = tf.matmul(tf.matmul(rows, planes), cols, transpose_b=True)
        return tf.transpose(planes, [0, 2, 3, 1])
