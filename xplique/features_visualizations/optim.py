"""Feature visualization by optimisation: images that maximise an :class:`Objective`.

Ref. Olah et al., Feature Visualization (2017), https://distill.pub/2017/feature-visualization/

Every image of the objective (one per combination of ids) is optimised in one batch. One
compiled step runs per iteration: parameter -> image -> random transformations -> resize to the
model input -> model -> objective minus regularizers -> gradient -> optimizer update (ascent).
This module checks the arguments, builds the image parameterisation and runs the optimisation;
the compiled steps themselves (and the fused Adam update) live in
:mod:`xplique.features_visualizations.ascent`.
"""

from numbers import Integral, Real
from typing import Callable, List, Optional, Sequence, Tuple, Union

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from xplique.commons.model_surgery import clone_graph_model, rewire
from xplique.commons.relu_policies import relu_sites
from xplique.commons.validation import (
    ensure_callable,
    ensure_choice,
    ensure_float,
    ensure_optional_positive_int,
    ensure_positive_int,
    ensure_seed,
)
from xplique.features_visualizations.ascent import make_step, run_steps
from xplique.features_visualizations.objectives import Objective
from xplique.features_visualizations.preconditioning import (
    fft_image,
    fft_to_channels_first,
    fft_to_rgb,
    get_fft_scale,
    recorrelate_colors,
    recorrelate_colors_channels_first,
)
from xplique.features_visualizations.transformations import (
    compose_transformations,
    generate_standard_transformations,
)

# ------------------------------------------------------------------------ argument checks


def check_objective(objective) -> Objective:
    if not isinstance(objective, Objective):
        raise TypeError(
            "`objective` must be an Objective (e.g. Objective.channel(model, layer, ids)). "
            f"Received: {type(objective).__name__}"
        )
    return objective


def check_shape(custom_shape, model_shape: Sequence[int]) -> Tuple[int, int]:
    """`custom_shape` as `(height, width)`: a pair of positive ints, or None for the model's
    input size."""
    if custom_shape is None:
        return int(model_shape[0]), int(model_shape[1])
    valid = (isinstance(custom_shape, (tuple, list)) and len(custom_shape) == 2 and all(
        isinstance(v, (Integral, np.integer)) and not isinstance(v, bool) and v > 0
        for v in custom_shape))
    if not valid:
        raise ValueError(
            "`custom_shape` must be a pair of positive ints (height, width) or None. "
            f"Received: custom_shape={custom_shape!r}"
        )
    return int(custom_shape[0]), int(custom_shape[1])


def check_values_range(values_range) -> Tuple[float, float]:
    valid = isinstance(values_range, (tuple, list)) and len(values_range) == 2 and all(
        isinstance(v, (Real, np.floating, np.integer)) for v in values_range)
    if not valid or not float(values_range[0]) < float(values_range[1]):
        raise ValueError(
            "`values_range` must be a pair (low, high) of numbers with low < high. "
            f"Received: values_range={values_range!r}"
        )
    return float(values_range[0]), float(values_range[1])


def fresh_optimizer(optimizer, default: Callable[[], keras.optimizers.Optimizer]):
    """A new optimizer: `default()` when None, else a copy of `optimizer` from its config
    (the caller's optimizer is never built on our variables nor advanced)."""
    if optimizer is None:
        return default()
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            "`optimizer` must be a keras.optimizers.Optimizer or None. "
            f"Received: {type(optimizer).__name__}"
        )
    return optimizer.__class__.from_config(optimizer.get_config())


def progress(nb_steps: int, verbose: bool, desc: str):
    return tqdm(range(nb_steps), total=nb_steps, desc=desc, disable=not verbose, leave=False)


def _transformations(transformations, size: int) -> Optional[Callable]:
    if transformations is None:
        return None
    if isinstance(transformations, str):
        ensure_choice(transformations, "transformations", ("standard",))
        return generate_standard_transformations(size)
    if isinstance(transformations, (list, tuple)):
        return compose_transformations(transformations)
    return ensure_callable(transformations, "transformations")


def _regularizers(regularizers) -> List[Callable]:
    if regularizers is None:
        return []
    listed = [regularizers] if callable(regularizers) else list(regularizers)
    for index, function in enumerate(listed):
        ensure_callable(function, f"regularizers[{index}]")
    return listed


def _normalizer(image_normalizer, values_range) -> Callable:
    if callable(image_normalizer):
        return image_normalizer
    ensure_choice(image_normalizer, "image_normalizer", ("sigmoid", "clip"))
    if image_normalizer == "sigmoid":
        return tf.nn.sigmoid
    return lambda images: tf.clip_by_value(images, values_range[0], values_range[1])


