"""The one search engine of the example-based methods: a batched k-nearest-neighbour search.

The projected cases are visited in chunks of at most `batch_size` cases. A compiled kernel
(:class:`~xplique.commons.compiled.Compiled`, traced once) computes the `(n_inputs, chunk)`
distances of a chunk, masks the cases a method excludes, and merges them into the running
best `k` with one `tf.math.top_k` over `[current best, chunk]`. Memory is therefore
O(n_inputs x batch_size) whatever the number of cases. `top_k` keeps the lower position
first among equal values, and positions follow case indices, so ties go to the lower case
index. Slots no case could fill keep the distance `inf` and the index `-1`.

Every method is a configuration of :class:`KNNSearch`: a distance, an optional class rule
(cases of another class than the query, of the same class, or of a chosen class), an optional
second query that ranks the cases (KLEOR ranks by the distance to the nearest unlike
neighbour) and an optional bound on the reported distance.
"""

from numbers import Integral
from typing import Callable, Iterable, Optional, Tuple

import numpy as np
import tensorflow as tf

from xplique.commons.compiled import Compiled

DISTANCE_NAMES = ("euclidean", "manhattan", "cosine", "chebyshev", "inf")
CLASS_RULES = (None, "differ", "equal")


def _euclidean(queries, cases):
    squared = (tf.reduce_sum(tf.square(queries), -1)[:, None]
               - 2.0 * tf.matmul(queries, cases, transpose_b=True)
               + tf.reduce_sum(tf.square(cases), -1)[None, :])
    return tf.sqrt(tf.maximum(squared, 0.0))


def _differences(queries, cases):
    return queries[:, None, :] - cases[None, :, :]


def _manhattan(queries, cases):
    return tf.reduce_sum(tf.abs(_differences(queries, cases)), -1)


def _chebyshev(queries, cases):
    return tf.reduce_max(tf.abs(_differences(queries, cases)), -1)


def _cosine(queries, cases):
    norms = tf.norm(queries, axis=-1)[:, None] * tf.norm(cases, axis=-1)[None, :]
    similarity = tf.matmul(queries, cases, transpose_b=True) / tf.maximum(norms, 1e-12)
    return 1.0 - similarity


def _minkowski(p: int) -> Callable:
    def distance(queries, cases):
        powered = tf.reduce_sum(tf.pow(tf.abs(_differences(queries, cases)), float(p)), -1)
        return tf.pow(powered, 1.0 / p)

    return distance


def _pairwise(function: Callable) -> Callable:
    """A user distance `f(x1 (1, d), x2 (m, d)) -> (m,)` over every (query, case) pair."""

    def distance(queries, cases):
        return tf.vectorized_map(lambda query: tf.reshape(function(query[None], cases), [-1]),
                                 queries)

    return distance


def get_distance(distance) -> Callable:
    """`distance` (a name, an int p for Minkowski, or a callable) as a function
    `(queries (n, d), cases (m, d)) -> (n, m)`."""
    if isinstance(distance, str):
        if distance not in DISTANCE_NAMES:
            raise ValueError(
                f"`distance` must be an int p >= 1, a callable, or one of "
                f"{', '.join(repr(n) for n in DISTANCE_NAMES)}. Received: distance={distance!r}")
        return {"euclidean": _euclidean, "manhattan": _manhattan, "cosine": _cosine,
                "chebyshev": _chebyshev, "inf": _chebyshev}[distance]
    if isinstance(distance, bool):
        raise TypeError(f"`distance` must be a name, an int or a callable. Received: "
                        f"distance={distance!r}")
    if isinstance(distance, (Integral, np.integer)):
        if distance < 1:
            raise ValueError(f"`distance` as an int is the Minkowski p and must be >= 1. "
                             f"Received: distance={distance!r}")
        return {1: _manhattan, 2: _euclidean}.get(int(distance)) or _minkowski(int(distance))
    if isinstance(distance, float) and np.isinf(distance):
        return _chebyshev
    if callable(distance):
        return _pairwise(distance)
    raise TypeError(
        f"`distance` must be an int p >= 1, a callable, or one of "
        f"{', '.join(repr(n) for n in DISTANCE_NAMES)}. Received: distance={distance!r}")


def flatten(tensor: tf.Tensor) -> tf.Tensor:
    """`(n, ...)` as `(n, d)` float32."""
    tensor = tf.cast(tensor, tf.float32)
    return tf.reshape(tensor, (tf.shape(tensor)[0], -1))


