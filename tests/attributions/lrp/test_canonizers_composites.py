"""Batch-norm canonization equals the hand-folded twin; composites assign the rules they say;
unsupported layers and misplaced rules fail with errors naming them."""

import keras
import numpy as np
import pytest

from tests.attributions.lrp.helpers import data, labels
from xplique.attributions import LRP, lrp

L = keras.layers


def _bn_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 2))
    x = L.Conv2D(3, 3, padding="same", name="conv")(inputs)
    x = L.BatchNormalization(name="bn_conv")(x)
    x = L.ReLU()(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False, name="depth")(x)
    x = L.BatchNormalization(name="bn_depth")(x)
    x = L.ReLU()(x)
    x = L.Flatten()(x)
    x = L.Dense(5, name="dense")(x)
    x = L.BatchNormalization(name="bn_dense")(x)
    x = L.ReLU()(x)
    outputs = L.Dense(3, name="logits")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):  # non-trivial statistics
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2.0, gamma.shape), rng.normal(0, 0.3, beta.shape),
                               rng.normal(0, 0.3, mean.shape),
                               rng.uniform(0.5, 2.0, variance.shape)])
    return model


def _hand_folded(model):
    """The twin without batch norms, its weights folded by hand in numpy."""
    inputs = keras.Input((6, 6, 2))
    x = L.ReLU()(L.Conv2D(3, 3, padding="same", name="conv")(inputs))
    x = L.ReLU()(L.DepthwiseConv2D(3, depth_multiplier=2, name="depth")(x))
    x = L.Flatten()(x)
    x = L.ReLU()(L.Dense(5, name="dense")(x))
    outputs = L.Dense(3, name="logits")(x)
    twin = keras.Model(inputs, outputs)
    for name in ("conv", "depth", "dense"):
        layer = model.get_layer(name)
        gamma, beta, mean, variance = model.get_layer(f"bn_{name}").get_weights()
        eps = model.get_layer(f"bn_{name}").epsilon
        scale = gamma / np.sqrt(variance + eps)
        kernel = layer.kernel.numpy()
        bias = layer.bias.numpy() if layer.bias is not None else np.zeros_like(scale)
        if name == "depth":
            kernel = kernel * scale.reshape(kernel.shape[-2:])
        else:
            kernel = kernel * scale
        twin.get_layer(name).set_weights([kernel, (bias - mean) * scale + beta])
    twin.get_layer("logits").set_weights(model.get_layer("logits").get_weights())
    return twin


def test_batch_norm_folding_equals_hand_folded_twin():
    composite = lrp.EpsilonGammaBox(0.0, 1.0)  # ZBox, Gamma and Epsilon on folded layers
    model = _bn_model()
    twin = _hand_folded(model)
    x, y = data((6, 6, 2), n=5), labels(5)
    np.testing.assert_allclose(twin(x).numpy(), model(x, training=False).numpy(), rtol=1e-4,
                               atol=1e-5)
    weights = [w.copy() for w in model.get_weights()]
    folded = LRP(model, composite, reducer=None)(x, y).numpy()
    expected = LRP(twin, composite, reducer=None)(x, y).numpy()
    np.testing.assert_allclose(folded, expected, rtol=1e-3, atol=1e-5 * np.abs(expected).max())
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert [type(layer) for layer in model.layers].count(L.BatchNormalization) == 3


def test_unfoldable_batch_norm_is_refused_by_name():
    inputs = keras.Input((4,))
    x = L.BatchNormalization(name="input_norm")(inputs)
    model = keras.Model(inputs, L.Dense(2)(x))
    with pytest.raises(ValueError, match="input_norm"):
        LRP(model)
    inputs = keras.Input((4,))
    x = L.Dense(3, activation="relu", name="activated")(inputs)
    model = keras.Model(inputs, L.Dense(2)(L.BatchNormalization(name="after_relu")(x)))
    with pytest.raises(ValueError, match="after_relu.*activated"):
        LRP(model)


