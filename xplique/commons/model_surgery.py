"""Model surgery: find layers and build models that stop at a layer.

Nothing here changes the user's model. Functional and Sequential models are truncated by
building a new `keras.Model` over the same layers. Subclassed models cannot be rebuilt, so their
layer output is captured while the model runs, by wrapping that layer's `call` for the duration
of the run (undone afterwards, even on error).

Layer-level methods build on three more tools: :func:`split_at` (a layer's feature maps and the
scored output in one pass) with :func:`layer_output_and_gradient`; :func:`find_conv_layer`;
and :func:`rewire`, which swaps activations (the ReLU gradient policies of
:mod:`xplique.commons.relu_policies`, probes) on a clone made by :func:`clone_graph_model` or,
for subclassed models, only while a call runs.
"""

import contextlib
import functools
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


# --- Feature maps and their gradients ------------------------------------------------------

#: Layer types whose 4-D outputs are convolutional feature maps.
CONV_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.Conv2DTranspose,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
)


def _output_rank(layer):
    """Rank of `layer`'s output (batch included) when the graph knows it, else None."""
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError, TypeError):
        return None


def find_conv_layer(model, conv_layer: LayerRef = None):
    """Return the feature-map layer of `model`: `conv_layer` (name, index or layer), or by
    default the last convolution with a 4-D output `(N, h, w, K)`.

    A nested Keras model with a 4-D output (a convolutional backbone used as one layer) counts
    as a convolution. For subclassed models the layer order is the order of attribute
    creation, which is usually, but not necessarily, the order of the forward pass.
    """
    if conv_layer is not None:
        layer = find_layer(model, conv_layer)
        rank = _output_rank(layer)
        if rank is not None and rank != 4:
            raise ValueError(
                f"`conv_layer` must output 4-D feature maps (N, h, w, K). Received: layer "
                f"{layer.name!r} with an output of rank {rank}"
            )
        return layer
    for layer in reversed(_layers(model)):
        rank = _output_rank(layer)
        is_conv = isinstance(layer, CONV_LAYERS) or (
            isinstance(layer, keras.Model) and rank is not None
        )
        if is_conv and rank in (4, None):
            return layer
    raise ValueError(
        f"Model {getattr(model, 'name', model)!r} has no convolutional layer with 4-D outputs; "
        "pass `conv_layer` (name or index) to choose the feature maps"
    )


def split_at(model, layer: LayerRef, output_layer: LayerRef = None) -> Callable:
    """Return `f(inputs) -> (layer_output, scored_output)` computed in one forward pass.

    `scored_output` is the output of `output_layer` (the model's output when None). Graph
    models become one two-output `keras.Model` over the same layers; subclassed models run
    whole while both outputs are captured.
    """
    target = find_layer(model, layer)
    scored = None if output_layer is None else find_layer(model, output_layer)
    if is_graph_model(model):
        try:
            final = model.outputs[0] if len(model.outputs) == 1 else model.outputs
            outputs = [target.output, final if scored is None else scored.output]
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"Layer {target.name!r} is used more than once or not connected in model "
                f"{model.name!r}, so its output is ambiguous"
            ) from error
        return keras.Model(model.inputs, outputs, name=f"{model.name}_split_{target.name}")
    return _CapturedSplit(model, target, scored)


class _CapturedSplit:
    """Runs a subclassed model and returns (one layer's output, the scored output)."""

    def __init__(self, model, layer, scored_layer):
        self.model = model
        self.layer = layer
        self.scored_layer = scored_layer

    def __call__(self, inputs, training=False):
        with contextlib.ExitStack() as stack:
            captured = stack.enter_context(capture_output(self.layer))
            scored = None
            if self.scored_layer is not None:
                scored = stack.enter_context(capture_output(self.scored_layer))
            outputs = run_model(self.model, inputs)
        for layer, values in ((self.layer, captured), (self.scored_layer, scored)):
            if values is not None and not values:
                raise ValueError(
                    f"Layer {layer.name!r} was not called when running model "
                    f"{self.model.name!r}, so its output cannot be captured"
                )
        return captured[-1], outputs if scored is None else scored[-1]


def layer_output_and_gradient(split: Callable, operator: Callable, inputs, targets):
    """Feature maps `A` of a split model and the gradient of the operator scores w.r.t. `A`.

    Parameters
    ----------
    split
        A model from :func:`split_at`, returning `(A, scored_output)`.
    operator
        Score function `g(model, inputs, targets) -> (N,)`; the gradient is taken through the
        first model call it makes.

    Returns
    -------
    `(A, dg/dA)`, both shaped like the layer output.
    """
    activations: list = []

    def scored_model(batch):
        layer_output, scored = run_model(split, batch)
        activations.append(layer_output)
        return scored

    with tf.GradientTape() as tape:
        tape.watch(inputs)
        total = tf.reduce_sum(operator(scored_model, inputs, targets))
    if not activations:
        raise ValueError("`operator` never called the model, so no feature map was computed")
    gradients = tape.gradient(
        total, activations[0], unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return activations[0], gradients


# --- Rewiring activations: ReLU gradient policies, probes -----------------------------------


def clone_graph_model(model) -> keras.Model:
    """An independent copy of a Sequential or functional model (same names, same weights)."""
    if not is_graph_model(model):
        raise TypeError(
            "Only Sequential and functional Keras models can be cloned. Received: "
            f"{type(model).__name__}"
        )
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def all_layers(model) -> List:
    """Every layer of `model`, those of nested models included."""
    layers = _layers(model)  # raises the clear error for models without Keras layers
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is None:
        return layers
    return list(flatten(include_self=False, recursive=True))


def rewire(sites, replacement: Callable) -> Callable[[], None]:
    """Replace the activation at each `(layer, slot)` site by `replacement(layer, original)`
    (a function of one tensor) and return the function that restores them all.

    `slot` is "activation" (the layer's `activation` attribute) or "call" (the whole call of
    an activation layer, whose original is then its bound `call`).
    """
    undo = []

    def restore():
        while undo:
            undo.pop()()

    try:
        for layer, slot in sites:
            if slot == "activation":
                original = layer.activation
                layer.activation = replacement(layer, original)
                undo.append(functools.partial(setattr, layer, "activation", original))
            else:
                had_own_call = "call" in vars(layer)
                original = layer.call
                function = replacement(layer, original)
                layer.call = functools.partial(_activation_call, function)
                undo.append(
                    functools.partial(setattr, layer, "call", original)
                    if had_own_call
                    else functools.partial(delattr, layer, "call")
                )
    except BaseException:
        restore()
        raise
    return restore


def _activation_call(function, inputs, *args, **kwargs):
    return function(inputs)


@contextlib.contextmanager
def rewired(sites, replacement: Callable):
    """Context manager form of :func:`rewire`: the sites are restored on exit, even on error."""
    restore = rewire(sites, replacement)
    try:
        yield
    finally:
        restore()


def portable_layer_ref(model, layer: LayerRef) -> LayerRef:
    """`layer` as a name or index valid in clones of `model` (a layer object becomes its
    index in `model.layers`); None, names and indices are returned unchanged."""
    if isinstance(layer, keras.layers.Layer):
        layers = _layers(model)
        for index, candidate in enumerate(layers):
            if candidate is layer:
                return index
        raise ValueError(f"Layer {layer.name!r} is not a layer of model {model.name!r}")
    return layer
