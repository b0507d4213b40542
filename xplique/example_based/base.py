"""The abstract base of example-based methods.

A method projects its cases once (chunk by chunk, see :class:`~xplique.example_based.datasets.
CaseStream`), projects the inputs at each `explain`, and searches the projected cases with the
one engine, :class:`~xplique.example_based.search.KNNSearch`. Concrete methods define their own
`__init__` (which calls `_setup`) and `_search`.
"""

import abc
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from xplique.commons import batching
from xplique.commons.data import iter_groups
from xplique.commons.validation import ensure_batch_size, ensure_positive_int
from xplique.example_based.datasets import CaseStream
from xplique.example_based.projections.base import Projection, as_projection
from xplique.example_based.search import flatten

#: Cases per chunk when `batch_size=None` (one pass, bounded as every method's loop is).
MAX_BATCH_SIZE = getattr(batching, "MAX_BATCH_SIZE", 1024)
#: Projected cases are kept in memory (as chunks) up to this many float32 values (256 MiB);
#: beyond it they are projected again, streamed, at each search.
CACHE_LIMIT = 2**26

RETURNS = ("examples", "distances", "labels", "include_inputs", "indices")


def ensure_returns(case_returns, possibilities: Sequence[str]) -> List[str]:
    """`case_returns` (a name, a list of names, or "all") as a list of names."""
    if isinstance(case_returns, str):
        case_returns = list(possibilities) if case_returns == "all" else [case_returns]
    if not isinstance(case_returns, (list, tuple)) or not case_returns:
        raise TypeError(f"`case_returns` must be a name or a list of names among "
                        f"{list(possibilities)} or 'all'. Received: case_returns={case_returns!r}")
    if "all" in case_returns:
        return list(possibilities)
    unknown = [name for name in case_returns if name not in possibilities]
    if unknown:
        raise ValueError(f"`case_returns` must hold names among {list(possibilities)} or 'all'."
                         f" Received: {unknown}")
    return list(case_returns)


def as_classes(values: Optional[tf.Tensor]) -> Optional[tf.Tensor]:
    """Class indices `(n,)` int64 from one-hot / score rows `(n, c)` or indices `(n,)`."""
    if values is None:
        return None
    values = tf.convert_to_tensor(values)
    if values.shape.rank is not None and values.shape.rank >= 2:
        return tf.argmax(tf.reshape(values, (tf.shape(values)[0], -1)), axis=-1)
    return tf.cast(values, tf.int64)


