"""The one batched perturbation kernel: scores of perturbed copies of the inputs, reduced online.

Every perturbation method (Occlusion, RISE, LIME, KernelSHAP, Sobol, HSIC, Score-CAM) and every
fidelity metric evaluates the operator on `nb_samples` perturbed copies of each input, then
reduces the scores per input. They differ only in how a perturbed copy is made (a mask sampler)
and how the scores are combined (a statistic and an estimator). This module is the forward-pass
twin of :func:`xplique.commons.gradients.sampled_gradients_of`, and runs through the same loop,
:func:`xplique.commons.batching.reduce_over_samples`:

- (input, sample) pairs are laid out input-major and cut in chunks of exactly `batch_size`
  pairs, so one model call evaluates the samples of several inputs (few masks per input) or a
  slice of one input's samples (many masks);
- the masks of a chunk are made inside the compiled kernel, on the device, from the pairs'
  sample numbers (deterministic masks) or from :mod:`xplique.commons.random` (random masks,
  identical whatever `batch_size`);
- each chunk's scores are reduced at once to per-input states (:mod:`xplique.commons.statistics`),
  so memory is O(batch_size x input) and flat in `nb_samples`.

How to use it
-------------
1. Write `make_perturbed(pair_inputs, sample_index, first_pair, *extras, *pair_tensors)`
   returning `(perturbed, aux)`: `pair_inputs` holds each pair's input (one row per pair),
   `sample_index` each pair's sample number in `[0, nb_samples)`, `first_pair` the global index
   of the chunk's first pair (the counter for :func:`~xplique.commons.random.pair_uniform`),
   `extras` the scalars you pass to the loop (e.g. a seed) and `pair_tensors` your per-input
   tensors gathered per pair (e.g. segment maps, base scores, explanation rankings).
   `aux` is whatever the values need (usually the masks).
2. Write `values_of(scores, aux, *pair_tensors)` returning one value per pair (default:
   `scores * aux`, the score-weighted masks of RISE and Occlusion).
3. Build the kernel once per explainer (it closes over the model and traces once):
   `kernel = perturbed_scores_of(model, operator, nb_samples, make_perturbed, statistic)`.
4. Run it with :func:`reduce_perturbed` (or directly with `reduce_over_samples`):
   `reduce_perturbed(kernel, [inputs, targets, *per_input], nb_samples, batch_size, statistic,
   first_input=first_input, extras=(seed,))`.

Use :class:`~xplique.commons.statistics.Sum` / `Mean` for weighted sums of masks and
:class:`~xplique.commons.statistics.Collect` when an estimator needs every sample's value (the
scores of a design, design rows): then pass `inputs_per_block` (see :func:`inputs_per_block`)
and a `finish` function that turns each block's collected values into explanations, so the
collected values of only one block of inputs are held at a time.

Example: the mean score of inputs whose pixels are kept with probability 1/2.

>>> import tensorflow as tf
>>> from xplique.commons.operators import predictions_operator
>>> from xplique.commons.random import pair_uniform
>>> from xplique.commons.statistics import Mean
>>> def keep_half(pair_inputs, sample_index, first_pair, seed):
...     noise = pair_uniform(seed, first_pair, tf.shape(pair_inputs)[0], pair_inputs.shape[1:])
...     masks = tf.cast(noise < 0.5, pair_inputs.dtype)
...     return pair_inputs * masks, tf.ones_like(sample_index, tf.float32)
>>> model = lambda x: tf.reduce_sum(x, axis=1, keepdims=True)
>>> kernel = perturbed_scores_of(model, predictions_operator, 100, keep_half, Mean())
>>> inputs, targets = tf.ones((2, 4)), tf.ones((2, 1))
>>> means = reduce_perturbed(kernel, [inputs, targets], 100, 32, Mean(),
...                          extras=(tf.constant(0, tf.int64),))
>>> means.shape
TensorShape([2])
"""

import math
from typing import Callable, Optional, Sequence, Union

import tensorflow as tf

from xplique.commons.batching import (
    batched,
    evaluations_per_pass,
    pairs_in,
    reduce_over_samples,
)
from xplique.commons.compiled import Compiled
from xplique.commons.distribution import Pairs
from xplique.commons.gradients import scores
from xplique.commons.statistics import Statistic

#: A sample count, or a function of the per-input shape giving it (e.g. Occlusion's patches).
SampleCount = Union[int, Callable[[tuple], int]]


def samples_for(nb_samples: SampleCount, input_shape) -> int:
    """The number of samples drawn for inputs of per-input shape `input_shape`."""
    if callable(nb_samples):
        return int(nb_samples(tuple(int(d) for d in input_shape)))
    return int(nb_samples)


def weighted_masks(pair_scores: tf.Tensor, masks: tf.Tensor, *pair_tensors) -> tf.Tensor:
    """Default per-pair values: each mask weighted by its score."""
    shape = tf.concat([tf.shape(pair_scores), tf.ones([masks.shape.rank - 1], tf.int32)], 0)
    return tf.reshape(pair_scores, shape) * tf.cast(masks, pair_scores.dtype)


