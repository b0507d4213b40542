"""Prototypes: a few cases summarising the dataset, chosen greedily under an MMD objective.

Every variant needs the same kernel quantities, computed on the device in chunks of
`batch_size` cases (never an n x n matrix): the mean kernel of each case with the dataset,
`mu_j = (1/n) sum_i k(x_j, x_i)` (a double loop over chunks), the kernel diagonal, and one
kernel column `k(., p)` per chosen prototype. The variants differ only in how they score the
candidates at each greedy step (:meth:`Prototypes._scores`).
"""

import abc
from typing import Callable, Dict, List

import numpy as np
import tensorflow as tf
from scipy.optimize import nnls

from xplique.commons.compiled import Compiled
from xplique.commons.validation import ensure_callable, ensure_float, ensure_positive_int
from xplique.example_based.base import BaseExampleMethod
from xplique.example_based.search import KNNSearch, get_distance


def rbf_kernel(gamma: float) -> Callable:
    """`k(x, y) = exp(-gamma ||x - y||^2)` as `(x1 (n, d), x2 (m, d)) -> (n, m)`."""

    def kernel(x1, x2):
        squared = (tf.reduce_sum(tf.square(x1), -1)[:, None]
                   - 2.0 * tf.matmul(x1, x2, transpose_b=True)
                   + tf.reduce_sum(tf.square(x2), -1)[None, :])
        return tf.exp(-gamma * tf.maximum(squared, 0.0))

    return kernel


def kernel_distance(kernel: Callable) -> Callable:
    """The distance a kernel induces, `sqrt(k(x, x) + k(y, y) - 2 k(x, y))`."""

    def distance(queries, cases):
        own = tf.linalg.diag_part(kernel(queries, queries))
        other = tf.linalg.diag_part(kernel(cases, cases))
        squared = own[:, None] + other[None, :] - 2.0 * kernel(queries, cases)
        return tf.sqrt(tf.maximum(squared, 0.0))

    return distance


def nonnegative_qp(kernel_matrix: np.ndarray, mean_kernel: np.ndarray) -> np.ndarray:
    """`argmax_{w >= 0} w . mu - w^T K w / 2` (exact, by NNLS on a square root of K)."""
    matrix = np.asarray(kernel_matrix, np.float64)
    mu = np.asarray(mean_kernel, np.float64)
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    values = np.maximum(values, 1e-12 * max(values.max(), 1e-12))
    root = np.sqrt(values)[:, None] * vectors.T  # root^T root = K
    weights, _ = nnls(root, (vectors.T @ mu) / np.sqrt(values))
    return weights


