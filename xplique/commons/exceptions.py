"""The public exception types, at Xplique's path `xplique.commons.exceptions`.

Both are subclasses of :class:`TypeError`, the type our converters raise for a value of the wrong
kind, so `except TypeError` and `except InvalidOperatorException` both catch a bad operator.
"""


class InvalidModelException(TypeError):
    """The model cannot be used the way a method needs (e.g. no gradients through it)."""


class InvalidOperatorException(TypeError):
    """The operator is not a Tasks member, a task name or a callable `g(model, inputs, targets)`."""


def no_gradients_available():
    """Raise :class:`InvalidModelException` for a model gradients cannot flow through."""
    raise InvalidModelException(
        "No gradients are available for this model: white-box methods need a Keras model, a "
        "tf.Module or a TensorFlow function (use a black-box method for other callables)"
    )


def raise_invalid_operator():
    """Raise :class:`InvalidOperatorException` with what an operator must be."""
    raise InvalidOperatorException(
        "`operator` must be None, a Tasks member, a task name or a callable "
        "g(model, inputs, targets) -> (N,) scores"
    )


__all__ = [
    "InvalidModelException",
    "InvalidOperatorException",
    "no_gradients_available",
    "raise_invalid_operator",
]
