"""`tf.distribute` for every kernel: each chunk a loop hands to a kernel is split across replicas.

Every attribution method and metric takes the keyword-only `strategy=None`. While a method
explains (or a metric evaluates), :func:`distributing` makes its strategy the *active* one: the
strategy given, else the one an enclosing call activated (a metric running an explainer), else
the strategy whose `scope()` is open (`tf.distribute.get_strategy()`), so code written under
`with strategy.scope():` distributes unchanged. Outside any scope nothing is active and the
kernels run exactly as before: one `ContextVar` read per kernel call.

A :class:`~xplique.commons.compiled.Compiled` kernel declares how its arguments split
(`split=`):

- :class:`Rows`: every argument of rank >= 1 holds one row per item (inputs, targets,
  explanations), the result one row per item. Replica `r` of `R` takes rows
  `[r n / R, (r + 1) n / R)` of the chunk;
- :class:`Pairs`: a :func:`~xplique.commons.batching.reduce_over_samples` kernel
  `(*per_input, start, stop, offset, *extras) -> state`. Replica `r` evaluates its share of the
  pairs `[start, stop)`, with the matching `offset`, so the counter-based noise streams
  (:mod:`xplique.commons.random`) draw exactly the values one device draws; the replicas' states
  are combined by the kernel's statistic into the state one device returns.

Under an active strategy the kernel's compiled graph calls `strategy.run` on the chunk and
gathers the replicas' results in order (`strategy.gather`, so every worker of a
`MultiWorkerMirroredStrategy` ends with the whole result). A replica whose share is empty (a
chunk shorter than the number of replicas) evaluates one duplicated item whose result is
dropped, so models that read the static batch size still see a non-empty batch. Results equal
the single-device ones up to floating-point summation order.
"""

import contextlib
import contextvars
import functools
from typing import Callable, Optional

import tensorflow as tf

from xplique.commons.statistics import Statistic

_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("xplique_strategy", default=None)


def ensure_strategy(strategy) -> Optional[tf.distribute.Strategy]:
    """`strategy` if it is None or a `tf.distribute.Strategy`, else a TypeError."""
    if strategy is None or isinstance(strategy, tf.distribute.Strategy):
        return strategy
    raise TypeError("`strategy` must be a tf.distribute.Strategy or None. Received: "
                    f"strategy={strategy!r}")


def active_strategy() -> Optional[tf.distribute.Strategy]:
    """The strategy kernels run on now (None: one device, the plain path)."""
    return _ACTIVE.get()


def chosen_strategy(strategy: Optional[tf.distribute.Strategy]
                    ) -> Optional[tf.distribute.Strategy]:
    """What a call with `strategy` runs on: it, else the active one, else the open scope's."""
    if strategy is not None:
        return strategy
    active = _ACTIVE.get()
    if active is not None:
        return active
    if tf.distribute.has_strategy() and tf.distribute.in_cross_replica_context():
        return tf.distribute.get_strategy()
    return None


@contextlib.contextmanager
def distributing(strategy: Optional[tf.distribute.Strategy]):
    """Make :func:`chosen_strategy` of `strategy` the active one inside the block."""
    token = _ACTIVE.set(chosen_strategy(strategy))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


@contextlib.contextmanager
def one_device():
    """Kernels called inside run on one device: for shape probes (a throwaway trace), which
    evaluate nothing and must not build a replicated graph."""
    token = _ACTIVE.set(None)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def runs_distributed(method: Callable) -> Callable:
    """Decorate a method of an object with a `strategy` attribute (or a constructor taking the
    keyword `strategy`): its kernels run on that strategy (see :func:`distributing`)."""
    if getattr(method, "runs_distributed", False):
        return method

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        strategy = kwargs.get("strategy", getattr(self, "strategy", None))
        with distributing(strategy if isinstance(strategy, tf.distribute.Strategy) else None):
            return method(self, *args, **kwargs)

    run.runs_distributed = True
    return run


class Distributed:
    """Mixin of the bases of methods and metrics: the methods named in `distributed_methods`,
    wherever a subclass defines or overrides them, run under :func:`distributing` of the
    object's `strategy`. The constructor is one of them, so the model evaluations a
    constructor makes (top targets, base scores) distribute too; a subclass cannot forget it.
    """

    distributed_methods = ("__init__",)
    strategy: Optional[tf.distribute.Strategy] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.distributed_methods:
            method = vars(cls).get(name)
            if callable(method):
                setattr(cls, name, runs_distributed(method))


def _replica() -> tuple:
    """`(replica index, number of replicas)`; the index is a Python int where the strategy
    traces one graph per replica (Mirrored, MultiWorkerMirrored), else a tensor."""
    context = tf.distribute.get_replica_context()
    index = context.replica_id_in_sync_group
    static = tf.get_static_value(index)
    return (int(static) if static is not None else index), context.num_replicas_in_sync


def _share(total, index, replicas):
    """Bounds `[low, high)` of replica `index`'s share of `total` items (ints when static)."""
    return index * total // replicas, (index + 1) * total // replicas


