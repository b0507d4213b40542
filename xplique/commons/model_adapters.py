"""Black-box model adapters: anything that returns scores becomes a model the kernels can call.

Keras models, layers, `tf.Module`s and `tf.function`s run inside the compiled kernels as they
are. A plain Python callable runs inside them too when TensorFlow can trace it (a function of
tensors, e.g. a detection model written with `tf` operations): the operator then receives its
raw outputs, of any rank. Only scikit-learn estimators and callables that cannot be traced
(numpy in, numpy out) are wrapped in a :class:`HostModel` that runs them on the host through
`tf.py_function`: the kernels, masks and batching stay the same, only the model call leaves the
graph. That path is slower (a device-to-host copy per batch of `batch_size` evaluations, and no
graph optimisation of the model).
"""

from typing import Callable, Dict, Tuple

import keras
import numpy as np
import tensorflow as tf

from xplique.commons.distribution import one_device


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


class CallableModel:
    """A `tf.Module`, `tf.function` or plain Python callable, run in-graph where TensorFlow can
    trace it.

    How it runs is found once per input signature (dtype and shape), by tracing it alone in a
    throwaway `tf.function` (the answer is kept, so the kernels never probe again):

    - it traces with the kernel's unknown batch size: it is called as it is;
    - it traces only with a known batch size (it reads `x.shape[0]`, e.g.
      `tf.reshape(x, [x.shape[0], -1])`): where the batch size is unknown, it is vectorised
      over the inputs (`tf.vectorized_map` of its call on one input), else called as it is;
    - it does not trace at all (numpy code, plain callables only): it runs on the host
      (:class:`HostModel`).

    In-graph outputs reach the operator as they are (any rank); for a plain callable, one score
    per input `(n,)` becomes `(n, 1)`, as on the host path.

    Parameters
    ----------
    function
        `function(batch) -> outputs`, of tensors (in-graph) or of numpy arrays (host).
    host_fallback
        Whether a function that does not trace runs on the host (plain callables) or is called
        as it is, so that its own error surfaces (`tf.Module`s and `tf.function`s).
    """

    def __init__(self, function: Callable, host_fallback: bool = True):
        self.function = function
        self.host_fallback = host_fallback
        self._host = HostModel(function)
        self._modes: Dict[Tuple, str] = {}

    def _traces_with(self, shape, dtype) -> bool:
        with tf.init_scope(), one_device():
            try:
                tf.function(self.function).get_concrete_function(tf.TensorSpec(shape, dtype))
                return True
            except Exception:  # pylint: disable=broad-except  # any failure: try the next mode
                return False

    def mode(self, inputs: tf.Tensor) -> str:
        """"graph", "static" (vectorised where the batch size is unknown) or "host"."""
        key = (inputs.dtype, tuple(inputs.shape))
        if key not in self._modes:
            if self._traces_with(inputs.shape, inputs.dtype):
                self._modes[key] = "graph"
            elif self._traces_with((1,) + tuple(inputs.shape[1:]), inputs.dtype):
                self._modes[key] = "static"
            else:
                self._modes[key] = "host" if self.host_fallback else "graph"
        return self._modes[key]

    def traces(self, inputs: tf.Tensor) -> bool:
        """Whether `function` runs in-graph for inputs of this dtype and shape."""
        return self.mode(inputs) != "host"

    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        mode = self.mode(inputs)
        if mode == "host":
            return self._host(inputs)
        if mode == "static" and inputs.shape[0] is None:
            outputs = tf.vectorized_map(lambda one: self.function(one[None])[0], inputs,
                                        fallback_to_while_loop=True)
        else:
            outputs = self.function(inputs)
        if self.host_fallback and isinstance(outputs, tf.Tensor) and outputs.shape.rank == 1:
            return outputs[:, None]  # one score per input, as the host path gives it
        return outputs


def black_box_model(model) -> Callable:
    """Return `model` as a callable usable inside compiled kernels.

    Keras models and layers are returned unchanged; `tf.Module`s and `tf.function`s run
    in-graph, also when they read the static batch size (see :class:`CallableModel`). A
    scikit-learn estimator is called through `predict_proba` (classifiers) or else `predict`,
    on inputs flattened to `(n, features)`, on the host (see :class:`HostModel`). Any other
    callable runs in-graph when it traces, else on numpy batches on the host (see
    :class:`CallableModel`).
    """
    if isinstance(model, (keras.Model, keras.layers.Layer)):
        return model
    if runs_in_graph(model):  # a tf.Module or tf.function: in-graph, static batch sizes too
        return CallableModel(model, host_fallback=False)
    for method in ("predict_proba", "predict"):
        if hasattr(model, method) and not callable(model):
            return HostModel(getattr(model, method), flatten=True)
    if callable(model):
        return CallableModel(model)
    raise TypeError(
        "`model` must be a Keras model, a tf.Module, a callable returning scores or a "
        "scikit-learn estimator with `predict_proba` or `predict`. Received: "
        f"model={type(model).__name__}"
    )
