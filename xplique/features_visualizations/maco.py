"""MaCo: feature visualization with a fixed, natural magnitude spectrum.

Ref. Fel et al., Unlocking Feature Visualization for Deeper Networks with MAgnitude
Constrained Optimization (2023), https://arxiv.org/abs/2306.06805

The image is `irfft2d(M * exp(i * phase))`: the magnitude `M` is fixed (the average spectrum
of natural images) and only the phase is optimised, so the image keeps natural-image
statistics without any regularizer. Each step scores random crops of the image (with noise)
and accumulates the absolute gradient of the score with respect to the image: the
transparency map, showing where the image matters to the objective.
"""

from typing import Dict, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from xplique.commons.data import iter_groups
from xplique.commons.validation import ensure_float, ensure_positive_int, ensure_seed
from xplique.features_visualizations.objectives import Objective
from xplique.features_visualizations.optim import (
    check_objective,
    check_shape,
    check_values_range,
    fresh_optimizer,
    progress,
)
from xplique.features_visualizations.preconditioning import (
    COLOR_CORRELATION,
    init_maco_buffer,
    maco_image_parametrization,
    spectrum_frequencies,
)
from xplique.features_visualizations.resampling import _interpolation

#: The spectrum sources usable as `maco_dataset` names.
SPECTRUM_SOURCES = ("sample_images", "power_law")

#: `maco_dataset=None` uses this source (see docs/features_visualizations/maco.md).
DEFAULT_SPECTRUM = "sample_images"

#: In-memory cache of the natural spectra computed in this process, by (H, W, C).
_SPECTRA: Dict[Tuple[int, int, int], np.ndarray] = {}


def _decorrelated(images: np.ndarray) -> np.ndarray:
    """RGB images in the decorrelated colour space that MaCo's image recorrelates from."""
    return images @ np.linalg.inv(COLOR_CORRELATION.T)


def power_law_spectrum(shape: Tuple[int, int, int], decay: float = 1.0) -> tf.Tensor:
    """The `1/f^decay` amplitude prior of natural images (Field, 1987; van der Schaaf and van
    Hateren, 1996), `(C, H, W // 2 + 1)`: `1 / max(f, 1 / max(H, W)) ** decay`."""
    height, width, channels = shape
    frequencies = spectrum_frequencies(height, width)
    magnitude = 1.0 / np.maximum(frequencies, 1.0 / max(height, width)) ** decay
    return tf.constant(np.repeat(magnitude[None], channels, 0), tf.float32)


def _photo_crops(shape: Tuple[int, int, int], crops_per_photo: int = 8) -> np.ndarray:
    from sklearn.datasets import load_sample_images  # pylint: disable=import-outside-toplevel

    height, width, channels = shape
    rng = np.random.default_rng(0)
    views = []
    for photo in load_sample_images().images:
        photo = photo.astype(np.float32) / 255.0
        rows, cols = photo.shape[:2]
        for index in range(crops_per_photo):
            fraction = 1.0 if index == 0 else rng.uniform(0.4, 1.0)
            crop_h = int(min(rows, cols * height / width) * fraction)
            crop_w = int(crop_h * width / height)
            top = rng.integers(0, rows - crop_h + 1)
            left = rng.integers(0, cols - crop_w + 1)
            views.append(photo[top:top + crop_h, left:left + crop_w])
    resized = [tf.image.resize(view, (height, width), antialias=True).numpy() for view in views]
    images = np.stack(resized)
    # a Hann window removes the border discontinuities of the crops, whose spectrum is a bright
    # cross along the axes (it would print horizontal and vertical lines on every image)
    window = np.outer(np.hanning(height), np.hanning(width))[None, ..., None]
    images = (images - images.mean(axis=(1, 2), keepdims=True)) * window
    if channels == 3:
        return _decorrelated(images)
    return np.repeat(images.mean(-1, keepdims=True), channels, -1)


def sample_images_spectrum(shape: Tuple[int, int, int]) -> tf.Tensor:
    """The mean magnitude spectrum `(C, H, W // 2 + 1)` of crops of the two photographs that
    scikit-learn ships (`sklearn.datasets.load_sample_images`), resized to `(H, W)`; computed
    once per shape and process, nothing downloaded. Grayscale and other channel counts use the
    photos' luminance."""
    key = tuple(int(v) for v in shape)
    if key not in _SPECTRA:
        images = tf.constant(_photo_crops(key), tf.float32)
        spectra = tf.abs(tf.signal.rfft2d(tf.transpose(images, [0, 3, 1, 2])))
        _SPECTRA[key] = tf.reduce_mean(spectra, 0).numpy()
    return tf.constant(_SPECTRA[key])