class KNNSearch:
    """Running top-k search over streamed chunks of projected cases.

    Parameters
    ----------
    distance
        A name, an int p, or a callable (see :func:`get_distance`), or a prepared function
        `(queries, cases) -> (n, m)` when `prepared=True`.
    k
        Number of cases kept per query.
    class_rule
        None (every case), "differ" (cases whose class differs from the query's class) or
        "equal" (cases of the query's class).
    ranked_by_second_query
        Rank the cases by their distance to a second query (`rank_queries` of
        :meth:`search`) while reporting their distance to the first one.
    prepared
        Whether `distance` is already a `(queries, cases) -> (n, m)` function.
    """

    def __init__(self, distance, k: int, class_rule: Optional[str] = None,
                 ranked_by_second_query: bool = False, prepared: bool = False):
        self.distance_fn = distance if prepared else get_distance(distance)
        self.k = k
        self.class_rule = class_rule
        self.ranked_by_second_query = ranked_by_second_query
        self._step = Compiled(self._merge)

    @property
    def tracing_count(self) -> int:
        """Traces of the chunk kernel (one per per-case shape)."""
        return self._step.tracing_count

    def _merge(self, queries, rank_queries, query_classes, bounds, best_rank, best_distance,
               best_index, cases, case_classes, offset):
        distances = self.distance_fn(queries, cases)
        rank = self.distance_fn(rank_queries, cases) if self.ranked_by_second_query \
            else distances
        allowed = tf.less(distances, bounds[:, None])
        if self.class_rule == "differ":
            allowed &= tf.not_equal(query_classes[:, None], case_classes[None, :])
        elif self.class_rule == "equal":
            allowed &= tf.equal(query_classes[:, None], case_classes[None, :])
        infinity = tf.constant(np.inf, tf.float32)
        rank = tf.where(allowed, rank, infinity)
        distances = tf.where(allowed, distances, infinity)
        indices = offset + tf.range(tf.shape(cases)[0], dtype=tf.int64)
        indices = tf.broadcast_to(indices[None, :], tf.shape(rank, out_type=tf.int64))
        all_rank = tf.concat([best_rank, rank], axis=1)
        all_distance = tf.concat([best_distance, distances], axis=1)
        all_index = tf.concat([best_index, indices], axis=1)
        _, order = tf.math.top_k(-all_rank, k=tf.shape(best_rank)[1], sorted=True)
        return (tf.gather(all_rank, order, batch_dims=1),
                tf.gather(all_distance, order, batch_dims=1),
                tf.gather(all_index, order, batch_dims=1))

    def search(self, queries: tf.Tensor, chunks: Iterable[Tuple[tf.Tensor, tf.Tensor]],
               query_classes: Optional[tf.Tensor] = None, rank_queries: Optional[tf.Tensor] = None,
               bounds: Optional[tf.Tensor] = None):
        """Search the `k` best cases for each query.

        Parameters
        ----------
        queries
            Projected inputs `(n, d)`.
        chunks
            Iterable of `(projected cases (m, d), case classes (m,) int64 or None)`.
        query_classes
            `(n,)` int64 classes of the queries for the class rule.
        rank_queries
            `(n, d)` second queries ranking the cases (with `ranked_by_second_query`).
        bounds
            `(n,)` strict upper bounds on the reported distances (inf when None).

        Returns
        -------
        `(distances (n, k), indices (n, k) int64, rank (n, k))`: reported distance, global case
        index (-1 where no case qualified) and ranking distance, best first.
        """
        queries = flatten(queries)
        count = int(queries.shape[0])
        rank_queries = queries if rank_queries is None else flatten(rank_queries)
        query_classes = tf.zeros([count], tf.int64) if query_classes is None else tf.cast(
            query_classes, tf.int64)
        bounds = tf.fill([count], np.inf) if bounds is None else tf.cast(bounds, tf.float32)
        best_rank = tf.fill([count, self.k], tf.constant(np.inf, tf.float32))
        best_distance = best_rank
        best_index = tf.fill([count, self.k], tf.constant(-1, tf.int64))
        offset = 0
        for cases, classes in chunks:
            cases = flatten(cases)
            size = int(cases.shape[0])
            classes = tf.zeros([size], tf.int64) if classes is None else tf.cast(classes, tf.int64)
            best_rank, best_distance, best_index = self._step(
                queries, rank_queries, query_classes, bounds, best_rank, best_distance,
                best_index, cases, classes, tf.constant(offset, tf.int64))
            offset += size
        found = tf.math.is_finite(best_rank)
        best_index = tf.where(found, best_index, tf.constant(-1, tf.int64))
        return best_distance, best_index, best_rank
