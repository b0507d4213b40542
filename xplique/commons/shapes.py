"""Modalities and explanation shapes, decided in one place.

A batch of rank 4 is images `(N, H, W, C)`, rank 3 time series `(N, T, W)` and rank 2 tabular
`(N, W)` (channels last, as in Xplique). Methods never test `len(shape)` themselves: they ask
:func:`modality` and call :func:`reduce_channels`.
"""

import enum

import tensorflow as tf

from xplique.commons.validation import ensure_choice


class Modality(str, enum.Enum):
    """The kind of data a batch holds, read from its rank."""

    TABULAR = "tabular"
    TIME_SERIES = "time_series"
    IMAGES = "images"


_BY_RANK = {2: Modality.TABULAR, 3: Modality.TIME_SERIES, 4: Modality.IMAGES}

#: Channel reducers accepted by the `reducer` parameter of white-box methods.
REDUCERS = ("mean", "min", "max", "sum", None)


def modality(batch_or_shape) -> Modality:
    """Return the :class:`Modality` of a batch (or of a batch shape, batch dimension included)."""
    shape = getattr(batch_or_shape, "shape", batch_or_shape)
    rank = len(shape)
    if rank not in _BY_RANK:
        raise ValueError(
            "`inputs` must be a batch of tabular data (N, W), time series (N, T, W) or images "
            f"(N, H, W, C). Received a batch of rank {rank} with shape {tuple(shape)}"
        )
    return _BY_RANK[rank]


def ensure_reducer(reducer):
    """Validate a `reducer` value."""
    return ensure_choice(reducer, "reducer", REDUCERS)


def reduce_channels(explanations: tf.Tensor, reducer) -> tf.Tensor:
    """Reduce the channel axis of image explanations to one channel, `(N, H, W, 1)`.

    Time series and tabular explanations are returned unchanged, as is everything when
    `reducer` is None.
    """
    if reducer is None or modality(explanations) is not Modality.IMAGES:
        return explanations
    reduce_fn = {
        "mean": tf.reduce_mean,
        "min": tf.reduce_min,
        "max": tf.reduce_max,
        "sum": tf.reduce_sum,
    }[reducer]
    return reduce_fn(explanations, axis=-1, keepdims=True)
