"""Inputs and targets normalisation, written once for every method and metric.

`explain(inputs, targets)` accepts numpy arrays, tensors, or a `tf.data.Dataset` (batched or
not) of inputs or of `(inputs, targets)` pairs. :func:`iter_groups` turns all of them into a
stream of in-memory groups `(x, y)`: arrays and tensors form one group, datasets are streamed
one batch at a time and never materialised whole. :func:`prepare_targets` converts integer class
indices `(N,)` into one-hot rows, once, and :func:`check_targets` checks the targets of the
built-in operators against the model's outputs, before any graph runs.

Every group is checked once (never inside the loops): its rank, its shape against a Keras
model's input (for built-in operators only: a custom operator may transform the inputs before
calling the model), the number of targets, and that every input value is finite (one reduction
per group).
"""

from typing import Callable, Iterator, Optional, Tuple

import numpy as np
import tensorflow as tf

from xplique.commons.batching import evaluations_per_pass
from xplique.commons.distribution import one_device
from xplique.commons.model_surgery import is_graph_model, run_model
from xplique.commons.operators import Tasks, predictions_operator, requires_targets

Group = Tuple[tf.Tensor, Optional[tf.Tensor]]


def to_tensor(value, name: str, dtype=tf.float32) -> tf.Tensor:
    """Convert an array-like of numbers to a tensor of `dtype`, naming `name` on failure."""
    if isinstance(value, tf.Tensor):
        if not (value.dtype.is_floating or value.dtype.is_integer or value.dtype.is_bool):
            raise TypeError(f"`{name}` must hold numbers. Received a tensor of dtype {value.dtype}")
        return tf.cast(value, dtype)
    if isinstance(value, (tf.data.Dataset, dict, str, bytes)) or value is None:
        raise TypeError(
            f"`{name}` must be a numpy array or a tensor of numbers. "
            f"Received: {type(value).__name__}"
        )
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"`{name}` must hold numbers. Received an array of dtype {array.dtype}")
    return tf.convert_to_tensor(array, dtype=dtype)


def expected_input_shape(model) -> Optional[tuple]:
    """The batch shape `(None, ...)` a Keras graph model expects, or None if unknown."""
    if not is_graph_model(model) or len(model.inputs) != 1:
        return None
    return tuple(model.inputs[0].shape)


def is_builtin_operator(operator: Callable) -> bool:
    """Whether `operator` is one of the operators :class:`~xplique.commons.operators.Tasks`
    names (which call the model on the inputs as given)."""
    return any(operator is task.operator for task in Tasks)


def check_finite(inputs: tf.Tensor, name: str = "inputs") -> None:
    """Raise a ValueError naming `name` when `inputs` hold NaN or infinite values (one
    reduction; explanations of such inputs would be NaN or silently zero)."""
    if not inputs.dtype.is_floating or bool(tf.reduce_all(tf.math.is_finite(inputs))):
        return
    values = inputs.numpy()
    raise ValueError(
        f"`{name}` must hold finite values. Received {int(np.isnan(values).sum())} NaN and "
        f"{int(np.isinf(values).sum())} infinite values in {name}.shape={tuple(inputs.shape)}"
    )


def check_inputs_for_model(inputs: tf.Tensor, model, operator: Optional[Callable] = None
                           ) -> None:
    """Raise a ValueError naming `inputs` when their rank or sizes cannot feed `model`.

    Nothing is checked when `operator` is given and is not a built-in one: a custom operator
    may transform the inputs before calling the model.
    """
    if operator is not None and not is_builtin_operator(operator):
        return
    expected = expected_input_shape(model)
    if expected is None:
        return
    received = tuple(inputs.shape)
    compatible = len(received) == len(expected) and all(
        e is None or e == r for e, r in zip(expected[1:], received[1:])
    )
    if not compatible:
        raise ValueError(
            f"`inputs` must have shape (N, {', '.join(str(e) for e in expected[1:])}) for this "
            f"model. Received: inputs.shape={received}"
        )


def _is_batched_dataset(dataset: tf.data.Dataset, batch_rank: Optional[int]) -> bool:
    spec = dataset.element_spec
    if isinstance(spec, tuple):
        spec = spec[0]
    rank = spec.shape.rank
    if batch_rank is not None:
        return rank == batch_rank
    return rank is not None and rank > 0 and spec.shape[0] is None


