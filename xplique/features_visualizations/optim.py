"""Feature visualization by optimisation: images that maximise an :class:`Objective`.

Ref. Olah et al., Feature Visualization (2017), https://distill.pub/2017/feature-visualization/

Every image of the objective (one per combination of ids) is optimised in one batch. One
compiled step runs per iteration: parameter -> image -> random transformations -> resize to the
model input -> model -> objective minus regularizers -> gradient -> optimizer update (ascent).
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
from xplique.features_visualizations.objectives import Objective
from xplique.features_visualizations.preconditioning import (
    fft_image,
    fft_to_rgb,
    get_fft_scale,
    recorrelate_colors,
)
from xplique.features_visualizations.transformations import (
    apply,
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
    to `values_range`."""
    images = normalizer(recorrelate_colors(images))
    low = tf.reduce_min(images, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
    images = (images - low) / (high - low + 1e-8)
    return images * (values_range[1] - values_range[0]) + values_range[0]


@tf.custom_gradient
def redirected_relu(x):
    """ReLU whose gradient also flows where the input is negative but the gradient would
    raise it (Olah et al., 2017, warm-up): dead units can come alive early in the run."""

    def gradient(upstream):
        keep = tf.logical_or(x > 0, upstream > 0)
        return upstream * tf.cast(keep, upstream.dtype)

    return tf.nn.relu(x), gradient


def make_step(model, objective_function, render, transform, regularizers, optimizer,
              variable, rng, model_size) -> Callable:
    """The compiled ascent steps: `steps(count)` runs `count` steps in one call (a
    `tf.while_loop`, so one trace serves every count, and the Python dispatch of a call is
    paid once per `count` steps, not per step); it returns the per-image loss of the last."""

    def one_step():
        with tf.GradientTape() as tape:
            images = render(variable)
            views = apply(transform, images, rng) if transform is not None else images
            if tuple(views.shape[1:3]) != tuple(model_size):
                views = tf.image.resize(views, model_size)
            loss = objective_function(model(views, training=False))
            for regularizer in regularizers:
                loss = loss - regularizer(images)
            total = tf.reduce_sum(loss)
        gradient = tape.gradient(total, variable)
        optimizer.apply_gradients([(-gradient, variable)])
        return loss

    def steps(count):
        # the first step runs outside the loop: it gives the loss its shape and dtype
        loss = one_step()

        def body(index, _):
            return index + 1, one_step()

        # one iteration at a time: each step reads the parameter and the optimizer's state
        # that the previous one wrote
        _, loss = tf.while_loop(lambda index, _: index < count, body,
                                (tf.constant(1, tf.int32), loss), parallel_iterations=1)
        return loss

    # no tensor-dependent Python control flow: the loop is an explicit tf.while_loop
    return tf.function(steps, input_signature=[tf.TensorSpec((), tf.int32)], autograph=False)


def run_steps(steps: Callable, nb_steps: int, verbose: bool, desc: str,
              save_every: Optional[int] = None, snapshot: Optional[Callable] = None) -> list:
    """Run `nb_steps` steps with the compiled `steps(count)`, in as few calls as the snapshots
    (every `save_every` steps, taken by `snapshot()`) and the progress bar allow."""
    snapshots = []
    chunk = nb_steps if not verbose else max(1, nb_steps // 64)
    if save_every is not None:
        chunk = min(chunk, save_every)
    bar = tqdm(total=nb_steps, desc=desc, disable=not verbose, leave=False)
    done = 0
    while done < nb_steps:
        count = min(chunk, nb_steps - done)
        if save_every is not None:
            count = min(count, save_every - done % save_every)
        steps(tf.constant(count, tf.int32))
        done += count
        bar.update(count)
        if save_every is not None and done % save_every == 0:
            snapshots.append(snapshot())
    bar.close()
    return snapshots


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