def _warmup_steps(warmup_steps, nb_steps: int) -> int:
    if warmup_steps is None or warmup_steps is False:
        return 0
    if warmup_steps is True:
        return max(1, nb_steps // 10)
    return ensure_positive_int(warmup_steps, "warmup_steps", minimum=0)


# ---------------------------------------------------------------------- the optimisation


def to_valid_images(images: tf.Tensor, normalizer: Callable, values_range) -> tf.Tensor:
    """Raw parameterised images -> colour-recorrelated, normalised, each image min-max scaled
    to `values_range`.

    With the sigmoid, the sigmoid and the scaling run as :func:`sigmoid_min_max` (the same
    values, a cheaper gradient)."""
    return _normalised(recorrelate_colors(images), normalizer, values_range)


def _normalised(images: tf.Tensor, normalizer: Callable, values_range) -> tf.Tensor:
    if normalizer is tf.nn.sigmoid:
        return sigmoid_min_max(images, values_range)
    return _min_max(normalizer(images), values_range)


def _min_max(images: tf.Tensor, values_range) -> tf.Tensor:
    low = tf.reduce_min(images, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
    images = (images - low) / (high - low + 1e-8)
    return images * (values_range[1] - values_range[0]) + values_range[0]


def sigmoid_min_max(images: tf.Tensor, values_range) -> tf.Tensor:
    """`sigmoid(images)` min-max scaled to `values_range`, image by image: the same values as
    the plain operations, with a hand-written gradient.

    For `s = sigmoid(y)`, `u = (s - min s) / d`, `d = max s - min s + 1e-8` and
    `out = low + r u` (`r = high - low`), an upstream `g` gives
    `ds = g r / d + e_min sum(g r / d (u - 1)) - e_max sum(g r / d u)` and
    `dy = ds s (1 - s)`, where `e_min`, `e_max` are the one-hot positions of the minimum and
    the maximum (added by one scatter). TensorFlow's gradient of `reduce_min`/`reduce_max`
    splits it equally between tied extrema instead, through broadcast comparisons that cost
    more than the rest of the image's gradient on small images; the two differ only for ties,
    which a sigmoid reaches only where it saturates (where `s (1 - s)` is zero or within a few
    float32 steps of it)."""
    low_value, high_value = float(values_range[0]), float(values_range[1])
    span = high_value - low_value

    @tf.custom_gradient
    def scaled(y):
        shape = tf.shape(y)
        s = tf.nn.sigmoid(y)
        low = tf.reduce_min(s, axis=[1, 2, 3], keepdims=True)
        high = tf.reduce_max(s, axis=[1, 2, 3], keepdims=True)
        unit = (s - low) / (high - low + 1e-8)
        out = unit * span + low_value

        def gradient(upstream):
            batch = shape[0]
            flat_s = tf.reshape(s, (batch, -1))
            ds = tf.reshape(upstream, (batch, -1)) * tf.reshape(span / (high - low + 1e-8),
                                                                 (batch, 1))
            towards_unit = tf.reduce_sum(ds * tf.reshape(unit, (batch, -1)), axis=1)
            towards_low = towards_unit - tf.reduce_sum(ds, axis=1)
            rows = tf.range(batch, dtype=tf.int64)
            where = tf.concat([
                tf.stack([rows, tf.argmin(flat_s, axis=1)], 1),
                tf.stack([rows, tf.argmax(flat_s, axis=1)], 1)], 0)
            ds = tf.tensor_scatter_nd_add(ds, where, tf.concat([towards_low, -towards_unit], 0))
            return tf.raw_ops.SigmoidGrad(y=s, dy=tf.reshape(ds, shape))

        return out, gradient

    return scaled(images)


@tf.custom_gradient
def redirected_relu(x):
    """ReLU whose gradient also flows where the input is negative but the gradient would
    raise it (Olah et al., 2017, warm-up): dead units can come alive early in the run."""

    def gradient(upstream):
        keep = tf.logical_or(x > 0, upstream > 0)
        return upstream * tf.cast(keep, upstream.dtype)

    return tf.nn.relu(x), gradient


def optimize(objective: Objective, optimizer: Optional[keras.optimizers.Optimizer] = None,
             nb_steps: int = 256, use_fft: bool = True, fft_decay: float = 0.85,
             std: float = 0.01, regularizers: Optional[Sequence[Callable]] = None,
             image_normalizer: Union[str, Callable] = "sigmoid",
             values_range: Tuple[float, float] = (0, 1),
             transformations: Union[str, Callable, Sequence[Callable], None] = "standard",
             warmup_steps: Union[bool, int] = False,
             custom_shape: Optional[Tuple[int, int]] = (512, 512),
             save_every: Optional[int] = None, *, seed: Optional[int] = None,
             verbose: bool = False) -> Tuple[List[tf.Tensor], List[str]]:
    """Optimise images to maximise `objective`.

    Ref. Olah et al., Feature Visualization (2017),
    https://distill.pub/2017/feature-visualization/

    Parameters
    ----------
    objective
        What to maximise; one image per combination of its ids.
    optimizer
        A Keras optimizer (copied from its config, never modified); `Adam(0.05)` when None.
    nb_steps
        Number of ascent steps.
    use_fft
        Fourier parameterisation (a `1/f^fft_decay`-scaled spectrum) instead of pixels.
    fft_decay
        Decay of the spectrum scale.
    std
        Standard deviation of the random initial parameter.
    regularizers
        Functions `f(images) -> (N,)` subtracted from the objective (e.g. `l1_reg(0.1)`).
    image_normalizer
        "sigmoid", "clip" (to `values_range`) or a function; then each image is min-max scaled
        to `values_range`.
    values_range
        Range of the model's input values.
    transformations
        "standard", None, a function `f(images)` or a list of them (composed).
    warmup_steps
        Steps run first with ReLU gradients redirected (a clone of the model); True means
        `nb_steps // 10`, False or 0 none.
    custom_shape
        `(height, width)` of the optimised images (resized to the model input at every step);
        None for the model's input size.
    save_every
        Also keep the images every `save_every` steps (only those snapshots are kept).
    seed
        Keyword-only. Seed of the initialisation and of the transformations.
    verbose
        Keyword-only. Show a progress bar.

    Returns
    -------
    images
        List of `(N, H, W, C)` tensors: the snapshots, the final images last.
    names
        The N image names.

    Notes
    -----
    Xplique builds a square Fourier buffer and crops it; here non-square and grayscale images
    use their own spectrum shape and a per-channel blur. Xplique's loss quirk (earlier terms
    multiplied again by later multipliers) is not reproduced: see :class:`Objective`.
    """
    objective = check_objective(objective)
    nb_steps = ensure_positive_int(nb_steps, "nb_steps")
    fft_decay = ensure_float(fft_decay, "fft_decay")
    std = ensure_float(std, "std", minimum=0.0)
    values_range = check_values_range(values_range)
    save_every = ensure_optional_positive_int(save_every, "save_every")
    seed = ensure_seed(seed)
    warmup = _warmup_steps(warmup_steps, nb_steps)
    regularizers = _regularizers(regularizers)
    normalizer = _normalizer(image_normalizer, values_range)

    model, objective_function, names, input_shape = objective.compile()
    nb_images, model_size, channels = input_shape[0], tuple(input_shape[1:3]), input_shape[3]
    height, width = check_shape(custom_shape, model_size)
    transform = _transformations(transformations, min(height, width))
    shape = (nb_images, height, width, channels)

    rng = tf.random.Generator.from_seed(seed)
    if use_fft:
        variable = tf.Variable(fft_image(shape, std, seed=seed))
        scale = get_fft_scale(width, height, fft_decay)
        raw = lambda buffer: fft_to_rgb(shape, buffer, scale)  # noqa: E731
    else:
        variable = tf.Variable(tf.random.Generator.from_seed(seed).normal(shape, stddev=std))
        raw = lambda buffer: buffer  # noqa: E731

    def render(buffer):
        return to_valid_images(raw(buffer), normalizer, values_range)

    if use_fft and not callable(image_normalizer):
        # the built-in normalizers are elementwise: the same images, channels first
        def channels_first(buffer):
            planes = recorrelate_colors_channels_first(fft_to_channels_first(shape, buffer, scale))
            return _normalised(planes, normalizer, values_range)

        render.channels_first = channels_first

    optimizer = fresh_optimizer(optimizer, lambda: keras.optimizers.Adam(0.05))
    optimizer.build([variable])
    # the concrete functions skip tf.function's per-call dispatch (and its retracing warning
    # when optimize runs repeatedly)
    step = make_step(model, objective_function, render, transform, regularizers, optimizer,
                     variable, rng, model_size).get_concrete_function()

    if warmup:
        warm_model = clone_graph_model(model)
        rewire(relu_sites(warm_model), lambda layer, original: redirected_relu)
        warm_step = make_step(warm_model, objective_function, render, transform, regularizers,
                              optimizer, variable, rng, model_size).get_concrete_function()
        run_steps(warm_step, warmup, verbose, "Warm-up")

    images: List[tf.Tensor] = run_steps(step, nb_steps, verbose, "Feature visualization",
                                        save_every, lambda: render(variable))
    if save_every is None or nb_steps % save_every != 0:
        images.append(render(variable))
    return images, names