def dataset_spectrum(dataset, shape: Tuple[int, int, int], batch_size: int = 64) -> tf.Tensor:
    """Mean `|rfft2d|` `(C, H, W // 2 + 1)` of the images of `dataset` (array, tensor or
    `tf.data.Dataset`, batched or not, of images or `(images, labels)` pairs), each resized to
    `(H, W)`; streamed one batch at a time."""
    height, width, channels = shape
    total, count = 0.0, 0
    for group, _ in iter_groups(dataset, None, batch_size):
        for start in range(0, int(group.shape[0]), batch_size):
            images = tf.cast(group[start:start + batch_size], tf.float32)
            if images.shape.rank != 4 or images.shape[-1] != channels:
                raise ValueError(
                    f"`maco_dataset` must hold images (H, W, {channels}) like the model's "
                    f"inputs. Received a batch of shape {tuple(images.shape)}"
                )
            images = tf.image.resize(images, (height, width))
            spectra = tf.abs(tf.signal.rfft2d(tf.transpose(images, [0, 3, 1, 2])))
            total += tf.reduce_sum(spectra, 0)
            count += int(images.shape[0])
    if count == 0:
        raise ValueError("`maco_dataset` holds no images")
    return total / count


def magnitude_spectrum(maco_dataset, shape: Tuple[int, int, int]) -> tf.Tensor:
    """The fixed magnitude for MaCo: from `maco_dataset` (images, or a source name in
    :data:`SPECTRUM_SOURCES`), :data:`DEFAULT_SPECTRUM` when None."""
    source = DEFAULT_SPECTRUM if maco_dataset is None else maco_dataset
    if isinstance(source, str):
        if source not in SPECTRUM_SOURCES:
            raise ValueError(
                f"`maco_dataset` must be images, None, or one of {SPECTRUM_SOURCES}. "
                f"Received: maco_dataset={maco_dataset!r}"
            )
        if source == "power_law":
            return power_law_spectrum(shape)
        return sample_images_spectrum(shape)
    return dataset_spectrum(source, shape)


def random_crop_boxes(rng: tf.random.Generator, nb_crops: int, box_size: tf.Tensor
                      ) -> tf.Tensor:
    """`nb_crops` square boxes `[y1, x1, y2, x2]`: sides ~ N(box_size, 0.05) clipped to
    [0.05, 1], centres ~ N(0.5, 0.15) kept inside the image."""
    sides = tf.clip_by_value(rng.normal((nb_crops,), box_size, 0.05), 0.05, 1.0)
    centres = rng.normal((nb_crops, 2), 0.5, 0.15)
    half = sides[:, None] / 2.0
    centres = tf.clip_by_value(centres, half, 1.0 - half)
    return tf.concat([centres - half, centres + half], axis=1)


def crop_views(image: tf.Tensor, boxes: tf.Tensor, size) -> tf.Tensor:
    """The crops `(nb_boxes, *size, C)` of one image `(H, W, C)` in normalised boxes, bilinear
    (as `tf.image.crop_and_resize`), computed as two matrix products whose gradient with
    respect to the image is cheap (`crop_and_resize`'s is a slow scatter on CPU)."""
    rows = _interpolation(boxes[:, 0], boxes[:, 2], int(image.shape[0]), int(size[0]))
    cols = _interpolation(boxes[:, 1], boxes[:, 3], int(image.shape[1]), int(size[1]))
    crops = tf.einsum("nyh,hwc->nywc", rows, image)
    return tf.einsum("nxw,nywc->nyxc", cols, crops)


def make_maco_step(model, objective_function, magnitude, phase, transparency, optimizer, rng,
                   nb_crops, noise_intensity, values_range, width, model_size):
    """The compiled MaCo step `step(box_size) -> loss` (traced once): image from the phase,
    random noisy crops, objective, ascent on the phase, transparency += |d loss / d image|."""

    @tf.function(input_signature=[tf.TensorSpec((), tf.float32)], autograph=False)
    def step(size):
        with tf.GradientTape() as tape:
            image = maco_image_parametrization(magnitude, phase, values_range, width)
            boxes = random_crop_boxes(rng, nb_crops, size)
            crops = crop_views(image, boxes, model_size)
            crops += rng.normal(tf.shape(crops), stddev=noise_intensity)
            crops += rng.uniform(tf.shape(crops), -noise_intensity, noise_intensity)
            loss = tf.reduce_mean(objective_function(model(crops, training=False)))
        phase_gradient, image_gradient = tape.gradient(loss, [phase, image])
        optimizer.apply_gradients([(-phase_gradient, phase)])
        transparency.assign_add(tf.abs(image_gradient))
        return loss

    return step


