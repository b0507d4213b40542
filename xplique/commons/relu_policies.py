"""ReLU gradient policies: guided backpropagation and DeconvNet rules on a model's ReLUs.

:func:`relu_gradient_policy` returns a model computing what the user's model computes, whose
plain ReLUs (`activation="relu"` in layers, `Activation("relu")` and `ReLU()` layers) use a
`tf.custom_gradient` rule in the backward pass. Graph models are cloned (same weights);
subclassed models are rewired only while they run (:func:`xplique.commons.model_surgery.rewire`).
The user's model is never changed.
"""

from typing import List

import keras
import tensorflow as tf

from xplique.commons.model_surgery import (
    all_layers,
    clone_graph_model,
    is_graph_model,
    rewire,
    rewired,
)


def _is_plain_relu(function) -> bool:
    return getattr(function, "__name__", None) == "relu"


def relu_sites(model) -> List:
    """`(layer, slot)` pairs where `model` applies a plain ReLU: `slot` is "activation" for
    layers holding a relu activation (`activation="relu"`, `Activation("relu")`) and "call"
    for standalone `ReLU()` layers (those with no max value, slope or threshold)."""
    sites = []
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.ReLU):
            if layer.max_value is None and not layer.negative_slope and not layer.threshold:
                sites.append((layer, "call"))
        elif _is_plain_relu(getattr(layer, "activation", None)):
            sites.append((layer, "activation"))
    return sites


@tf.custom_gradient
def guided_relu(x):
    """ReLU whose gradient passes only where the input and the incoming gradient are positive
    (Springenberg et al., 2014)."""

    def gradient(upstream):
        keep = tf.logical_and(x > 0, upstream > 0)
        return upstream * tf.cast(keep, upstream.dtype)

    return tf.nn.relu(x), gradient


@tf.custom_gradient
def deconv_relu(x):
    """ReLU whose gradient is the ReLU of the incoming gradient, whatever the input
    (Zeiler and Fergus, 2014)."""

    def gradient(upstream):
        return tf.nn.relu(upstream)

    return tf.nn.relu(x), gradient


RELU_POLICIES = {"guided": guided_relu, "deconv": deconv_relu}


def relu_gradient_policy(model, policy: str):
    """A model computing what `model` computes, whose ReLUs backpropagate by `policy`
    ("guided" or "deconv"). The user's model is never changed.

    Sequential and functional models are cloned (same weights) and the clone's ReLUs rewired.
    Subclassed Keras models (and graph models holding a layer that cannot be rebuilt from its
    config) cannot be cloned: the returned wrapper rewires their ReLU layers only while it
    runs (undone after each call; compiled kernels keep the rewired graph they traced).
    ReLUs applied outside layers (`tf.nn.relu` inside a custom `call`) are not seen.
    """
    if policy not in RELU_POLICIES:
        raise ValueError(f"`policy` must be one of {sorted(RELU_POLICIES)}. Received: {policy!r}")
    function = RELU_POLICIES[policy]
    if is_graph_model(model):
        try:
            copy = clone_graph_model(model)
        except (TypeError, ValueError, NotImplementedError):
            copy = None  # e.g. a custom layer that cannot be rebuilt from its config
        if copy is not None:
            rewire(relu_sites(copy), lambda layer, original: function)  # our copy: never undone
            return copy
    if isinstance(model, keras.Model):
        return _RewiredModel(model, relu_sites(model), lambda layer, original: function)
    raise TypeError(
        f"`model` must be a Keras model whose ReLUs are layers (the {policy} ReLU policy "
        f"rewires them). Received: {type(model).__name__}"
    )


class _RewiredModel:
    """Runs a subclassed Keras model with some activations rewired for the call's duration."""

    def __init__(self, model, sites, replacement):
        self.model = model
        self.sites = sites
        self.replacement = replacement

    @property
    def layers(self):
        return self.model.layers

    @property
    def name(self):
        return self.model.name

    def __call__(self, inputs, training=False):
        with rewired(self.sites, self.replacement):
            return self.model(inputs, training=training)
