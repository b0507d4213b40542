"""Type aliases shared across the package."""

from typing import Callable, Union

import numpy as np
import tensorflow as tf

#: What `explain` accepts as inputs: an array, a tensor or a `tf.data.Dataset`.
InputsLike = Union[np.ndarray, tf.Tensor, tf.data.Dataset]
#: Targets: one-hot / dense `(N, n_outputs)` or integer class indices `(N,)`.
TargetsLike = Union[np.ndarray, tf.Tensor, None]
#: An operator `g(model, inputs, targets) -> (N,)` scores.
OperatorFn = Callable[[Callable, tf.Tensor, tf.Tensor], tf.Tensor]
#: A layer reference: its name or its index in `model.layers`.
LayerRef = Union[str, int]