def maco(objective: Objective, optimizer: Optional[keras.optimizers.Optimizer] = None,
         maco_dataset=None, nb_steps: int = 256, noise_intensity: float = 0.08,
         box_size: Optional[float] = None, nb_crops: int = 32,
         values_range: Tuple[float, float] = (-1, 1),
         custom_shape: Optional[Tuple[int, int]] = (512, 512), *, seed: Optional[int] = None,
         verbose: bool = False) -> Tuple[tf.Tensor, tf.Tensor]:
    """Optimise the phase of an image of fixed magnitude spectrum to maximise `objective`.

    Ref. Fel et al., Unlocking Feature Visualization for Deeper Networks with MAgnitude
    Constrained Optimization (2023), https://arxiv.org/abs/2306.06805

    Parameters
    ----------
    objective
        A single-image objective (one id per term).
    optimizer
        A Keras optimizer (copied from its config); `Nadam(1.0)` when None.
    maco_dataset
        Images whose mean `|FFT|` gives the magnitude (array, tensor, `tf.data.Dataset`;
        streamed), or "sample_images" (scikit-learn's two photographs, the default for None)
        or "power_law" (the `1/f` prior).
    nb_steps
        Number of ascent steps.
    noise_intensity
        Standard deviation of the Gaussian noise (and half-width of the uniform noise) added
        to the crops.
    box_size
        Crop side as a fraction of the image; None decays it linearly from 0.5 to 0.05.
    nb_crops
        Crops scored per step (one model batch).
    values_range
        Range of the image values.
    custom_shape
        `(height, width)` of the image; None for the model's input size.
    seed
        Keyword-only. Seed of the phase and of the crops and noise.
    verbose
        Keyword-only. Show a progress bar.

    Returns
    -------
    image
        `(H, W, C)` tensor in `values_range`.
    transparency
        `(H, W, C)` accumulated absolute gradients of the objective w.r.t. the image.

    Notes
    -----
    Xplique ships an ImageNet average spectrum and needs `maco_dataset` for grayscale models;
    here the default spectrum comes from scikit-learn's photographs (luminance for grayscale)
    or a power law. `custom_shape=None` uses the model's input size (Xplique crashes). The
    phase of the spectrum's self-conjugate columns is made odd, so the image's spectrum
    magnitude is exactly the prescribed one.
    """
    objective = check_objective(objective)
    nb_steps = ensure_positive_int(nb_steps, "nb_steps")
    nb_crops = ensure_positive_int(nb_crops, "nb_crops")
    noise_intensity = ensure_float(noise_intensity, "noise_intensity", minimum=0.0)
    values_range = check_values_range(values_range)
    if box_size is not None:
        box_size = ensure_float(box_size, "box_size", minimum=0.0)
        if not 0.0 < box_size <= 1.0:
            raise ValueError(f"`box_size` must be in (0, 1] or None. Received: {box_size!r}")
    seed = ensure_seed(seed)

    model, objective_function, _, input_shape = objective.compile()
    if input_shape[0] != 1:
        raise ValueError(
            "`maco` optimises one image: the objective must have one id per term. "
            f"Received an objective of {input_shape[0]} combinations"
        )
    model_size, channels = tuple(input_shape[1:3]), int(input_shape[3])
    height, width = check_shape(custom_shape, model_size)
    shape = (height, width, channels)
    magnitude = tf.constant(magnitude_spectrum(maco_dataset, shape), tf.float32)

    phase = tf.Variable(init_maco_buffer(shape, seed=seed))
    transparency = tf.Variable(tf.zeros(shape))
    rng = tf.random.Generator.from_seed(seed + 1)
    optimizer = fresh_optimizer(optimizer, lambda: keras.optimizers.Nadam(1.0))
    optimizer.build([phase])

    step = make_maco_step(model, objective_function, magnitude, phase, transparency, optimizer,
                          rng, nb_crops, noise_intensity, values_range, width, model_size)
    sizes = (np.linspace(0.5, 0.05, nb_steps) if box_size is None
             else np.full(nb_steps, box_size)).astype(np.float32)
    for index in progress(nb_steps, verbose, "MaCo"):
        step(tf.constant(sizes[index]))
    image = maco_image_parametrization(magnitude, phase, values_range, width)
    return image, tf.convert_to_tensor(transparency)
