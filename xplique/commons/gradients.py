"""Scores and gradients of an operator, as plain graph functions and as compiled kernels.

`scores(model, operator, x, y)` and `input_gradients(model, operator, x, y)` are the two
building blocks; :func:`predictions_of` and :func:`gradient_of` compile them per explainer
(closing over the model), batched by the caller with :func:`xplique.commons.batching.batched`.
"""

from typing import Callable

import tensorflow as tf

from xplique.commons.batching import pairs_in
from xplique.commons.compiled import Compiled, PerChunkLength
from xplique.commons.distribution import Pairs, Rows
from xplique.commons.model_surgery import run_model
from xplique.commons.statistics import Statistic


def _inference(model: Callable) -> Callable:
    return lambda inputs: run_model(model, inputs)


def scores(model: Callable, operator: Callable, inputs: tf.Tensor, targets: tf.Tensor):
    """Operator scores `(N,)` of `model` on `inputs` (inference mode)."""
    return operator(_inference(model), inputs, targets)


def input_gradients(model: Callable, operator: Callable, inputs: tf.Tensor, targets: tf.Tensor):
    """Gradient of the operator scores with respect to `inputs`, one gradient per input."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        total = tf.reduce_sum(scores(model, operator, inputs, targets))
    return tape.gradient(total, inputs, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def predictions_of(model: Callable, operator: Callable) -> Compiled:
    """Compiled `(inputs, targets) -> scores` for this model and operator."""
    return Compiled(lambda inputs, targets: scores(model, operator, inputs, targets),
                    split=Rows())


def gradient_of(model: Callable, operator: Callable) -> Compiled:
    """Compiled `(inputs, targets) -> d scores / d inputs` for this model and operator."""
    return Compiled(lambda inputs, targets: input_gradients(model, operator, inputs, targets),
                    split=Rows())


def outputs_of(model: Callable) -> Compiled:
    """Compiled raw model outputs `inputs -> model(inputs)`."""
    return Compiled(_inference(model), split=Rows())


def sampled_gradients_of(
    model: Callable,
    operator: Callable,
    nb_samples: int,
    make_samples: Callable,
    statistic: Statistic,
) -> Compiled:
    """Compiled kernel for :func:`xplique.commons.batching.reduce_over_samples`: gradients at
    `nb_samples` samples drawn around each input, reduced per input by `statistic`.

    Parameters
    ----------
    make_samples
        `make_samples(inputs, sample_index, first_pair, seed) -> (samples, weights)`: `inputs`
        holds each pair's input (repeated per sample), `sample_index` each pair's sample number
        in `[0, nb_samples)`, `first_pair` the global index of the chunk's first pair (for
        :mod:`xplique.commons.random`). `weights` multiply the gradients (None for none).
    statistic
        Online statistic over the (weighted) gradients of each input.

    The kernel signature is `(inputs, targets, start, stop, offset, seed) -> state`. It is
    traced once with an unknown chunk length; a model that needs the static batch size gets one
    kernel per chunk length instead (:class:`~xplique.commons.compiled.PerChunkLength`).
    """

    def make(length):
        def kernel(inputs, targets, start, stop, offset, seed):
            pairs = pairs_in(start, stop, nb_samples, length)
            samples, weights = make_samples(tf.gather(inputs, pairs.owner), pairs.sample,
                                            offset, seed)
            values = input_gradients(model, operator, samples, tf.gather(targets, pairs.owner))
            if weights is not None:
                values = values * weights
            return statistic.partial(values, pairs.segment, pairs.num_segments)

        return kernel

    return PerChunkLength(make, split=Pairs(nb_samples, statistic, make))