def perturbed_scores_of(
    model: Callable,
    operator: Callable,
    nb_samples: SampleCount,
    make_perturbed: Callable,
    statistic: Statistic,
    values_of: Optional[Callable] = None,
    fully_relaxed: Sequence[int] = (),
) -> Compiled:
    """Compiled kernel for :func:`~xplique.commons.batching.reduce_over_samples`: operator
    scores of `nb_samples` perturbed copies of each input, reduced per input by `statistic`.

    Parameters
    ----------
    model
        The model (traceable; see :func:`xplique.commons.model_adapters.black_box_model`).
    operator
        `g(model, inputs, targets) -> (n,)` scores.
    nb_samples
        Perturbed copies per input, or a function of the per-input shape giving that number.
    make_perturbed
        `make_perturbed(pair_inputs, sample_index, first_pair, *extras, *pair_tensors)
        -> (perturbed, aux)`, see the module docstring.
    statistic
        Online statistic over the per-pair values (its `partial_at` is called).
    values_of
        `values_of(scores, aux, *pair_tensors) -> values`, one row per pair. Defaults to
        :func:`weighted_masks` (`aux` being the masks).
    fully_relaxed
        Positions, in the kernel's arguments `(inputs, targets, *per_input, ...)`, of the
        per-input tensors whose every axis may change between calls without a new trace (see
        :class:`~xplique.commons.compiled.Compiled`).

    Returns
    -------
    The kernel `(inputs, targets, *per_input, start, stop, offset, *extras) -> state`.
    `per_input` tensors have one row per input (rank >= 1); `extras` are scalars.
    """
    values_of = weighted_masks if values_of is None else values_of

    def kernel(inputs, targets, *rest):
        # Per-input tensors have a batch axis; the loop's (start, stop, offset) are scalars.
        split = next(i for i, tensor in enumerate(rest) if tensor.shape.rank == 0)
        per_input, extras = rest[:split], rest[split + 3:]
        start, stop, offset = rest[split:split + 3]
        pairs = pairs_in(start, stop, samples_for(nb_samples, inputs.shape[1:]))
        pair_tensors = [tf.gather(tensor, pairs.owner) for tensor in per_input]
        perturbed, aux = make_perturbed(
            tf.gather(inputs, pairs.owner), pairs.sample, offset, *extras, *pair_tensors
        )
        pair_scores = tf.cast(
            scores(model, operator, perturbed, tf.gather(targets, pairs.owner)), tf.float32
        )
        values = values_of(pair_scores, aux, *pair_tensors)
        return statistic.partial_at(values, pairs.segment, pairs.sample, pairs.num_segments)

    return Compiled(kernel, fully_relaxed, split=Pairs(nb_samples, statistic))


def inputs_per_block(nb_samples: int, batch_size: Optional[int], values_per_sample: int = 1,
                     budget: int = 2**24) -> int:
    """How many inputs to reduce at once when a statistic collects every sample's values.

    The block's pairs are a multiple of `batch_size` (so blocks do not add model calls) unless
    that would hold more than `budget` collected values; then blocks shrink to fit the budget.
    `batch_size=None` counts as :data:`~xplique.commons.batching.MAX_BATCH_SIZE`.
    """
    batch_size = evaluations_per_pass(batch_size)
    block = batch_size // math.gcd(nb_samples, batch_size)
    fitting = max(1, budget // max(1, nb_samples * values_per_sample))
    return block if block <= fitting else fitting


def reduce_perturbed(
    kernel: Callable,
    tensors: Sequence[tf.Tensor],
    nb_samples: int,
    batch_size: Optional[int],
    statistic: Statistic,
    first_input: int = 0,
    extras: Sequence[tf.Tensor] = (),
    finish: Optional[Callable] = None,
    inputs_per_block: Optional[int] = None,
    verbose: bool = False,
    description: str = "",
) -> tf.Tensor:
    """Run a perturbation kernel over a group of inputs.

    Parameters
    ----------
    kernel
        From :func:`perturbed_scores_of`.
    tensors
        `[inputs, targets, *per_input]`, all with one row per input.
    nb_samples, batch_size, statistic, extras
        As in :func:`~xplique.commons.batching.reduce_over_samples`.
    first_input
        Global index of the group's first input (pairs are numbered from
        `first_input * nb_samples`, so random masks do not depend on the grouping).
    finish
        `finish(state, *block_tensors) -> explanations`, applied to each block's finalized
        statistic; None returns the statistic.
    inputs_per_block
        Inputs reduced together (None: the whole group).
    verbose
        Show a progress bar over the model evaluations.
    description
        Label of the progress bar.
    """
    total = int(tensors[0].shape[0])
    bar = None
    if verbose:
        from tqdm.auto import tqdm  # pylint: disable=import-outside-toplevel

        bar = tqdm(total=total * nb_samples, desc=description, unit="eval")
    nb_tensors = len(tensors)

    def counted(*args):
        state = kernel(*args)
        if bar is not None:
            bar.update(int(args[nb_tensors + 1]) - int(args[nb_tensors]))
        return state

    def reduce_block(*block):
        *block_tensors, index = block
        state = reduce_over_samples(
            counted, block_tensors, nb_samples, batch_size, statistic,
            first_pair=(first_input + int(index[0])) * nb_samples, extras=extras,
        )
        return state if finish is None else finish(state, *block_tensors)

    try:
        positions = tf.range(total)
        return batched(reduce_block, [*tensors, positions], inputs_per_block or total)
    finally:
        if bar is not None:
            bar.close()