def _static_int(value):
    static = tf.get_static_value(value)
    return None if static is None else int(static)


def _gathered(strategy, per_replica, valid):
    """The replicas' results concatenated in order, the rows marked invalid dropped."""
    results = tf.nest.map_structure(lambda part: strategy.gather(part, axis=0), per_replica)
    keep = strategy.gather(valid, axis=0) > 0
    return tf.nest.map_structure(lambda part: tf.boolean_mask(part, keep), results)


class Rows:
    """Split every argument of rank >= 1 along its first axis; results are row-aligned."""

    def replicated(self, fn: Callable, strategy: tf.distribute.Strategy) -> Callable:
        """The kernel function that runs `fn` on each replica's rows and gathers them."""

        def on_replica(*args):
            index, replicas = _replica()
            rows = next(arg for arg in args if arg.shape.rank)
            total = rows.shape[0] if rows.shape[0] is not None else tf.shape(rows)[0]
            low, high = _share(total, index, replicas)
            if isinstance(low, int) and isinstance(high, int):  # static: static shapes
                taken = list(range(low, high)) or [max(total - 1, 0)]
                count = high - low
            else:
                count = high - low
                taken = tf.minimum(low + tf.range(tf.maximum(count, 1)), total - 1)
            part = [tf.gather(arg, taken) if arg.shape.rank else arg for arg in args]
            result = fn(*part)
            valid = tf.cast(tf.range(tf.shape(tf.nest.flatten(result)[0])[0]) < count, tf.int32)
            return result, valid

        def kernel(*args):
            result, valid = strategy.run(on_replica, args=args)
            return _gathered(strategy, result, valid)

        return kernel


class Pairs:
    """Split the pairs `[start, stop)` of a :func:`~xplique.commons.batching.reduce_over_samples`
    kernel; the replicas' statistic states are combined into the chunk's state.

    Parameters
    ----------
    nb_samples
        Samples per input, or a function of the per-input shape (of the first argument) giving it.
    statistic
        The kernel's statistic (its `combine` merges states of inputs split between replicas).
    make
        For kernels traced with a static chunk length
        (:class:`~xplique.commons.compiled.PerChunkLength`): `make(length) -> fn`; each replica
        then runs `make(its share's length)`.
    length
        The static chunk length of this kernel (with `make`), else None.
    """

    def __init__(self, nb_samples, statistic: Statistic, make: Optional[Callable] = None,
                 length: Optional[int] = None):
        self.nb_samples = nb_samples
        self.statistic = statistic
        self.make = make
        self.length = length

    def at_length(self, length: int) -> "Pairs":
        """The split of the kernel traced with the static chunk length `length`."""
        return Pairs(self.nb_samples, self.statistic, self.make, length)

    def _samples(self, inputs) -> int:
        if callable(self.nb_samples):
            return int(self.nb_samples(tuple(int(d) for d in inputs.shape[1:])))
        return int(self.nb_samples)

    def replicated(self, fn: Callable, strategy: tf.distribute.Strategy) -> Callable:
        """The kernel function that runs each replica's pairs and combines their states."""
        statistic = self.statistic

        def on_replica(*args):
            index, replicas = _replica()
            where = next(i for i, arg in enumerate(args) if arg.shape.rank == 0)
            tensors, (start, stop, offset), extras = (args[:where], args[where:where + 3],
                                                      args[where + 3:])
            nb_samples = self._samples(tensors[0])
            length = self.length if self.length is not None else _static_int(stop - start)
            total = stop - start if length is None else length
            low, high = _share(total, index, replicas)
            count = high - low
            empty = (count == 0) if isinstance(count, int) else None
            if empty is None:  # dynamic: an empty share evaluates the chunk's last pair
                first = tf.where(count > 0, start + low, stop - 1)
                last = tf.where(count > 0, start + high, stop)
                call = fn
            else:
                first = start + low if not empty else stop - 1
                last = start + high if not empty else stop
                call = fn if self.make is None or length is None else self.make(
                    count if not empty else 1)
            state = call(*tensors, first, last, offset + (first - start), *extras)
            rows = tf.shape(state[0])[0]
            valid = tf.fill([rows], tf.cast(count > 0, tf.int32))
            segments = tf.cast(first // nb_samples - start // nb_samples, tf.int32) + tf.range(rows)
            return state, segments, valid

        def kernel(*args):
            where = next(i for i, arg in enumerate(args) if arg.shape.rank == 0)
            start, stop = args[where], args[where + 1]
            state, segments, valid = strategy.run(on_replica, args=args)
            state, segments = _gathered(strategy, (state, segments), valid)
            if statistic.per_pair:  # one row per pair, already in order
                return state
            nb_samples = self._samples(args[0])
            inputs = tf.cast((stop - 1) // nb_samples - start // nb_samples + 1, tf.int32)
            return statistic.combine(state, segments, inputs)

        return kernel
