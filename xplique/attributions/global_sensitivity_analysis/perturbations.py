"""How the sensitivity-analysis methods show an input through a mask, and the kernel that
evaluates a design of masks on many inputs.

A perturbation function maps inputs `(n, H, W, C)` and masks `(n, H, W, c)` in [0, 1]
(`c` is 1 or `C`) to perturbed inputs. :class:`PerturbationFunction` names the built-in ones;
any TensorFlow callable `f(inputs, masks)` works too.
"""

import enum
from typing import Callable

import numpy as np
import tensorflow as tf

from xplique.commons.masks import box_blur, check_grid_fits, resize_masks
from xplique.commons.perturbation import inputs_per_block, perturbed_scores_of, reduce_perturbed
from xplique.commons.shapes import Modality, modality
from xplique.commons.statistics import Collect
from xplique.commons.validation import ensure_choice

#: Side of the box filter of the blurring perturbation, in pixels.
BLUR_SIZE = 10
#: Amplitude of the amplitude perturbation.
AMPLITUDE_SIGMA = 1.0


def inpainting(inputs, masks):
    """`x * M`: the masked-out part is set to zero."""
    return inputs * masks


def blurring(inputs, masks):
    """`x * M + (1 - M) * blur(x)`, blur a 10 x 10 box filter."""
    return inputs * masks + (1.0 - masks) * box_blur(inputs, BLUR_SIZE)


def amplitude(inputs, masks):
    """`x + (M - 0.5) * sigma`, sigma = 1: masks shift the input up or down."""
    return inputs + (masks - 0.5) * AMPLITUDE_SIGMA


class PerturbationFunction(enum.Enum):
    """The built-in perturbations; each member is callable as its function."""

    INPAINTING = "inpainting"
    BLURRING = "blurring"
    AMPLITUDE = "amplitude"

    def __call__(self, inputs, masks):
        return _FUNCTIONS[self](inputs, masks)

    @classmethod
    def from_string(cls, name: str) -> "PerturbationFunction":
        """The member named `name` (case-insensitive)."""
        if not isinstance(name, str):
            raise TypeError(f"`perturbation_function` name must be a string. Received: {name!r}")
        by_name = {member.value: member for member in cls}
        ensure_choice(name.strip().lower(), "perturbation_function", by_name)
        return by_name[name.strip().lower()]


_FUNCTIONS = {
    PerturbationFunction.INPAINTING: inpainting,
    PerturbationFunction.BLURRING: blurring,
    PerturbationFunction.AMPLITUDE: amplitude,
}


def get_perturbation(perturbation_function) -> Callable:
    """A name, a :class:`PerturbationFunction` member or a callable, as a callable."""
    if isinstance(perturbation_function, str):
        return PerturbationFunction.from_string(perturbation_function)
    if callable(perturbation_function):
        return perturbation_function
    raise TypeError(
        "`perturbation_function` must be one of 'inpainting', 'blurring', 'amplitude', a "
        f"PerturbationFunction or a callable f(inputs, masks). Received: {perturbation_function!r}"
    )


def _scores_only(pair_scores, aux):
    return pair_scores


def design_kernel(model, operator, sampler, nb_design: int, grid, perturbation_function):
    """Draw a design of masks once and compile the kernel collecting the scores of all of them.

    Parameters
    ----------
    model, operator
        The scored model and the operator.
    sampler
        A :class:`~.samplers.Sampler`, called once as `sampler(g * g * c, nb_design)`.
    nb_design
        The sampler's design size.
    grid
        `(g, g, c)`: the masks are `g x g` grids with `c` channels, upsampled to each input's
        size (nearest neighbour) and applied by `perturbation_function`.
    perturbation_function
        A name, a :class:`PerturbationFunction` or a callable `f(inputs, masks)`.

    Returns
    -------
    `(masks, kernel)`: the masks `(M, g, g, c)` float32 (Xplique's `masks`), and the kernel
    for :func:`explain_with_design`.
    """
    perturbation = get_perturbation(perturbation_function)
    design = np.asarray(sampler(int(np.prod(grid)), nb_design), np.float32)
    grids = tf.constant(design.reshape((len(design),) + tuple(grid)))

    def make_perturbed(pair_inputs, sample_index, first_pair):
        masks = resize_masks(tf.gather(grids, sample_index), pair_inputs.shape[1:3])
        return perturbation(pair_inputs, masks), None

    kernel = perturbed_scores_of(model, operator, len(design), make_perturbed,
                                 Collect(len(design)), values_of=_scores_only)
    return design.reshape((len(design),) + tuple(grid)), kernel


def design_estimator(estimator: Callable, masks: np.ndarray, nb_design: int, vectorised: bool,
                     *args) -> Callable:
    """`estimate(scores (B, M)) -> (B, d)` from an estimator, `d` the cells of one mask.

    Built-in estimators (`vectorised`) take the scores of every input of a block at once. Any
    other callable is called as Xplique calls it, per input:
    `estimator(masks, outputs, nb_design, *args)` with the masks `(M, g, g, c)` and the
    input's scores `outputs` `(M,)`, and its result is reshaped to `masks.shape[1:]`. Either
    way, a result that does not hold `d` values per input raises a ValueError naming
    `estimator`.
    """
    cells = int(np.prod(masks.shape[1:]))

    def checked(values, count):
        values = tf.convert_to_tensor(values)
        size = values.shape.num_elements()
        if size != count * cells:
            raise ValueError(
                f"`estimator` must return one value per mask cell, {cells} values "
                f"(masks.shape[1:]={tuple(masks.shape[1:])}) for each of the {count} inputs. "
                f"Received {size} values of shape {tuple(values.shape)}"
            )
        return tf.reshape(tf.cast(values, tf.float32), [count, cells])

    def estimate(scores):
        count = int(scores.shape[0])
        if vectorised:
            return checked(estimator(masks, scores, nb_design, *args), count)
        return tf.concat([checked(estimator(masks, row, nb_design, *args), 1)
                          for row in tf.unstack(scores)], axis=0)

    return estimate


def explain_with_design(kernel, inputs, targets, first_input, *, nb_masks: int, grid,
                        batch_size, estimate: Callable, verbose: bool,
                        description: str) -> tf.Tensor:
    """Run a :func:`design_kernel` of `nb_masks` masks over `grid` `(g, g, c)` on a group of
    images and turn each input's scores into a map with
    `estimate(scores (B, M)) -> (B, g * g * c)`, resized (bicubic) to the images."""
    grid_height, grid_width, channels = grid
    if modality(inputs) is not Modality.IMAGES:
        raise ValueError(
            f"{description} explains images (N, H, W, C). Received: inputs.shape="
            f"{tuple(inputs.shape)}"
        )
    if channels not in (1, int(inputs.shape[-1])):
        raise ValueError(
            f"`nb_channels` must be 1 or the number of image channels ({inputs.shape[-1]}). "
            f"Received: nb_channels={channels}"
        )
    check_grid_fits((grid_height, grid_width), inputs.shape[1:3])

    def finish(scores, block_inputs, block_targets):
        indices = tf.reshape(estimate(scores), [-1, grid_height, grid_width, channels])
        return tf.image.resize(indices, block_inputs.shape[1:3], method="bicubic")

    return reduce_perturbed(
        kernel, [inputs, targets], nb_masks, batch_size, Collect(nb_masks),
        first_input=first_input, finish=finish,
        inputs_per_block=inputs_per_block(nb_masks, batch_size), verbose=verbose,
        description=description,
    )