def iter_groups(inputs, targets, batch_size: Optional[int], model=None) -> Iterator[Group]:
    """Yield `(x, y)` groups held in memory, `y` None when no targets were given.

    Parameters
    ----------
    inputs
        Array, tensor, or dataset of inputs or `(inputs, targets)` pairs.
    targets
        Array or tensor of targets (or a dataset zipped with `inputs`), or None.
    batch_size
        Group size used to batch an unbatched dataset (None:
        :data:`~xplique.commons.batching.MAX_BATCH_SIZE` inputs).
    model
        When given, inputs are checked against its expected input shape.
    """
    batch_rank = None
    expected = expected_input_shape(model) if model is not None else None
    if expected is not None:
        batch_rank = len(expected)
    if isinstance(inputs, tf.data.Dataset):
        dataset = inputs
        if isinstance(targets, tf.data.Dataset):
            dataset = tf.data.Dataset.zip((inputs, targets))
        elif targets is not None:
            raise TypeError(
                "When `inputs` is a tf.data.Dataset, `targets` must be None (the dataset yields "
                "(inputs, targets) pairs) or a tf.data.Dataset. Received: "
                f"{type(targets).__name__}"
            )
        if not _is_batched_dataset(dataset, batch_rank):
            dataset = dataset.batch(evaluations_per_pass(batch_size))
        for element in dataset:
            x, y = element if isinstance(element, tuple) else (element, None)
            yield _checked_group(x, y, model)
        return
    yield _checked_group(inputs, targets, model)


def _checked_group(x, y, model) -> Group:
    x = to_tensor(x, "inputs")
    if x.shape.rank >= 1 and x.shape[0] == 0:
        raise ValueError(f"`inputs` is empty: there is nothing to explain. Received: "
                         f"inputs.shape={tuple(x.shape)}")
    if x.shape.rank < 2:
        raise ValueError(
            f"`inputs` must be a batch (N, ...) of rank >= 2. Received: inputs.shape={x.shape}"
        )
    check_finite(x)
    if model is not None:
        check_inputs_for_model(x, model)
    if y is None:
        return x, None
    if not isinstance(y, tf.Tensor):
        y_array = np.asarray(y)
        if not (np.issubdtype(y_array.dtype, np.number) or y_array.dtype == bool):
            raise TypeError(
                f"`targets` must hold numbers. Received an array of dtype {y_array.dtype}"
            )
        y = tf.convert_to_tensor(y_array)
    if y.shape.rank == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(
            "`inputs` and `targets` must have the same number of samples. Received: "
            f"inputs.shape={tuple(x.shape)}, targets.shape={tuple(y.shape)}"
        )
    return x, y


def output_shape(model: Callable, sample: tf.Tensor) -> Tuple[Optional[int], ...]:
    """Shape of `model`'s output for a batch (`(None, ...)`), without evaluating it where
    possible: read from a Keras graph model, else from a throwaway trace (no model call runs),
    else (host models, whose output shape is unknown until they run) from one forward pass on
    one input."""
    if is_graph_model(model) and len(model.outputs) == 1:
        shape = tuple(model.outputs[0].shape)
        if all(size is not None for size in shape[1:]):
            return (None,) + shape[1:]
    traced = None
    for batch in (None, 1):  # relaxed batch first; static-batch models need a known one
        spec = tf.TensorSpec((batch,) + tuple(sample.shape[1:]), sample.dtype)
        try:
            with tf.init_scope(), one_device():
                concrete = tf.function(lambda x: run_model(model, x)).get_concrete_function(spec)
            traced = concrete.structured_outputs
            break
        except Exception:  # pylint: disable=broad-except  # not traceable: run it below
            continue
    if isinstance(traced, tf.Tensor) and traced.shape.rank is not None \
            and all(size is not None for size in traced.shape[1:]):
        return (None,) + tuple(traced.shape[1:])
    return (None,) + tuple(run_model(model, sample[:1]).shape[1:])


def lazy_output_shape(model: Callable, sample: tf.Tensor) -> Callable[[], Tuple]:
    """A function returning :func:`output_shape` of `model`, computed on its first call only."""
    found = []

    def shape():
        if not found:
            found.append(output_shape(model, sample))
        return found[0]

    return shape


