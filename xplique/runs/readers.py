"""Streaming readers: the inputs of a run, read one shard at a time, never whole.

:func:`open_inputs` accepts

- a numpy array (a memory map from `np.load(path, mmap_mode="r")` included) or a tensor: a
  shard is a slice, read only when the shard is computed;
- a `tf.data.Dataset`, batched or not, of inputs or of `(inputs, targets)` pairs: re-batched
  to `shard_size` rows and iterated once;
- a path: a `.npy` file (memory-mapped), a folder of `.npy` files (one input each) and/or
  `.png` images (decoded to float32 in [0, 1], shape `(H, W, C)`), taken in file-name order,
  or a TFRecord file whose records are `tf.io.serialize_tensor` of one float32 input each
  (:func:`write_tfrecord` writes one).

Each reader yields `(index, start, inputs, targets)` for the shards a worker wants, with numpy
inputs of float32 and targets as given (None when there are none).
"""

import os
from typing import Callable, Iterator, Optional, Tuple

import numpy as np
import tensorflow as tf

Shard = Tuple[int, int, np.ndarray, Optional[np.ndarray]]
IMAGE_SUFFIXES = (".npy", ".png")


class ArraySource:
    """Shards of an in-memory or memory-mapped array (and of its targets)."""

    def __init__(self, inputs, targets=None):
        self.inputs = inputs
        self.targets = targets
        self.nb_inputs = int(inputs.shape[0])
        if targets is not None and int(np.shape(targets)[0]) != self.nb_inputs:
            raise ValueError(
                "`inputs` and `targets` must have the same number of samples. Received: "
                f"inputs.shape={tuple(inputs.shape)}, targets.shape={tuple(np.shape(targets))}"
            )

    def shards(self, shard_size: int, wanted: Callable[[int], bool]) -> Iterator[Shard]:
        """Yield the wanted shards, reading only those."""
        for index, start in enumerate(range(0, self.nb_inputs, shard_size)):
            if not wanted(index):
                continue
            stop = min(start + shard_size, self.nb_inputs)
            targets = None if self.targets is None else np.asarray(self.targets[start:stop])
            yield index, start, _floats(self.inputs[start:stop]), targets


class FolderSource:
    """Shards of a folder of `.npy` / `.png` files, one input per file, in name order."""

    def __init__(self, folder: str, targets=None):
        self.files = [os.path.join(folder, name) for name in sorted(os.listdir(folder))
                      if name.lower().endswith(IMAGE_SUFFIXES)]
        if not self.files:
            raise ValueError(f"`inputs` folder {folder} holds no .npy or .png file")
        self.array = ArraySource(_LazyFiles(self.files), targets)
        self.nb_inputs = self.array.nb_inputs

    def shards(self, shard_size: int, wanted: Callable[[int], bool]) -> Iterator[Shard]:
        """Yield the wanted shards, reading only their files."""
        return self.array.shards(shard_size, wanted)


class _LazyFiles:
    """A sequence of files that reads a slice of them as one stacked array."""

    def __init__(self, files):
        self.files = files
        self.shape = (len(files),)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return np.stack([read_file(path) for path in self.files[rows]])


def read_file(path: str) -> np.ndarray:
    """One input: a `.npy` array, or a `.png` image as float32 `(H, W, C)` in [0, 1]."""
    if path.lower().endswith(".npy"):
        return np.load(path, allow_pickle=False)
    image = tf.io.decode_png(tf.io.read_file(path))
    return image.numpy().astype("float32") / 255.0