class Prototypes(BaseExampleMethod):
    """Base of prototype methods: `nb_global_prototypes` cases summarising the (projected)
    cases, and for each input its `nb_local_prototypes` nearest global prototypes.

    The shared parameters are described in :class:`BaseExampleMethod`.

    Parameters
    ----------
    nb_global_prototypes
        Number of prototypes chosen for the whole dataset (:meth:`get_global_prototypes`).
    nb_local_prototypes
        Number of prototypes returned per input by `explain` (the `k` of other methods).
    distance
        Distance of the local search (as in :class:`SimilarExamples`); None is the distance
        the kernel induces, `sqrt(k(x, x) + k(y, y) - 2 k(x, y))`.
    kernel_fn
        `k(x1 (n, d), x2 (m, d)) -> (n, m)` in TensorFlow operations; None is the RBF
        kernel `exp(-gamma ||x - y||^2)`.
    gamma
        RBF width; None is `1 / d` (d the projected dimension).
    """

    def __init__(self, cases_dataset, labels_dataset=None, targets_dataset=None,
                 nb_global_prototypes=1, nb_local_prototypes=1, projection=None,
                 case_returns="examples", batch_size=None, distance=None, kernel_fn=None,
                 gamma=None):
        self.nb_global_prototypes = ensure_positive_int(nb_global_prototypes,
                                                        "nb_global_prototypes")
        self.nb_local_prototypes = ensure_positive_int(nb_local_prototypes, "nb_local_prototypes")
        if self.nb_local_prototypes > self.nb_global_prototypes:
            raise ValueError(
                "`nb_local_prototypes` must be <= `nb_global_prototypes`. Received: "
                f"nb_local_prototypes={nb_local_prototypes}, "
                f"nb_global_prototypes={nb_global_prototypes}")
        self.gamma = None if gamma is None else ensure_float(gamma, "gamma", minimum=0.0)
        self._given_kernel = None if kernel_fn is None else ensure_callable(kernel_fn,
                                                                            "kernel_fn")
        self.distance = distance
        if distance is not None:
            get_distance(distance)  # validates it now
        self._setup(cases_dataset, labels_dataset, targets_dataset, nb_local_prototypes,
                    projection, case_returns, batch_size)
        self._check_k(self.nb_global_prototypes, "nb_global_prototypes")
        dimension = int(next(iter(self.projected_cases()))[0].shape[1])
        if self._given_kernel is None:
            self.gamma = 1.0 / dimension if self.gamma is None else self.gamma
            self.kernel_fn = rbf_kernel(self.gamma)
        else:
            self.kernel_fn = self._given_kernel
        self._row_sums = Compiled(lambda a, b: tf.reduce_sum(self.kernel_fn(a, b), axis=1))
        self._diagonal = Compiled(lambda a: tf.linalg.diag_part(self.kernel_fn(a, a)))
        self._column = Compiled(lambda a, p: self.kernel_fn(a, p)[:, 0])
        self._select()
        local = kernel_distance(self.kernel_fn) if distance is None else get_distance(distance)
        self.search_engine = KNNSearch(local, self.nb_local_prototypes, prepared=True)

    # ------------------------------------------------------------------ kernel sums
    def _kernel_statistics(self):
        """Mean kernel `mu (n,)` and diagonal `(n,)`, in chunks on the device."""
        means, diagonal = [], []
        count = self.cases.count()
        for chunk, _ in self.projected_cases():
            total = tf.zeros([int(chunk.shape[0])], tf.float32)
            for other, _ in self.projected_cases():
                total += self._row_sums(chunk, other)
            means.append(total / count)
            diagonal.append(self._diagonal(chunk))
        return tf.concat(means, 0), tf.concat(diagonal, 0)

    def _kernel_column(self, row: tf.Tensor) -> tf.Tensor:
        return tf.concat([self._column(chunk, row) for chunk, _ in self.projected_cases()], 0)

    def _projected_row(self, index: int) -> tf.Tensor:
        start = 0
        for chunk, _ in self.projected_cases():
            stop = start + int(chunk.shape[0])
            if index < stop:
                return chunk[index - start:index - start + 1]
            start = stop
        raise IndexError(index)

    # ------------------------------------------------------------------ greedy selection
    def _select(self):
        """Greedy selection: at each step the candidate of largest score joins."""
        mu, diagonal = self._kernel_statistics()
        columns: List[tf.Tensor] = []
        selected: List[int] = []
        weights = np.zeros([0])
        self.objectives: List[float] = []
        self.step_scores: List[np.ndarray] = []
        for _ in range(self.nb_global_prototypes):
            kernel_columns = tf.stack(columns, 1) if columns else tf.zeros([int(mu.shape[0]), 0])
            scores = self._scores(mu, diagonal, kernel_columns, selected, weights)
            taken = tf.scatter_nd(tf.constant(selected, tf.int64)[:, None],
                                  tf.ones([len(selected)], tf.bool), tf.shape(scores,
                                                                              tf.int64)) \
                if selected else tf.zeros_like(scores, tf.bool)
            scores = tf.where(taken, tf.constant(-np.inf, scores.dtype), scores)
            self.step_scores.append(scores.numpy())
            chosen = int(tf.argmax(scores))
            selected.append(chosen)
            columns.append(self._kernel_column(self._projected_row(chosen)))
            kernel_matrix = tf.gather(tf.stack(columns, 1), selected).numpy()
            weights = self._weights(kernel_matrix, tf.gather(mu, selected).numpy())
            self.objectives.append(self._objective(kernel_matrix, tf.gather(mu, selected).numpy(),
                                                   weights))
        self.prototypes_indices = tf.constant(selected, tf.int64)
        self.prototypes_weights = tf.constant(weights, tf.float32)
        self._prototype_rows = tf.concat([self._projected_row(i) for i in selected], 0)

    @abc.abstractmethod
    def _scores(self, mu, diagonal, kernel_columns, selected, weights) -> tf.Tensor:
        """Score `(n,)` of each candidate joining the prototypes (the best joins)."""

    def _weights(self, kernel_matrix: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return nonnegative_qp(kernel_matrix, mu)

    @staticmethod
    def _objective(kernel_matrix, mu, weights) -> float:
        return float(weights @ mu - 0.5 * weights @ kernel_matrix @ weights)

    # ------------------------------------------------------------------ outputs
    def get_global_prototypes(self) -> Dict[str, tf.Tensor]:
        """The global prototypes: dict of "prototypes" `(m, ...)`, "prototypes_indices"
        `(m,)` (case indices, in the order chosen), "prototypes_weights" `(m,)` and, with
        labels, "prototypes_labels" `(m,)`."""
        indices = self.prototypes_indices.numpy()
        result = {
            "prototypes": tf.cast(self.cases.gather(indices), tf.float32),
            "prototypes_indices": self.prototypes_indices,
            "prototypes_weights": self.prototypes_weights,
        }
        if self.cases.has_labels:
            result["prototypes_labels"] = self.cases.gather(indices, column=1)
        return result

    def _search(self, inputs, targets, projected, **extras):
        distances, positions, _ = self.search_engine.search(
            projected, [(self._prototype_rows, None)])
        indices = tf.gather(self.prototypes_indices, tf.maximum(positions, 0))
        return {"distances": distances, "indices": tf.where(positions >= 0, indices, -1)}
