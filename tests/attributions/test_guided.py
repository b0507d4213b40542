"""GuidedBackprop and DeconvNet: hand-computed gradients, the user's model left untouched."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique.attributions import DeconvNet, GuidedBackprop
from xplique.commons.relu_policies import relu_sites


def _dense_relu_network():
    """x(4) -> Dense(6, relu) -> Dense(5) -> ReLU() -> Dense(4) -> Activation(relu) -> Dense(3):
    the three ways of writing a ReLU, with known weights."""
    rng = np.random.default_rng(0)
    sizes = [4, 6, 5, 4, 3]
    weights = [(rng.normal(size=(a, b)), rng.normal(size=b) * 0.5)
               for a, b in zip(sizes, sizes[1:])]
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(6, activation="relu"),
        keras.layers.Dense(5),
        keras.layers.ReLU(),
        keras.layers.Dense(4),
        keras.layers.Activation("relu"),
        keras.layers.Dense(3, name="logits"),
    ])
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    for layer, (kernel, bias) in zip(dense, weights):
        layer.set_weights([kernel.astype("float32"), bias.astype("float32")])
    return model, weights


def _hand_gradients(weights, x, target, rule):
    """Backpropagate e_target through the network in float64 with a ReLU `rule`."""
    pre_activations, h = [], x
    for kernel, bias in weights[:-1]:
        z = h @ kernel + bias
        pre_activations.append(z)
        h = np.maximum(z, 0)
    upstream = np.eye(weights[-1][0].shape[1])[target] @ weights[-1][0].T
    for (kernel, _), z in zip(reversed(weights[:-1]), reversed(pre_activations)):
        if rule == "plain":
            upstream = upstream * (z > 0)
        elif rule == "guided":
            upstream = upstream * (z > 0) * (upstream > 0)
        else:  # deconv
            upstream = np.maximum(upstream, 0)
        upstream = upstream @ kernel.T
    return upstream


@pytest.mark.parametrize("cls, rule", [(GuidedBackprop, "guided"), (DeconvNet, "deconv")])
def test_gradients_match_hand_computation(cls, rule):
    model, weights = _dense_relu_network()
    x = np.random.default_rng(1).normal(size=(6, 4)).astype("float32")
    targets = np.array([0, 1, 2, 0, 1, 2])
    explanations = cls(model, batch_size=4)(x, targets).numpy()
    expected = np.stack([
        _hand_gradients(weights, x[i].astype("float64"), targets[i], rule) for i in range(6)
    ])
    np.testing.assert_allclose(explanations, expected, rtol=1e-4, atol=1e-5)
    plain = np.stack([
        _hand_gradients(weights, x[i].astype("float64"), targets[i], "plain") for i in range(6)
    ])
    assert not np.allclose(explanations, plain, atol=1e-3), "the rule must change the gradient"


@pytest.mark.parametrize("cls", [GuidedBackprop, DeconvNet])
def test_user_model_is_untouched(cls):
    model, weights = _dense_relu_network()
    x = np.random.default_rng(2).normal(size=(5, 4)).astype("float32")
    before_weights = [w.copy() for w in model.get_weights()]
    before_outputs = model(x).numpy()
    sites = relu_sites(model)
    cls(model)(x, np.array([0, 1, 2, 0, 1]))
    assert all(np.array_equal(a, b) for a, b in zip(before_weights, model.get_weights()))
    np.testing.assert_array_equal(model(x).numpy(), before_outputs)
    assert relu_sites(model) == sites
    for layer, slot in sites:
        if slot == "activation":
            assert layer.activation is keras.activations.relu
        else:
            assert "call" not in vars(layer)
    # The original still backpropagates through ordinary ReLUs.
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        score = tf.reduce_sum(model(inputs)[:, 1])
    plain = np.stack([_hand_gradients(weights, row.astype("float64"), 1, "plain") for row in x])
    np.testing.assert_allclose(tape.gradient(score, inputs).numpy(), plain, rtol=1e-4, atol=1e-5)


def test_output_layer_scores_the_logits():
    model, weights = _dense_relu_network()
    functional = keras.Model(model.inputs, keras.layers.Softmax()(model.outputs[0]))
    x = np.random.default_rng(3).normal(size=(4, 4)).astype("float32")
    targets = np.array([0, 1, 2, 1])
    on_logits = GuidedBackprop(functional, output_layer="logits")(x, targets).numpy()
    expected = np.stack([_hand_gradients(weights, x[i].astype("float64"), targets[i], "guided")
                         for i in range(4)])
    np.testing.assert_allclose(on_logits, expected, rtol=1e-4, atol=1e-5)
    on_probabilities = GuidedBackprop(functional)(x, targets).numpy()
    assert not np.allclose(on_logits, on_probabilities, atol=1e-3)


def test_output_layer_given_as_a_layer_object():
    model, _ = _dense_relu_network()
    x = np.random.default_rng(4).normal(size=(3, 4)).astype("float32")
    by_object = GuidedBackprop(model, output_layer=model.layers[-2])(x, [0, 1, 0]).numpy()
    by_index = GuidedBackprop(model, output_layer=len(model.layers) - 2)(x, [0, 1, 0]).numpy()
    np.testing.assert_array_equal(by_object, by_index)


class _Subclassed(keras.Model):
    def __init__(self, layers):
        super().__init__(name="subclassed")
        self.stack = layers

    def call(self, inputs):
        for layer in self.stack:
            inputs = layer(inputs)
        return inputs


@pytest.mark.parametrize("cls", [GuidedBackprop, DeconvNet])
def test_subclassed_models_are_rewired_then_restored(cls):
    model, _ = _dense_relu_network()
    subclassed = _Subclassed(model.layers)
    x = np.random.default_rng(5).normal(size=(4, 4)).astype("float32")
    targets = np.array([2, 1, 0, 2])
    np.testing.assert_allclose(
        cls(subclassed)(x, targets).numpy(), cls(model)(x, targets).numpy(), atol=1e-6
    )
    assert all(
        layer.activation is keras.activations.relu if slot == "activation"
        else "call" not in vars(layer)
        for layer, slot in relu_sites(subclassed)
    )


def test_models_without_layers_are_refused():
    with pytest.raises(TypeError, match="model"):
        GuidedBackprop(lambda x: x)


class _Scale(keras.layers.Layer):
    """A custom layer whose config cannot rebuild it (no `get_config` for `factor`)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor


def test_graph_models_that_cannot_be_cloned_are_rewired_while_running():
    model, weights = _dense_relu_network()
    inputs = keras.Input((4,))
    outputs = model(_Scale(1.0)(inputs))
    wrapped = keras.Model(inputs, outputs)
    x = np.random.default_rng(6).normal(size=(3, 4)).astype("float32")
    targets = np.array([0, 2, 1])
    expected = np.stack([_hand_gradients(weights, x[i].astype("float64"), targets[i], "guided")
                         for i in range(3)])
    np.testing.assert_allclose(GuidedBackprop(wrapped)(x, targets).numpy(), expected,
                               rtol=1e-4, atol=1e-5)
    assert all(layer.activation is keras.activations.relu
               for layer, slot in relu_sites(wrapped) if slot == "activation")