class DatasetSource:
    """Shards of a `tf.data.Dataset` (batched or not) of inputs or `(inputs, targets)`."""

    def __init__(self, dataset: tf.data.Dataset, targets=None):
        if isinstance(targets, tf.data.Dataset):
            dataset, targets = tf.data.Dataset.zip((dataset, targets)), None
        elif targets is not None and isinstance(dataset.element_spec, tuple):
            raise TypeError(
                "When `inputs` yields (inputs, targets) pairs, `targets` must be None. "
                f"Received: {type(targets).__name__}"
            )
        self.dataset = dataset
        self.targets = targets  # an array sliced by position, or None
        cardinality = int(dataset.cardinality())
        self.nb_inputs = None if cardinality < 0 or _is_batched(dataset) else cardinality

    def shards(self, shard_size: int, wanted: Callable[[int], bool]) -> Iterator[Shard]:
        """Iterate the stream once, converting only the wanted shards; sets `nb_inputs`."""
        dataset = self.dataset.unbatch() if _is_batched(self.dataset) else self.dataset
        count = 0
        for index, element in enumerate(dataset.batch(shard_size)):
            inputs, targets = element if isinstance(element, tuple) else (element, None)
            start, count = count, count + int(tf.shape(inputs)[0])
            if self.targets is not None:
                targets = self.targets[start:count]
                if len(targets) != count - start:
                    raise ValueError(f"`targets` has {len(self.targets)} rows but `inputs` "
                                     f"holds more. Received at least {count} inputs")
            if wanted(index):
                yield index, start, _floats(inputs), None if targets is None \
                    else np.asarray(targets)
        if self.targets is not None and len(self.targets) != count:
            raise ValueError(f"`inputs` and `targets` must have the same number of samples. "
                             f"Received {count} inputs and {len(self.targets)} targets")
        self.nb_inputs = count


def _is_batched(dataset: tf.data.Dataset) -> bool:
    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    return spec.shape.rank is not None and spec.shape.rank > 0 and spec.shape[0] is None \
        and spec.shape.rank >= 2


def _floats(values) -> np.ndarray:
    array = values.numpy() if isinstance(values, tf.Tensor) else np.asarray(values)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"`inputs` must hold numbers. Received an array of dtype {array.dtype}")
    return array.astype("float32", copy=False)


def tfrecord_dataset(path: str) -> tf.data.Dataset:
    """The inputs of a TFRecord file of serialised float32 tensors (one input per record)."""
    return tf.data.TFRecordDataset(path).map(lambda record: tf.io.parse_tensor(record,
                                                                               tf.float32))


def write_tfrecord(path: str, inputs) -> None:
    """Write `inputs` (N, ...) as a TFRecord file that `explain_dataset` reads back: one
    `tf.io.serialize_tensor` of a float32 input per record."""
    with tf.io.TFRecordWriter(path) as writer:
        for row in np.asarray(inputs, dtype="float32"):
            writer.write(tf.io.serialize_tensor(tf.constant(row)).numpy())


def open_inputs(inputs, targets=None):
    """A reader for `inputs` (and `targets`): see the module docstring for what is accepted."""
    if isinstance(targets, str):
        targets = np.load(targets, mmap_mode="r", allow_pickle=False)
    if isinstance(inputs, (str, os.PathLike)):
        path = os.fspath(inputs)
        if os.path.isdir(path):
            return FolderSource(path, targets)
        if not os.path.isfile(path):
            raise ValueError(f"`inputs` path not found: {path}")
        if path.lower().endswith(".npy"):
            return ArraySource(np.load(path, mmap_mode="r", allow_pickle=False), targets)
        return DatasetSource(tfrecord_dataset(path), targets)
    if isinstance(inputs, tf.data.Dataset):
        return DatasetSource(inputs, targets)
    if isinstance(inputs, (np.ndarray, tf.Tensor)):
        if len(inputs.shape) < 2:
            raise ValueError("`inputs` must be a batch (N, ...) of rank >= 2. Received: "
                             f"inputs.shape={tuple(inputs.shape)}")
        return ArraySource(inputs, targets)
    raise TypeError(
        "`inputs` must be a numpy array (memory maps included), a tensor, a tf.data.Dataset, "
        f"or a path (.npy, a folder of .npy/.png, a TFRecord file). Received: "
        f"{type(inputs).__name__}"
    )