class BaseExampleMethod(abc.ABC):
    """Base of the example-based methods: explain a prediction by cases of a dataset.

    Parameters
    ----------
    cases_dataset
        The cases (usually the training data): a numpy array, a tf or torch tensor, a
        `tf.data.Dataset` (batched or not; tuple elements are read as (cases, labels) or
        (cases, labels, targets)) or a torch `DataLoader`. Datasets are streamed, never
        materialised; they must yield the same order at each pass (no reshuffling).
    labels_dataset
        Labels of the cases (returned with "labels"), same kinds, same order.
    targets_dataset
        Targets of the cases, used by projections that weigh features by the targets and by
        counterfactual methods (usually the one-hot predictions of the model on the cases).
    k
        Number of cases returned per input.
    projection
        None (the input space), a :class:`~xplique.example_based.projections.Projection`, or
        a callable `(inputs, targets=None) -> projected inputs`.
    case_returns
        What `explain` returns: any of "examples", "distances", "labels", "include_inputs",
        or "all".
    batch_size
        Cases (and inputs) per device pass, for the projection and for the search; None is
        one pass, bounded by :data:`MAX_BATCH_SIZE`. Batched datasets keep their batches.
    """

    _returns_possibilities: Tuple[str, ...] = RETURNS

    cases: CaseStream
    projection: Projection

    def _setup(self, cases_dataset, labels_dataset, targets_dataset, k, projection, case_returns,
               batch_size, class_column: Optional[int] = None):
        """Validate and store the shared parameters, then project the cases once."""
        self.batch_size = ensure_batch_size(batch_size) or MAX_BATCH_SIZE
        self.k = ensure_positive_int(k, "k")
        self.projection = as_projection(projection)
        self.returns = ensure_returns(case_returns, self._returns_possibilities)
        self.cases = CaseStream(cases_dataset, labels_dataset, targets_dataset, self.batch_size)
        if case_returns == "all" and not self.cases.has_labels:  # all that is available
            self.returns = [name for name in self.returns if not name.endswith("labels")]
        if "labels" in self.returns and not self.cases.has_labels:
            raise ValueError("`case_returns` asks for 'labels' but no `labels_dataset` was "
                             "given (nor a labels column in `cases_dataset`)")
        self._class_column = class_column
        # The cases are projected at the first search, not here: building a method costs no
        # model evaluation, and the projections are then kept for every later call.
        self._projected: Optional[Tuple[Optional[List], set]] = None
        self._check_k(self.k, "k")

    def _check_k(self, k: int, name: str) -> None:
        count = self.cases.count()
        if k > count:
            raise ValueError(f"`{name}` must be <= the number of cases ({count}). Received: "
                             f"{name}={k}")

    # ------------------------------------------------------------------ cases
    @property
    def case_classes(self) -> set:
        """The classes found among the cases (from their targets column)."""
        if self._projected is None:
            for _ in self.projected_cases():  # one pass, which also keeps the projections
                pass
        return self._projected[1]

    def _projected_chunk(self, chunk):
        cases, labels, targets = chunk
        projected = flatten(self.projection(cases, targets))
        classes = None
        if self._class_column is not None:
            classes = as_classes(chunk[self._class_column])
        return projected, classes

    def projected_cases(self) -> Iterator[Tuple[tf.Tensor, Optional[tf.Tensor]]]:
        """Projected `(cases (m, d), classes (m,) or None)` chunks.

        The first complete pass projects the cases and keeps the chunks in memory while they
        hold at most :data:`CACHE_LIMIT` values (and the classes seen); later passes read
        them from memory, or project the cases again chunk by chunk when they were too large
        to keep.
        """
        if self._projected is not None:
            cache = self._projected[0]
            if cache is not None:
                yield from cache
                return
            for chunk in self.cases.chunks():
                yield self._projected_chunk(chunk)
            return
        cache, held, classes_seen = [], 0, set()
        for chunk in self.cases.chunks():
            projected, classes = self._projected_chunk(chunk)
            if classes is not None:
                classes_seen.update(np.unique(classes.numpy()).tolist())
            held += int(np.prod(projected.shape))
            if cache is not None:
                cache.append((projected, classes))
                if held > CACHE_LIMIT:
                    cache = None
            yield projected, classes
        self._projected = (cache, classes_seen)

    # ------------------------------------------------------------------ explain
    def explain(self, inputs, targets=None) -> Dict[str, tf.Tensor]:
        """Return the cases explaining `inputs`, as a dict of the names in `case_returns`.

        Parameters
        ----------
        inputs
            Numpy array, tensor or `tf.data.Dataset` (batched or not) of inputs or of
            `(inputs, targets)` pairs.
        targets
            Targets of the inputs (one-hot or class indices), used by the projection and by
            the counterfactual and semi-factual methods (the inputs' predicted classes).

        Returns
        -------
        dict
            "examples" `(n, k, ...)` (`(n, k + 1, ...)` with "include_inputs", the input first),
            "distances" `(n, k)`, "labels" `(n, k)`, and "indices" `(n, k)` (case indices;
            -1 and distance inf where fewer than `k` cases qualify, with NaN examples).
        """
        return self._explain(inputs, targets, {})

    def __call__(self, inputs, targets=None):
        """Alias of :meth:`explain`."""
        return self.explain(inputs, targets)

    def _explain(self, inputs, targets, extras: Dict) -> Dict[str, tf.Tensor]:
        parts, start = [], 0
        for x, y in iter_groups(inputs, targets, self.batch_size):
            stop = start + int(x.shape[0])
            sliced = {name: value[start:stop] for name, value in extras.items()}
            for name, value in sliced.items():
                if int(value.shape[0]) != stop - start:
                    raise ValueError(f"`{name}` must have one row per input. Received "
                                     f"{int(extras[name].shape[0])} rows")
            projected = self._project_inputs(x, y)
            parts.append((x, self._search(x, y, projected, **sliced)))
            start = stop
        for name, value in extras.items():
            if int(value.shape[0]) != start:
                raise ValueError(f"`{name}` must have one row per input ({start}). Received "
                                 f"{int(value.shape[0])} rows")
        results = [self._format(x, found) for x, found in parts]
        if len(results) == 1:
            return results[0]
        return {name: tf.concat([r[name] for r in results], 0) for name in results[0]}

    def _project_inputs(self, inputs: tf.Tensor, targets) -> tf.Tensor:
        if targets is not None:
            targets = tf.convert_to_tensor(targets)
            return batching.batched(lambda x, y: flatten(self.projection(x, y)), [inputs, targets],
                                    self.batch_size)
        return batching.batched(lambda x: flatten(self.projection(x, None)), [inputs],
                                self.batch_size)

    @abc.abstractmethod
    def _search(self, inputs, targets, projected, **extras) -> Dict[str, tf.Tensor]:
        """Search one group: returns at least "indices" and "distances" `(n, k)`."""

    def _format(self, inputs: tf.Tensor, found: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        indices = found["indices"]
        output: Dict[str, tf.Tensor] = {}
        if "examples" in self.returns:
            examples = tf.cast(self.cases.gather(indices.numpy()), tf.float32)
            if "include_inputs" in self.returns:
                examples = tf.concat([tf.cast(inputs, tf.float32)[:, None], examples], axis=1)
            output["examples"] = examples
        if "distances" in self.returns:
            output["distances"] = found["distances"]
        if "labels" in self.returns:
            output["labels"] = self.cases.gather(indices.numpy(), column=1)
        if "indices" in self.returns:
            output["indices"] = indices
        for name, value in found.items():
            if name in self.returns and name not in output:
                output[name] = value
        return output
