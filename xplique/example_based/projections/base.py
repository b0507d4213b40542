"""The projection of example-based methods: a space where distances mean something to the model.

`projection(inputs, targets)` = `space_projection(inputs) * get_weights(inputs, targets)`, each
part optional (the identity and weights of one when absent). Cases are projected once, chunk by
chunk, at a method's first search; inputs are projected at each `explain`.
"""

from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from xplique.commons.validation import ensure_callable


class Projection:
    """Weighted projection `space_projection(x) * get_weights(x, y)`.

    Parameters
    ----------
    get_weights
        None (no weighting), a callable `(inputs, targets) -> weights` broadcastable to the
        projected inputs, or fixed weights (an array or tensor of one projected sample's shape).
    space_projection
        None (identity) or a callable `inputs -> projected inputs`.
    device
        Accepted for compatibility with Xplique; TensorFlow places the operations.
    mappable
        Accepted for compatibility with Xplique (whether the projection can be mapped over a
        `tf.data.Dataset`); cases are always projected chunk by chunk here.
    requires_targets
        Whether the projection uses targets (informative; projections that need them use the
        predicted class when none are given).

    Examples
    --------
    >>> import numpy as np
    >>> projection = Projection(get_weights=np.array([2.0, 0.0]))
    >>> projection(np.array([[1.0, 3.0]], "float32")).numpy().tolist()
    [[2.0, 0.0]]
    """

    def __init__(self, get_weights=None, space_projection: Optional[Callable] = None,
                 device: Optional[str] = None, mappable: bool = False,
                 requires_targets: bool = False):
        self.requires_targets = requires_targets
        if get_weights is not None and not callable(get_weights):
            weights = tf.convert_to_tensor(np.asarray(get_weights), tf.float32)
            get_weights = lambda inputs, targets=None: weights[None]  # noqa: E731
        self.get_weights = get_weights
        self.space_projection = None if space_projection is None else ensure_callable(
            space_projection, "space_projection")
        self.device = device
        self.mappable = mappable

    def project(self, inputs, targets=None) -> tf.Tensor:
        """Project a batch of `inputs` (with their `targets`, used by weighting projections)."""
        inputs = tf.convert_to_tensor(inputs) if not isinstance(inputs, tf.Tensor) else inputs
        if inputs.dtype.is_floating and inputs.dtype != tf.float32:
            inputs = tf.cast(inputs, tf.float32)
        projected = inputs if self.space_projection is None else self.space_projection(inputs)
        if self.get_weights is not None:
            projected = tf.cast(projected, tf.float32) * tf.cast(
                self.get_weights(inputs, targets), tf.float32)
        return tf.cast(projected, tf.float32)

    def __call__(self, inputs, targets=None) -> tf.Tensor:
        """Alias of :meth:`project`."""
        return self.project(inputs, targets)


def as_projection(projection) -> Projection:
    """`projection` (None, a :class:`Projection` or a callable `(inputs, targets)`) as a
    :class:`Projection`."""
    if projection is None:
        return Projection()
    if isinstance(projection, Projection):
        return projection
    if callable(projection):
        return _CallableProjection(projection)
    raise TypeError(f"`projection` must be None, a Projection or a callable. Received: "
                    f"projection={projection!r}")


class _CallableProjection(Projection):
    """A user callable `f(inputs, targets=None)` used as a projection."""

    def __init__(self, function: Callable):  # pylint: disable=super-init-not-called
        self.function = function
        self.get_weights = None
        self.space_projection = None
        self.device = None
        self.mappable = False
        self.requires_targets = False

    def project(self, inputs, targets=None) -> tf.Tensor:
        try:
            projected = self.function(inputs, targets)
        except TypeError:
            projected = self.function(inputs)
        return tf.cast(projected, tf.float32)


def targets_or_predictions(outputs_fn: Callable, inputs: tf.Tensor, targets) -> tf.Tensor:
    """One-hot float targets: given ones (class indices converted) or the predicted class."""
    if targets is None:
        outputs = outputs_fn(inputs)
        return tf.one_hot(tf.argmax(outputs, -1), outputs.shape[-1], dtype=tf.float32)
    targets = tf.convert_to_tensor(targets)
    if targets.shape.rank == 1:
        size = int(outputs_fn(inputs[:1]).shape[-1])
        return tf.one_hot(tf.cast(targets, tf.int32), size, dtype=tf.float32)
    return tf.cast(targets, tf.float32)