def _target_expectation(operator: Callable, outputs: Tuple) -> str:
    """What the targets of a built-in operator must be for model outputs of shape `outputs`."""
    if operator is Tasks.SEMANTIC_SEGMENTATION.operator:
        return f"masks of the model's output shape (N, {', '.join(map(str, outputs[1:]))})"
    if operator is predictions_operator:
        return f"rows of the model's output shape (N, {', '.join(map(str, outputs[1:]))})"
    return (f"boxes (N, {outputs[-1]}) or (N, nb_ref, {outputs[-1]}): 4 coordinates, "
            f"objectness and {outputs[-1] - 5} class scores, as in the model's outputs")


def check_targets(targets: tf.Tensor, operator: Callable,
                  outputs: Callable[[], Tuple]) -> None:
    """Raise a ValueError naming `targets` when they do not fit a built-in operator.

    Parameters
    ----------
    targets
        The prepared targets (one-hot, dense, masks or boxes), one row per input.
    operator
        The operator; custom operators are not checked (they read targets their own way).
    outputs
        Called (only for built-in operators) to get the model's output shape `(None, ...)`.
    """
    if not is_builtin_operator(operator):
        return
    shape = tuple(targets.shape)
    expected = tuple(outputs())
    if operator is predictions_operator or operator is Tasks.SEMANTIC_SEGMENTATION.operator:
        ok = shape[1:] == expected[1:]
    else:  # detection: reference boxes with the model's box layout
        ok = len(shape) in (2, 3) and shape[-1] == expected[-1]
    if ok:
        return
    description = _target_expectation(operator, expected)
    if operator is predictions_operator and len(shape) == 2 and len(expected) == 2:
        raise ValueError(
            f"`targets` must have width {expected[-1]}, one value per output of this model "
            f"({expected[-1]} outputs). Received width {shape[-1]}: targets.shape={shape}"
        )
    raise ValueError(
        f"`targets` must be {description}. Received: targets.shape={shape} for model outputs "
        f"of shape {expected}"
    )


def output_size(model: Callable, sample: tf.Tensor) -> int:
    """Number of outputs of `model` (last axis), read statically or from one forward pass."""
    if is_graph_model(model) and len(model.outputs) == 1:
        size = model.outputs[0].shape[-1]
        if size is not None:
            return int(size)
    return int(run_model(model, sample[:1]).shape[-1])


def top_output_targets(outputs: tf.Tensor, operator: Callable) -> tf.Tensor:
    """Targets for `targets=None`: one-hot rows of each input's top output (the predicted class;
    per pixel for segmentation). Operators that need references (detection) refuse."""
    if requires_targets(operator):
        raise ValueError(
            f"`targets` is required with the {getattr(operator, '__name__', 'given')} operator "
            "(reference boxes for detection). targets=None explains the top output only for "
            "classification, regression and segmentation"
        )
    return tf.one_hot(tf.argmax(outputs, axis=-1), outputs.shape[-1], dtype=tf.float32)


def prepare_targets(targets: tf.Tensor, n_outputs: Callable[[], int]) -> tf.Tensor:
    """Return float32 targets; integer class indices `(N,)` become one-hot `(N, n_outputs)`.

    Parameters
    ----------
    targets
        Tensor of targets, `(N,)` for class indices.
    n_outputs
        Called (only for class indices) to get the number of model outputs.
    """
    if targets.shape.rank != 1:
        return tf.cast(targets, tf.float32)
    values = targets.numpy()
    if not np.all(np.isfinite(values)) or np.any(np.mod(values, 1) != 0):
        raise ValueError(
            "`targets` of shape (N,) must be integer class indices. Received non-integer values "
            f"such as {values[np.flatnonzero(np.mod(np.nan_to_num(values, nan=0.5), 1))[:3]]}"
        )
    size = n_outputs()
    bad = values[(values < 0) | (values >= size)]
    if bad.size:
        raise ValueError(
            f"`targets` holds class indices that must lie in [0, {size - 1}] for a model with "
            f"{size} outputs. Received: {bad[:5].astype(int).tolist()}"
        )
    return tf.one_hot(tf.cast(targets, tf.int32), size, dtype=tf.float32)
