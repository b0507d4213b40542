"""The batching loop: `batch_size` always means model evaluations per forward pass.

:func:`batched` streams inputs through a kernel. :func:`reduce_over_samples` streams the
(input, sample) pairs of methods that draw several samples per input (interpolation steps,
noise draws): pairs are laid out input-major and cut in chunks of exactly `batch_size`, so a
chunk may hold the samples of several inputs, or part of one input's samples. The kernel reduces
each chunk to per-input states that are merged across chunks, so memory never grows with the
number of samples. Results are collected in lists and concatenated once.
"""

from typing import Callable, Iterator, List, Sequence, Tuple

import tensorflow as tf

from xplique.commons.statistics import Statistic


def chunk_ranges(total: int, batch_size: int) -> Iterator[Tuple[int, int]]:
    """Yield `(start, stop)` ranges of at most `batch_size` items covering `range(total)`."""
    for start in range(0, total, batch_size):
        yield start, min(start + batch_size, total)


def batched(fn: Callable, tensors: Sequence[tf.Tensor], batch_size: int) -> tf.Tensor:
    """Apply `fn` to consecutive slices of `tensors` (sliced along axis 0) and concatenate.

    Parameters
    ----------
    fn
        Function of tensors returning one tensor with one row per input row.
    tensors
        Tensors sharing their first dimension.
    batch_size
        Rows per call of `fn`.
    """
    total = int(tensors[0].shape[0])
    outputs: List[tf.Tensor] = [
        fn(*(tensor[start:stop] for tensor in tensors))
        for start, stop in chunk_ranges(total, batch_size)
    ]
    if len(outputs) == 1:
        return outputs[0]
    return tf.concat(outputs, axis=0)


def reduce_over_samples(
    kernel: Callable,
    tensors: Sequence[tf.Tensor],
    nb_samples: int,
    batch_size: int,
    statistic: Statistic,
    first_pair: int = 0,
    extras: Sequence[tf.Tensor] = (),
) -> tf.Tensor:
    """Reduce `nb_samples` per-input samples with `statistic`, `batch_size` pairs per call.

    Parameters
    ----------
    kernel
        `kernel(*tensors, start, stop, offset, *extras) -> state`: evaluates the pairs
        `start <= p < stop` of the group (input `p // nb_samples`, sample `p % nb_samples`) and
        returns the statistic's partial state for inputs `start // nb_samples` to
        `(stop - 1) // nb_samples`. `offset` is the global index of pair `start` (for
        counter-based random numbers that must not depend on how the data was grouped).
    tensors
        The group's per-input tensors (inputs, targets, ...), all with N rows.
    nb_samples
        Samples per input.
    batch_size
        Pairs (model evaluations) per kernel call.
    statistic
        How partial states merge and finalize.
    first_pair
        Global index of the group's first pair.
    extras
        Further tensors passed to every kernel call after `offset` (e.g. a seed).

    Returns
    -------
    The finalized statistic, one row per input.
    """
    total = int(tensors[0].shape[0]) * nb_samples
    finished: List[Tuple[tf.Tensor, ...]] = []
    carry = None
    for start, stop in chunk_ranges(total, batch_size):
        state = kernel(
            *tensors,
            tf.constant(start, tf.int64),
            tf.constant(stop, tf.int64),
            tf.constant(first_pair + start, tf.int64),
            *extras,
        )
        if carry is not None:
            head = statistic.merge(carry, tuple(part[:1] for part in state))
            state = tuple(tf.concat([h, part[1:]], axis=0) for h, part in zip(head, state))
        if stop % nb_samples:  # the last input of the chunk still has samples to come
            carry = tuple(part[-1:] for part in state)
            state = tuple(part[:-1] for part in state)
        else:
            carry = None
        if state[0].shape[0]:
            finished.append(state)
    merged = tuple(tf.concat(parts, axis=0) for parts in zip(*finished))
    return statistic.finalize(merged, nb_samples)
