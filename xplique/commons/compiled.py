"""Compiled kernels that trace once.

:class:`Compiled` wraps a Python function of tensors into `tf.function`s whose input signature
relaxes the leading (batch) dimension of every argument. A different number of inputs or a
ragged last batch therefore reuses the same graph: one trace per distinct per-sample shape.
Kernels close over the model (they are built per explainer), never take it as an argument.

Some models read the static batch size (`tf.reshape(x, [x.shape[0], -1])`) and cannot be traced
with an unknown one. When the relaxed trace fails, :class:`Compiled` traces with the arguments'
exact shapes instead, once per distinct shape: the loops call a kernel with at most two shapes
per group (the full chunk and the last one), so a call that repeats a shape never retraces.
Kernels that draw their samples inside a pass (:func:`~xplique.commons.batching.pairs_in`)
build the model's inputs from the chunk's `start` and `stop`, so even exact argument shapes
leave that batch size unknown: :class:`PerChunkLength` then traces one kernel per chunk length,
built with that length static.

A kernel built with a `split` (:mod:`xplique.commons.distribution`) runs across the replicas of
the active `tf.distribute` strategy when there is one: one more traced function per strategy,
made the same way (relaxed, else exact shapes).
"""

import functools
import os
from typing import Callable, Dict, Optional, Sequence, Tuple

import tensorflow as tf

from xplique.commons.distribution import active_strategy


def _relaxed_spec(value: tf.Tensor, every_axis: bool = False) -> tf.TensorSpec:
    shape = tuple(value.shape)
    if every_axis:
        return tf.TensorSpec((None,) * len(shape), value.dtype)
    relaxed = shape if not shape else (None,) + shape[1:]
    return tf.TensorSpec(relaxed, value.dtype)


def _positional(fn: Callable) -> Callable:
    """`fn` seen by `tf.function` as a function of its positional arguments only: a defaulted
    parameter in the traced signature makes every call of the concrete function fail a first
    argument binding (and format the inputs into its error message), about 0.3 ms per call."""

    def positional(*args):
        return fn(*args)

    return positional


class Compiled:
    """A `tf.function` per per-sample signature, each traced exactly once.

    Parameters
    ----------
    fn
        Python function of tensors only. Rank-0 arguments keep their scalar shape; every other
        argument has its first dimension relaxed to `None`.
    fully_relaxed
        Positions of the arguments whose every dimension is relaxed: tensors whose other sizes
        change from call to call without changing the computation (e.g. a number of
        interpretable features that depends on the inputs), so they never cause a trace.
    split
        How a chunk splits across the replicas of a `tf.distribute` strategy
        (:class:`~xplique.commons.distribution.Rows` or
        :class:`~xplique.commons.distribution.Pairs`); None for a kernel that never
        distributes (it then always runs on the default device).
    """

    def __init__(self, fn: Callable, fully_relaxed: Sequence[int] = (), split=None):
        self._fn = fn
        self._fully_relaxed = frozenset(fully_relaxed)
        self.split = split
        self._functions: Dict[Tuple, tf.types.experimental.GenericFunction] = {}
        self._concrete: Dict[Tuple, tf.types.experimental.ConcreteFunction] = {}
        self._exact_only: Dict[Tuple, Exception] = {}  # relaxed keys whose trace failed
        self._distributed: Dict[int, Tuple[tf.distribute.Strategy, "Compiled"]] = {}

    def __call__(self, *args: tf.Tensor):
        if self.split is not None:
            strategy = active_strategy()
            if strategy is not None:
                return self._on(strategy)(*args)
        key = tuple(self._key(i, arg) for i, arg in enumerate(args))
        concrete = self._concrete.get(key)
        if concrete is None:
            concrete = self._exact(key, args) if key in self._exact_only else None
        if concrete is None:
            specs = tuple(_relaxed_spec(arg, i in self._fully_relaxed)
                          for i, arg in enumerate(args))
            try:
                concrete = self._trace(key, specs)
            except (TypeError, ValueError, NotImplementedError) as error:
                # e.g. a model that reshapes with the static batch size: exact shapes instead.
                self._exact_only[key] = error
                concrete = self._exact(key, args)
        # The concrete function skips tf.function's per-call dispatch (argument binding and
        # signature matching), about half of a call's fixed cost: the loops call kernels once
        # per `batch_size` evaluations.
        return concrete(*args)

    def _on(self, strategy: tf.distribute.Strategy) -> "Compiled":
        """This kernel replicated on `strategy` (built and traced once per strategy)."""
        held = self._distributed.get(id(strategy))
        if held is None:  # the strategy is held too, so that its id is never reused
            held = (strategy, Compiled(self.split.replicated(self._fn, strategy),
                                       self._fully_relaxed))
            self._distributed[id(strategy)] = held
        return held[1]

    def _trace(self, key: Tuple, specs) -> tf.types.experimental.ConcreteFunction:
        function = tf.function(_positional(self._fn), input_signature=specs)
        concrete = function.get_concrete_function()
        self._functions[key] = function
        self._concrete[key] = concrete
        return concrete

    def _exact(self, key: Tuple, args) -> tf.types.experimental.ConcreteFunction:
        """The trace for the arguments' exact shapes (after a failed relaxed trace)."""
        exact = key + tuple(tuple(arg.shape) for arg in args)
        concrete = self._concrete.get(exact)
        if concrete is not None:
            return concrete
        specs = tuple(tf.TensorSpec(arg.shape, arg.dtype) for arg in args)
        try:
            return self._trace(exact, specs)
        except (TypeError, ValueError, NotImplementedError):
            raise self._exact_only[key]  # the relaxed trace's error says more  # noqa: B904

    def _key(self, position: int, arg: tf.Tensor) -> Tuple:
        """What the traced graph depends on: the dtype and the relaxed shape."""
        shape = arg.shape
        if position in self._fully_relaxed:
            return arg.dtype, shape.rank
        return arg.dtype, shape.rank, tuple(shape[1:])

    @property
    def tracing_count(self) -> int:
        """Total number of traces over all signatures (and strategies) seen so far."""
        return (sum(f.experimental_get_tracing_count() for f in self._functions.values())
                + sum(kernel.tracing_count for _, kernel in self._distributed.values()))


