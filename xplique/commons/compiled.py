"""Compiled kernels that trace once.

:class:`Compiled` wraps a Python function of tensors into `tf.function`s whose input signature
relaxes the leading (batch) dimension of every argument. A different number of inputs or a
ragged last batch therefore reuses the same graph: one trace per distinct per-sample shape.
Kernels close over the model (they are built per explainer), never take it as an argument.
"""

from typing import Callable, Dict, Tuple

import tensorflow as tf


def _relaxed_spec(value: tf.Tensor) -> tf.TensorSpec:
    shape = tuple(value.shape)
    relaxed = shape if not shape else (None,) + shape[1:]
    return tf.TensorSpec(relaxed, value.dtype)


class Compiled:
    """A `tf.function` per per-sample signature, each traced exactly once.

    Parameters
    ----------
    fn
        Python function of tensors only. Rank-0 arguments keep their scalar shape; every other
        argument has its first dimension relaxed to `None`.
    """

    def __init__(self, fn: Callable):
        self._fn = fn
        self._functions: Dict[Tuple, tf.types.experimental.GenericFunction] = {}

    def __call__(self, *args: tf.Tensor):
        specs = tuple(_relaxed_spec(arg) for arg in args)
        key = tuple((spec.shape.as_list(), spec.dtype) for spec in specs)
        key = tuple((tuple(shape), dtype) for shape, dtype in key)
        function = self._functions.get(key)
        if function is None:
            function = tf.function(self._fn, input_signature=specs)
            self._functions[key] = function
        return function(*args)

    @property
    def tracing_count(self) -> int:
        """Total number of traces over all signatures seen so far."""
        return sum(f.experimental_get_tracing_count() for f in self._functions.values())
