"""The cases of an example-based method, as one re-iterable stream of aligned chunks.

`cases_dataset`, `labels_dataset` and `targets_dataset` may each be a numpy array, a tf tensor,
a torch tensor, a `tf.data.Dataset` (batched or not) or a torch `DataLoader`. A dataset whose
elements are tuples is read as `(cases, labels)` or `(cases, labels, targets)` columns.
:class:`CaseStream` harmonises all of them: :meth:`CaseStream.chunks` yields aligned
`(cases, labels, targets)` tensors of at most `batch_size` rows, one chunk at a time (a
dataset is never materialised), and :meth:`CaseStream.gather` fetches the rows of given case
indices, in one pass over the stream when the cases live in a dataset.
"""

from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

Chunk = Tuple[tf.Tensor, Optional[tf.Tensor], Optional[tf.Tensor]]

COLUMNS = ("cases_dataset", "labels_dataset", "targets_dataset")


def _is_torch(value, kind: str) -> bool:
    module = type(value).__module__
    if not module.startswith("torch"):
        return False
    return type(value).__name__ == kind


def _to_tf(value, name: str) -> tf.Tensor:
    """A chunk (array, tensor, torch tensor) as a tf tensor; floats become float32."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, tf.Tensor):
        tensor = value
    else:
        array = np.asarray(value)
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise TypeError(f"`{name}` must hold numbers. Received an array of dtype "
                            f"{array.dtype}")
        tensor = tf.convert_to_tensor(array)
    if tensor.dtype.is_floating and tensor.dtype != tf.float32:
        tensor = tf.cast(tensor, tf.float32)
    return tensor


class _Column:
    """One source of rows: in memory (sliced) or a stream of batches (dataset, loader)."""

    def __init__(self, value, name: str):
        self.name = name
        self.value = value
        self.in_memory = not isinstance(value, tf.data.Dataset) and not _is_torch(
            value, "DataLoader")
        if self.in_memory:
            if isinstance(value, (dict, str, bytes)) or not hasattr(value, "__len__") and not (
                    hasattr(value, "shape")):
                raise TypeError(
                    f"`{name}` must be a numpy array, a tf or torch tensor, a tf.data.Dataset "
                    f"or a torch DataLoader. Received: {type(value).__name__}")
            shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
            if len(shape) == 0:
                raise ValueError(f"`{name}` must have one row per case. Received a scalar")
            self.length = int(shape[0])
            if not hasattr(value, "shape"):
                self.value = np.asarray(value)

    def slice(self, start: int, stop: int) -> tf.Tensor:
        return _to_tf(self.value[start:stop], self.name)

    def take(self, indices: np.ndarray) -> tf.Tensor:
        if isinstance(self.value, tf.Tensor):
            return tf.gather(self.value, indices)
        if hasattr(self.value, "detach"):
            return _to_tf(self.value[list(indices)], self.name) if len(indices) else \
                _to_tf(self.value[:0], self.name)
        return _to_tf(np.take(self.value, indices, axis=0), self.name)


def _dataset_is_batched(dataset: tf.data.Dataset, reference_rank: Optional[int]) -> bool:
    """Whether `dataset` yields batches: its leading dimension is unknown (`.batch` was
    applied), or its rank exceeds the per-case rank of an in-memory column."""
    spec = dataset.element_spec
    if isinstance(spec, (tuple, list)):
        spec = spec[0]
    shape = spec.shape
    if reference_rank is not None and shape.rank is not None:
        return shape.rank > reference_rank
    return shape.rank is not None and shape.rank > 0 and shape[0] is None


def _stream(value, batch_size: int) -> Iterator[tuple]:
    """Batches of a dataset or loader, each as a tuple of columns."""
    if isinstance(value, tf.data.Dataset):
        dataset = value if _dataset_is_batched(value, None) else value.batch(batch_size)
        for element in dataset:
            yield tuple(element) if isinstance(element, (tuple, list)) else (element,)
        return
    for element in value:  # a torch DataLoader
        yield tuple(element) if isinstance(element, (tuple, list)) else (element,)


class CaseStream:
    """Aligned `(cases, labels, targets)` chunks of at most `batch_size` rows.

    Parameters
    ----------
    cases_dataset, labels_dataset, targets_dataset
        See :class:`xplique.example_based.base.BaseExampleMethod`.
    batch_size
        Rows per chunk for in-memory cases and unbatched datasets. A batched dataset or a
        DataLoader keeps its own batches.
    """

    def __init__(self, cases_dataset, labels_dataset=None, targets_dataset=None,
                 batch_size: int = 256):
        if cases_dataset is None:
            raise TypeError("`cases_dataset` is required. Received: cases_dataset=None")
        self.batch_size = batch_size
        self._columns_in_cases = 1
        count = 1
        if isinstance(cases_dataset, tf.data.Dataset) and isinstance(
                cases_dataset.element_spec, (tuple, list)):
            count = len(cases_dataset.element_spec)
        elif _is_torch(cases_dataset, "DataLoader"):
            first = next(iter(cases_dataset))
            count = len(first) if isinstance(first, (tuple, list)) else 1
        if count > 1:
            if count > 3:
                raise ValueError(
                    "A multi-column `cases_dataset` holds (cases, labels) or (cases, labels, "
                    f"targets). Received a dataset of {count} columns")
            for position, given in ((1, labels_dataset), (2, targets_dataset)):
                if position < count and given is not None:
                    raise ValueError(
                        f"`{COLUMNS[position]}` must be None when `cases_dataset` already has "
                        f"a {COLUMNS[position].split('_')[0]} column")
            self._columns_in_cases = count
        self._cases = _Column(cases_dataset, "cases_dataset")
        self._extra = [
            None if value is None else _Column(value, name)
            for value, name in ((labels_dataset, "labels_dataset"),
                                (targets_dataset, "targets_dataset"))
        ]
        self.has_labels = self._columns_in_cases >= 2 or self._extra[0] is not None
        self.has_targets = self._columns_in_cases >= 3 or self._extra[1] is not None
        self.length: Optional[int] = None
        if self._cases.in_memory:
            self.length = self._cases.length
            for column in self._extra:
                if column is not None and not column.in_memory:
                    raise TypeError(
                        f"`{column.name}` must be an array or tensor when `cases_dataset` is "
                        f"one. Received: {type(column.value).__name__}")
        lengths = {c.name: c.length for c in [self._cases] + self._extra
                   if c is not None and c.in_memory}
        if len(set(lengths.values())) > 1:
            raise ValueError(
                "`cases_dataset`, `labels_dataset` and `targets_dataset` must have the same "
                f"number of rows. Received: {lengths}")

    # ------------------------------------------------------------------ streaming
    def chunks(self) -> Iterator[Chunk]:
        """Yield aligned `(cases, labels or None, targets or None)` chunks."""
        if self._cases.in_memory:
            for start in range(0, self.length, self.batch_size):
                stop = min(start + self.batch_size, self.length)
                yield self._aligned(self._cases.slice(start, stop), (), start, stop, None)
            return
        extra_streams = [None if c is None or c.in_memory else _stream(c.value, self.batch_size)
                         for c in self._extra]
        start = 0
        for element in _stream(self._cases.value, self.batch_size):
            cases = _to_tf(element[0], "cases_dataset")
            stop = start + int(cases.shape[0])
            yield self._aligned(cases, element[1:], start, stop, extra_streams)
            start = stop
        for column, stream in zip(self._extra, extra_streams):
            if stream is not None and next(stream, None) is not None:
                raise ValueError(f"`{column.name}` has more rows than `cases_dataset` "
                                 f"({start})")
            if column is not None and column.in_memory and column.length != start:
                raise ValueError(
                    f"`{column.name}` has {column.length} rows but `cases_dataset` has {start}")
        if self.length is None:
            self.length = start

    def _aligned(self, cases, inner_columns: Sequence, start, stop, streams) -> Chunk:
        parts: List[Optional[tf.Tensor]] = [None, None]
        for position in range(2):
            if position < len(inner_columns):
                parts[position] = _to_tf(inner_columns[position], COLUMNS[position + 1])
                continue
            column = self._extra[position]
            if column is None:
                continue
            if column.in_memory:
                if stop > column.length:
                    raise ValueError(f"`{column.name}` has {column.length} rows, fewer than "
                                     f"`cases_dataset`")
                parts[position] = column.slice(start, stop)
            else:
                element = next(streams[position], None)
                if element is None:
                    raise ValueError(f"`{column.name}` has fewer rows than `cases_dataset`")
                parts[position] = _to_tf(element[0], column.name)
            if int(parts[position].shape[0]) != stop - start:
                raise ValueError(
                    f"`{COLUMNS[position + 1]}` batches must match the `cases_dataset` batches. "
                    f"Received a batch of {int(parts[position].shape[0])} rows for "
                    f"{stop - start} cases")
        return cases, parts[0], parts[1]

    def count(self) -> int:
        """Number of cases (one pass over a dataset the first time, when unknown)."""
        if self.length is None:
            for _ in self.chunks():
                pass
        return self.length

    # ------------------------------------------------------------------ gathering
    def gather(self, indices, column: int = 0) -> Optional[tf.Tensor]:
        """Rows of `column` (0 cases, 1 labels, 2 targets) at `indices` (any shape of ints).

        Indices -1 (no case found) give rows of NaN for floats and -1 for integers. Returns
        a tensor of shape `indices.shape + row shape`, or None if the column is absent.
        """
        if column == 1 and not self.has_labels or column == 2 and not self.has_targets:
            return None
        indices = np.asarray(indices, dtype=np.int64)
        flat = indices.reshape(-1)
        valid = flat >= 0
        if self._cases.in_memory and (column == 0 or self._extra[column - 1] is not None):
            source = self._cases if column == 0 else self._extra[column - 1]
            rows = source.take(np.where(valid, flat, 0)).numpy()
        else:
            rows = self._gather_streamed(flat, valid, column)
        rows = _fill_missing(rows, valid)
        return tf.convert_to_tensor(rows.reshape(indices.shape + rows.shape[1:]))

    def _gather_streamed(self, flat, valid, column) -> np.ndarray:
        order = np.argsort(np.where(valid, flat, -1), kind="stable")
        rows = None
        start = 0
        for chunk in self.chunks():
            values = chunk[column]
            stop = start + int(chunk[0].shape[0])
            inside = valid & (flat >= start) & (flat < stop)
            if rows is None:
                rows = np.zeros((len(flat),) + tuple(values.shape[1:]),
                                values.dtype.as_numpy_dtype)
            if inside.any():
                rows[inside] = tf.gather(values, flat[inside] - start).numpy()
            start = stop
            if valid.any() and start > flat[order[-1]]:
                break
        return rows


def _fill_missing(rows: np.ndarray, valid: np.ndarray) -> np.ndarray:
    if valid.all():
        return rows
    rows = rows.copy()
    if np.issubdtype(rows.dtype, np.floating):
        rows[~valid] = np.nan
    elif np.issubdtype(rows.dtype, np.integer):
        rows[~valid] = -1
    return rows
