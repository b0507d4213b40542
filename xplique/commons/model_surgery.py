"""Model surgery: find layers and build models that stop at a layer.

Nothing here changes the user's model. Functional and Sequential models are truncated by
building a new `keras.Model` over the same layers. Subclassed models cannot be rebuilt, so their
layer output is captured while the model runs, by wrapping that layer's `call` for the duration
of the run (undone afterwards, even on error).
"""

import contextlib
from typing import Callable, List

import keras
import tensorflow as tf

from xplique.types import LayerRef


def _layers(model) -> List:
    layers = getattr(model, "layers", None)
    if layers is None:
        raise TypeError(
            "Selecting a layer needs a Keras model with `layers`. Received a "
            f"{type(model).__name__}, which has none"
        )
    return list(layers)


def find_layer(model, layer: LayerRef):
    """Return the layer of `model` named `layer`, or at index `layer` of `model.layers`.

    A layer object that belongs to the model is returned as is.
    """
    layers = _layers(model)
    if isinstance(layer, keras.layers.Layer):
        if any(candidate is layer for candidate in layers):
            return layer
        raise ValueError(f"Layer {layer.name!r} is not a layer of model {model.name!r}")
    if isinstance(layer, bool) or not isinstance(layer, (str, int)):
        raise TypeError(f"A layer is selected by name (str) or index (int). Received: {layer!r}")
    if isinstance(layer, int):
        if not -len(layers) <= layer < len(layers):
            raise ValueError(
                f"Layer index {layer} is out of range for a model with {len(layers)} layers"
            )
        return layers[layer]
    for candidate in layers:
        if candidate.name == layer:
            return candidate
    names = ", ".join(repr(candidate.name) for candidate in layers[:30])
    raise ValueError(f"No layer named {layer!r} in model {model.name!r}. Layers: {names}")


def is_graph_model(model) -> bool:
    """True for Keras models whose graph of layers is known (Sequential and functional)."""
    try:
        return isinstance(model, keras.Model) and bool(model.inputs) and bool(model.outputs)
    except (AttributeError, ValueError):
        return False


def truncate_at(model, layer: LayerRef) -> Callable:
    """Return a callable `f(inputs)` giving the output of `layer` in `model`.

    Graph models are truncated (`keras.Model(model.inputs, layer.output)`), so the layers after
    `layer` never run. Subclassed models run whole and the layer's output is captured.
    """
    target = find_layer(model, layer)
    if is_graph_model(model):
        try:
            output = target.output
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"Layer {target.name!r} is used more than once or not connected in model "
                f"{model.name!r}, so its output is ambiguous"
            ) from error
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        return keras.Model(inputs, output, name=f"{model.name}_to_{target.name}")
    return _CapturedLayerModel(model, target)


class _CapturedLayerModel:
    """Runs a subclassed model and returns the output of one of its layers."""

    def __init__(self, model, layer):
        self.model = model
        self.layer = layer

    def __call__(self, inputs):
        with capture_output(self.layer) as captured:
            self.model(inputs)
        if not captured:
            raise ValueError(
                f"Layer {self.layer.name!r} was not called when running model "
                f"{self.model.name!r}, so its output cannot be captured"
            )
        return captured[-1]


@contextlib.contextmanager
def capture_output(layer):
    """Record the outputs of `layer` while the context is active; the layer is restored after.

    Yields the list the outputs are appended to.
    """
    captured: list = []
    had_own_call = "call" in vars(layer)
    original = layer.call

    def recording_call(*args, **kwargs):
        output = original(*args, **kwargs)
        captured.append(output)
        return output

    layer.call = recording_call
    try:
        yield captured
    finally:
        if had_own_call:
            layer.call = original
        else:
            del layer.call


def run_model(model, inputs: tf.Tensor) -> tf.Tensor:
    """Call `model` on a batch, in inference mode where the model accepts `training`."""
    if isinstance(model, keras.Model):
        return model(inputs, training=False)
    return model(inputs)
