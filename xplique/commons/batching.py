"""The batching loop: `batch_size` always means model evaluations per forward pass.

:func:`batched` streams inputs through a kernel. :func:`reduce_over_samples` streams the
(input, sample) pairs of methods that draw several samples per input (interpolation steps,
noise draws): pairs are laid out input-major and cut in chunks of exactly `batch_size`, so a
chunk may hold the samples of several inputs, or part of one input's samples. The kernel reduces
each chunk to per-input states that are merged across chunks, so memory never grows with the
number of samples. Results are collected in lists and concatenated once.

`batch_size=None` (Xplique's "all at once") is one pass over everything, bounded by
:data:`MAX_BATCH_SIZE` evaluations per pass (:func:`evaluations_per_pass`), so that a large
array or dataset never builds one pass that exhausts memory.
"""

from typing import Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from xplique.commons.statistics import Statistic

#: Model evaluations per pass when `batch_size=None`: everything in one pass up to this many
#: evaluations, then passes of this size (see docs/conventions.md).
MAX_BATCH_SIZE = 512


def evaluations_per_pass(batch_size: Optional[int]) -> int:
    """The pass size a loop uses for `batch_size` (an int, or None: :data:`MAX_BATCH_SIZE`)."""
    return MAX_BATCH_SIZE if batch_size is None else int(batch_size)


def chunk_ranges(total: int, batch_size: Optional[int]) -> Iterator[Tuple[int, int]]:
    """Yield `(start, stop)` ranges of at most `batch_size` items covering `range(total)`
    (None: at most :data:`MAX_BATCH_SIZE`)."""
    batch_size = evaluations_per_pass(batch_size)
    for start in range(0, total, batch_size):
        yield start, min(start + batch_size, total)


def batched(fn: Callable, tensors: Sequence[tf.Tensor], batch_size: Optional[int]
            ) -> tf.Tensor:
    """Apply `fn` to consecutive slices of `tensors` (sliced along axis 0) and concatenate.

    Parameters
    ----------
    fn
        Function of tensors returning one tensor with one row per input row.
    tensors
        Tensors sharing their first dimension.
    batch_size
        Rows per call of `fn` (None: all rows, at most :data:`MAX_BATCH_SIZE` per call).
    """
    total = int(tensors[0].shape[0])
    outputs: List[tf.Tensor] = [
        fn(*(tensor[start:stop] for tensor in tensors))
        for start, stop in chunk_ranges(total, batch_size)
    ]
    if len(outputs) == 1:
        return outputs[0]
    return tf.concat(outputs, axis=0)


class Pairs(NamedTuple):
    """Where the pairs `start <= p < stop` of a chunk come from (graph tensors).

    Attributes
    ----------
    owner
        Each pair's input, as an index in the group.
    sample
        Each pair's sample number in `[0, nb_samples)`.
    segment
        Each pair's input relative to the chunk's first input (int32, for segment reductions).
    num_segments
        Number of inputs the chunk touches.
    """

    owner: tf.Tensor
    sample: tf.Tensor
    segment: tf.Tensor
    num_segments: tf.Tensor


def pairs_in(start, stop, nb_samples, length: Optional[int] = None) -> Pairs:
    """The :class:`Pairs` of the chunk `[start, stop)` when each input has `nb_samples`.

    `length`, the chunk's `stop - start` as a Python int when given, makes the number of pairs
    static (for models that read the static batch size, see
    :class:`~xplique.commons.compiled.PerChunkLength`).
    """
    if length is None:
        pairs = tf.range(start, stop)
    else:
        pairs = start + tf.range(length, dtype=tf.convert_to_tensor(start).dtype)
    owner = pairs // nb_samples
    first = start // nb_samples
    return Pairs(
        owner=owner,
        sample=pairs % nb_samples,
        segment=tf.cast(owner - first, tf.int32),
        num_segments=(stop - 1) // nb_samples - first + 1,
    )


#: Chunk states held before they are combined into per-input rows: one combine per this
#: many model calls, or sooner once the held states reach PENDING_ELEMENTS values, so memory
#: stays flat in `nb_samples`.
PENDING_CHUNKS = 32
PENDING_ELEMENTS = 2**20