class PerChunkLength(Compiled):
    """A :func:`~xplique.commons.batching.reduce_over_samples` kernel that can be traced with
    the chunk length static, for models that read the static batch size.

    Parameters
    ----------
    make
        `make(length) -> fn`: the kernel function `(*tensors, start, stop, offset, *extras)`;
        `length` is None for the kernel traced with an unknown chunk length, else the chunk's
        `stop - start` as a Python int, so that the model's inputs have a static batch size.

    Notes
    -----
    The loop asks :meth:`at_length` for the kernel of each chunk (a dict lookup once the
    chunk length has been met). The first call at a length runs the relaxed kernel
    (:class:`Compiled`, one trace for every length); only when its trace fails is a kernel
    traced for that length, static, once: the full chunk and the last one per group, and a
    call that repeats them never retraces. Calling the object directly always runs the
    relaxed kernel.
    """

    def __init__(self, make: Callable[[Optional[int]], Callable], split=None):
        super().__init__(make(None), split=split)
        self._make = make
        self._by_length: Dict[int, Callable] = {}
        self._static: Dict[int, Compiled] = {}
        self._relaxed_error: Optional[Exception] = None

    def at_length(self, length: int) -> Callable:
        """The kernel to call for a chunk of `length` pairs."""
        kernel = self._by_length.get(length)
        return kernel if kernel is not None else functools.partial(self._first_call, length)

    def _first_call(self, length: int, *args: tf.Tensor):
        if self._relaxed_error is None:
            try:
                result = self(*args)
            except (TypeError, ValueError, NotImplementedError) as error:
                self._relaxed_error = error  # e.g. the model reads the static batch size
            else:
                self._by_length[length] = self.__call__
                return result
        split = None if self.split is None else self.split.at_length(length)
        static = Compiled(self._make(length), split=split)
        try:
            result = static(*args)
        except (TypeError, ValueError, NotImplementedError):
            raise self._relaxed_error  # noqa: B904  the same error, without the length
        self._static[length] = static
        self._by_length[length] = static
        return result

    @property
    def tracing_count(self) -> int:
        """Traces of the relaxed kernel and of every per-length kernel."""
        return super().tracing_count + sum(k.tracing_count for k in self._static.values())


#: Set the environment variable XPLIQUE_XLA=0 to never use XLA (see :func:`fused`).
_XLA_ENABLED = None


def xla_available() -> bool:
    """Whether XLA compiles and runs on this machine's default device (checked once per process,
    on a tiny function; False where the environment variable `XPLIQUE_XLA` is `0`)."""
    global _XLA_ENABLED  # pylint: disable=global-statement
    if _XLA_ENABLED is None:
        if os.environ.get("XPLIQUE_XLA", "1").strip() == "0":
            _XLA_ENABLED = False
        else:
            with tf.init_scope():  # runs eagerly, even while a kernel is being traced
                try:
                    probe = tf.function(lambda x: x * 2.0 + 1.0, jit_compile=True)
                    _XLA_ENABLED = bool(probe(tf.ones([2])).numpy()[0] == 3.0)
                except (tf.errors.OpError, NotImplementedError, ValueError):
                    _XLA_ENABLED = False
    return _XLA_ENABLED


def fused(fn: Callable) -> Callable:
    """`fn` compiled by XLA where XLA runs, else `fn` itself (same results).

    For the small chains of gathers and elementwise operations that a kernel runs on every
    chunk besides the model (building perturbed inputs): XLA fuses them into one pass over the
    data. XLA costs a compilation per chunk shape (the full and the last chunk) and, once per
    process, the memory of its compiler (about 50 MiB on CPU). Call it from inside a
    :class:`Compiled` kernel; shapes must be static except the batch dimension.
    """
    compiled = tf.function(fn, jit_compile=True)

    @functools.wraps(fn)
    def call(*args):
        return compiled(*args) if xla_available() else fn(*args)

    return call
