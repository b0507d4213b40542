"""Converters for user-supplied values, each raising an error that names the parameter.

Every public constructor and `explain` funnels its arguments through these helpers, so that bad
input fails early with a message saying what was expected and what was received.
"""

from numbers import Integral, Real
from typing import Iterable, Optional

import numpy as np
import tensorflow as tf


def ensure_positive_int(value, name: str, minimum: int = 1) -> int:
    """Return `value` as an int if it is an integer >= `minimum`, else raise."""
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)):
        raise TypeError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return int(value)


def ensure_optional_positive_int(value, name: str, minimum: int = 1) -> Optional[int]:
    """Like :func:`ensure_positive_int`, but `None` passes through."""
    return None if value is None else ensure_positive_int(value, name, minimum)


def ensure_float(value, name: str, minimum: Optional[float] = None) -> float:
    """Return `value` as a float (optionally >= `minimum`), else raise."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)):
        raise TypeError(f"`{name}` must be a number. Received: {name}={value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}. Received: {name}={value!r}")
    return float(value)


def ensure_choice(value, name: str, choices: Iterable):
    """Return `value` if it is one of `choices`, else raise a ValueError listing them."""
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {listed}. Received: {name}={value!r}")
    return value


def ensure_seed(seed, name: str = "seed") -> int:
    """Turn `seed` (None or an int) into a concrete non-negative 31-bit seed.

    `None` draws a seed from TensorFlow's global generator, as Xplique's methods draw their
    randomness: unseeded calls differ, and `tf.random.set_seed(s)` before a run makes it
    reproducible. An int is used as given.
    """
    if seed is None:
        with tf.init_scope():  # eager, even when called while a kernel is traced
            drawn = tf.random.uniform([], 0, 2**31 - 1, dtype=tf.int64)
        return int(drawn.numpy())
    if isinstance(seed, bool) or not isinstance(seed, (Integral, np.integer)):
        raise TypeError(f"`{name}` must be None or an int. Received: {name}={seed!r}")
    return int(seed) % (2**31)


def ensure_callable(value, name: str):
    """Return `value` if callable, else raise a TypeError."""
    if not callable(value):
        raise TypeError(f"`{name}` must be callable. Received: {name}={value!r}")
    return value


def ensure_batch_size(value, name: str = "batch_size") -> Optional[int]:
    """`batch_size` as every method and metric takes it: a positive int (model evaluations per
    forward pass), or None for one pass over everything, which the batching loop bounds by
    :data:`xplique.commons.batching.MAX_BATCH_SIZE` evaluations per pass."""
    return ensure_optional_positive_int(value, name)