def test_custom_composite_assigns_the_rules_it_says():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = L.Conv2D(2, 3, activation="relu", name="c1")(inputs)
    x = L.Conv2D(2, 3, activation="relu", name="c2")(x)
    x = L.AveragePooling2D(2, name="pool")(x)
    x = L.Flatten()(x)
    x = L.Dense(4, activation="relu", name="d1")(x)
    model = keras.Model(inputs, L.Dense(3, name="logits")(x))
    composite = lrp.Composite(
        by_type={L.Conv2D: lrp.GammaRule(0.5), L.Dense: lrp.EpsilonRule(0.1),
                 L.AveragePooling2D: lrp.EpsilonRule(0.2)},
        by_name={"logits": lrp.ZeroRule()}, first=lrp.FlatRule(), default=lrp.ZPlusRule())
    expected = {"c1": lrp.FlatRule(), "c2": lrp.GammaRule(0.5), "pool": lrp.EpsilonRule(0.2),
                "d1": lrp.EpsilonRule(0.1), "logits": lrp.ZeroRule()}
    assert lrp.inspect_rules(model, composite) == expected
    assert LRP(model, composite).rules == expected
    assert lrp.inspect_rules(model, composite, output_layer="d1") == {
        k: v for k, v in expected.items() if k != "logits"}
    box = lrp.inspect_rules(model, lrp.EpsilonGammaBox(-1.0, 1.0, epsilon=0.3, gamma=0.1))
    assert box == {"c1": lrp.ZBoxRule(-1.0, 1.0), "c2": lrp.GammaRule(0.1),
                   "pool": lrp.ZeroRule(), "d1": lrp.EpsilonRule(0.3),
                   "logits": lrp.EpsilonRule(0.3)}
    assert lrp.inspect_rules(model, lrp.EpsilonAlpha2Beta1Flat())["c1"] == lrp.FlatRule()
    assert lrp.inspect_rules(model, lrp.EpsilonPlus())["c2"] == lrp.ZPlusRule()
    assert set(lrp.inspect_rules(model, lrp.WSquareRule()).values()) == {
        lrp.WSquareRule(), lrp.ZeroRule()}  # weight-free pool keeps the proportional split


class _DoubleEpsilon(lrp.Rule):
    """A custom rule by its denominator only."""

    def modify_denominator(self, z):
        return lrp.EpsilonRule(0.2).modify_denominator(z)


class _HandGamma(lrp.Rule):
    """GammaRule(1.0) rewritten by weights."""

    needs_weights = True

    def modify_kernel(self, kernel):
        return kernel + keras.ops.relu(kernel)

    def modify_bias(self, bias):
        return bias + keras.ops.relu(bias)


def test_custom_rules_by_subclassing_the_base():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)), L.Dense(4, activation="relu"), L.Dense(3)])
    x, y = data((5,), n=4), labels(4)
    np.testing.assert_allclose(LRP(model, _DoubleEpsilon())(x, y),
                               LRP(model, lrp.EpsilonRule(0.2))(x, y), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(LRP(model, _HandGamma())(x, y),
                               LRP(model, lrp.GammaRule(1.0))(x, y), rtol=1e-5, atol=1e-7)


def test_errors_name_the_layer_and_the_parameter():
    inputs = keras.Input((6,))
    x = L.LayerNormalization(name="norm")(L.Dense(4)(inputs))
    with pytest.raises(ValueError, match="'norm'.*LayerNormalization"):
        LRP(keras.Model(inputs, L.Dense(2)(x)))
    pooled = keras.Sequential([keras.Input((4, 4, 1)), L.AveragePooling2D(2, name="pool"),
                               L.Flatten(), L.Dense(2)])
    with pytest.raises(ValueError, match="pool"):
        LRP(pooled, lrp.Composite(by_name={"pool": lrp.GammaRule()}))
    with pytest.raises(ValueError, match="PassRule"):
        LRP(pooled, lrp.Composite(by_type={L.Dense: lrp.PassRule()}))
    with pytest.raises(TypeError, match="composite"):
        LRP(pooled, "epsilon")
    with pytest.raises(TypeError, match="by_type"):
        lrp.Composite(by_type={"Dense": lrp.ZeroRule()})
    with pytest.raises(ValueError, match="epsilon"):
        lrp.EpsilonRule(-1.0)
    with pytest.raises(ValueError, match="alpha - beta = 1"):
        lrp.AlphaBetaRule(2.0, 2.0)

    class Subclassed(keras.Model):
        def call(self, inputs):
            return inputs * 2.0

    with pytest.raises(ValueError, match="Sequential or functional"):
        LRP(Subclassed())
