"""Operators: the only place where tasks plug in.

An operator is a callable `g(model, inputs, targets) -> (N,)` giving one score per input.
Explainers and metrics reach the model only through it, so a method never needs to know which
task it serves. :class:`Tasks` names the built-in operators; every member is callable as the
operator it names, and `operator=` accepts a member, its name as a string, or any callable.
"""

import enum
from typing import Callable, Dict

import tensorflow as tf

from xplique.commons.validation import ensure_choice


def predictions_operator(model: Callable, inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Score of the targeted outputs: `sum(model(inputs) * targets, axis=-1)`.

    With one-hot targets this is the targeted class score (classification); with dense targets
    it is the projection of the outputs on a direction (regression).
    """
    outputs = model(inputs)
    return tf.reduce_sum(outputs * tf.cast(targets, outputs.dtype), axis=-1)


class Tasks(enum.Enum):
    """The built-in tasks. Each member is callable as its operator.

    >>> from xplique import Tasks
    >>> [task.value for task in Tasks]  # doctest: +ELLIPSIS
    ['classification', 'regression', ...]
    >>> Tasks.from_string("classification") is Tasks.CLASSIFICATION
    True
    """

    CLASSIFICATION = "classification"
    REGRESSION = "regression"

    def __call__(self, model: Callable, inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        return _TASK_OPERATORS[self](model, inputs, targets)

    @property
    def operator(self) -> Callable:
        """The plain operator function this task names."""
        return _TASK_OPERATORS[self]

    @classmethod
    def from_string(cls, name: str) -> "Tasks":
        """Return the task named `name` (case-insensitive; spaces, dashes or underscores)."""
        if not isinstance(name, str):
            raise TypeError(f"`operator` name must be a string. Received: {name!r}")
        key = name.strip().lower().replace("-", " ").replace("_", " ")
        by_name = {task.value.replace("_", " "): task for task in cls}
        ensure_choice(key, "operator", by_name)
        return by_name[key]


#: Task -> operator function. Later tasks (segmentation, detection) register here.
_TASK_OPERATORS: Dict[Tasks, Callable] = {
    Tasks.CLASSIFICATION: predictions_operator,
    Tasks.REGRESSION: predictions_operator,
}


def get_operator(operator) -> Callable:
    """Turn an `operator` argument (None, a :class:`Tasks` member, a name, a callable) into a
    callable `g(model, inputs, targets) -> (N,)`. None means classification."""
    if operator is None:
        return predictions_operator
    if isinstance(operator, Tasks):
        return operator.operator
    if isinstance(operator, str):
        return Tasks.from_string(operator).operator
    if callable(operator):
        return operator
    raise TypeError(
        "`operator` must be None, a Tasks member, a task name or a callable "
        f"g(model, inputs, targets). Received: operator={operator!r}"
    )
