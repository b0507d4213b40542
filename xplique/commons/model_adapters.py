"""Black-box model adapters: anything that returns scores becomes a model the kernels can call.

Keras models, layers, `tf.Module`s and `tf.function`s run inside the compiled kernels as they
are. Plain Python callables (numpy in, numpy or tensors out) and scikit-learn estimators cannot
be traced, so :func:`black_box_model` wraps them in a :class:`HostModel` that runs them on the
host through `tf.py_function`: the kernels, masks and batching stay the same, only the model
call leaves the graph. This path is slower (a device-to-host copy per batch of `batch_size`
evaluations, and no graph optimisation of the model).
"""

from typing import Callable

import keras
import numpy as np
import tensorflow as tf


def runs_in_graph(model) -> bool:
    """True for models TensorFlow can trace: Keras models and layers, tf.Modules, tf.functions."""
    return isinstance(
        model, (keras.Model, keras.layers.Layer, tf.Module, tf.types.experimental.GenericFunction)
    )


class HostModel:
    """A Python callable or scikit-learn estimator, called on the host from compiled kernels.

    Parameters
    ----------
    function
        `function(batch: np.ndarray) -> scores`, scores of shape `(n,)` or `(n, n_outputs)`.
    flatten
        Flatten each input to a vector before calling (scikit-learn estimators take 2-D data).
    """

    def __init__(self, function: Callable, flatten: bool = False):
        self.function = function
        self.flatten = flatten

    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        outputs = tf.py_function(self._run, [inputs], tf.float32)
        outputs.set_shape([inputs.shape[0], None])
        return outputs

    def _run(self, inputs: tf.Tensor) -> np.ndarray:
        batch = inputs.numpy()
        if self.flatten:
            batch = batch.reshape(len(batch), -1)
        outputs = np.asarray(self.function(batch), dtype=np.float32)
        if outputs.ndim == 1:
            outputs = outputs[:, None]
        if outputs.ndim != 2 or len(outputs) != len(batch):
            raise ValueError(
                "A black-box `model` must return one score or one row of scores per input, "
                f"i.e. shape ({len(batch)},) or ({len(batch)}, n_outputs). "
                f"Received outputs of shape {outputs.shape}"
            )
        return outputs


def black_box_model(model) -> Callable:
    """Return `model` as a callable usable inside compiled kernels.

    Traceable models are returned unchanged. A scikit-learn estimator is called through
    `predict_proba` (classifiers) or else `predict`, on inputs flattened to `(n, features)`; any
    other callable is called on numpy batches. Both run on the host (see :class:`HostModel`).
    """
    if runs_in_graph(model):
        return model
    for method in ("predict_proba", "predict"):
        if hasattr(model, method) and not callable(model):
            return HostModel(getattr(model, method), flatten=True)
    if callable(model):
        return HostModel(model)
    raise TypeError(
        "`model` must be a Keras model, a tf.Module, a callable returning scores or a "
        "scikit-learn estimator with `predict_proba` or `predict`. Received: "
        f"model={type(model).__name__}"
    )