def reduce_over_samples(
    kernel: Callable,
    tensors: Sequence[tf.Tensor],
    nb_samples: int,
    batch_size: Optional[int],
    statistic: Statistic,
    first_pair: int = 0,
    extras: Sequence[tf.Tensor] = (),
) -> tf.Tensor:
    """Reduce `nb_samples` per-input samples with `statistic`, `batch_size` pairs per call.

    Parameters
    ----------
    kernel
        `kernel(*tensors, start, stop, offset, *extras) -> state`: evaluates the pairs
        `start <= p < stop` of the group (input `p // nb_samples`, sample `p % nb_samples`, see
        :func:`pairs_in`) and returns the statistic's partial state for inputs
        `start // nb_samples` to `(stop - 1) // nb_samples`. `offset` is the global index of
        pair `start` (for counter-based random numbers that must not depend on how the data
        was grouped). A kernel with an `at_length(length)` method (a
        :class:`~xplique.commons.compiled.PerChunkLength`) is asked for the kernel of each
        chunk's length `stop - start` instead.
    tensors
        The group's per-input tensors (inputs, targets, ...), all with N rows.
    nb_samples
        Samples per input.
    batch_size
        Pairs (model evaluations) per kernel call (None: all pairs, at most
        :data:`MAX_BATCH_SIZE` per call).
    statistic
        How partial states combine and finalize.
    first_pair
        Global index of the group's first pair.
    extras
        Further tensors passed to every kernel call after `offset` (e.g. a seed).

    Returns
    -------
    The finalized statistic, one row per input.

    Notes
    -----
    The loop does no per-chunk work besides the kernel call: chunk states wait in a list of at
    most :data:`PENDING_CHUNKS` (or :data:`PENDING_ELEMENTS` values) and are then combined at
    once (one vectorised
    :meth:`~xplique.commons.statistics.Statistic.combine`). Inputs whose samples are complete
    are set aside; an input still missing samples is carried into the next combine.
    """
    total = int(tensors[0].shape[0]) * nb_samples
    finished: List[Tuple[tf.Tensor, ...]] = []
    pending: List[Tuple[tf.Tensor, ...]] = []
    firsts: List[int] = []  # first input of each pending state
    held = 0  # values in the pending states
    split = False  # whether an input's samples are spread over several pending states
    at_length = getattr(kernel, "at_length", None)
    for start, stop in chunk_ranges(total, batch_size):
        call = kernel if at_length is None else at_length(stop - start)
        state = call(
            *tensors,
            tf.constant(start, tf.int64),
            tf.constant(stop, tf.int64),
            tf.constant(first_pair + start, tf.int64),
            *extras,
        )
        if statistic.per_pair:  # rows are pairs, already in order: nothing to combine
            finished.append(state)
            continue
        split = split or bool(pending and start % nb_samples)
        pending.append(state)
        firsts.append(start // nb_samples)
        held += sum(part.shape.num_elements() or 0 for part in state)
        if len(pending) < PENDING_CHUNKS and held < PENDING_ELEMENTS and stop < total:
            continue
        state = _combined(statistic, pending, firsts, split)
        pending, firsts, held, split = [], [], 0, False
        if stop % nb_samples:  # the last input still has samples to come: carry it
            pending, firsts = [tuple(part[-1:] for part in state)], [(stop - 1) // nb_samples]
            state = tuple(part[:-1] for part in state)
        finished.append(state)
    merged = tuple(tf.concat(parts, axis=0) for parts in zip(*finished))
    return statistic.finalize(merged, nb_samples)


def _combined(statistic: Statistic, states, firsts, split: bool):
    """One state row per input from consecutive chunk states starting at inputs `firsts`."""
    parts = tuple(tf.concat(column, axis=0) if len(column) > 1 else column[0]
                  for column in zip(*states))
    if not split:
        return parts
    rows = [int(state[0].shape[0]) for state in states]
    segment_ids = np.concatenate([np.arange(first, first + count) for first, count in
                                  zip(firsts, rows)]) - firsts[0]
    return statistic.combine(parts, tf.constant(segment_ids, tf.int32), int(segment_ids[-1]) + 1)
