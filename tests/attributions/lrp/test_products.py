"""The engine's unmultiplied relevances (`Product`) give the values of multiplying at once.

Oracle: the same explainers built while every rule multiplies its input relevance out
(`x * g` at once, the engine's former path), on models where products cross max pools (with
ties), reshapes, concatenations, padding, up-sampling and skip connections, for LRP composites
and DeepLIFT. Plus: a custom rule that writes its own `relevance` receives tensors.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.attributions.lrp.helpers import data, labels, residual, zoo
from xplique.attributions import LRP, DeepLift, lrp
from xplique.attributions import deep_lift as deep_lift_module
from xplique.attributions.lrp import products
from xplique.attributions.lrp import rules as rules_module
from xplique.attributions.lrp import signed as signed_module

L = keras.layers


class _Multiplied(products.Product):
    """Stands for Product where the oracle multiplies at once."""

    def __new__(cls, factor, gradient, reference=None):
        return products.Product(factor, gradient, reference).value()


@pytest.fixture
def multiplied(monkeypatch):
    """Every rule multiplies its input relevance out at once."""
    for module in (rules_module, signed_module):
        monkeypatch.setattr(module, "_product", lambda x, original, g: x * g)
    monkeypatch.setattr(deep_lift_module, "Product", _Multiplied)


def _pooled_cnn(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = L.Conv2D(3, 3, padding="same", activation="relu", name="c0")(inputs)
    x = L.MaxPooling2D(name="max")(x)
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(x)
    x = L.MaxPooling2D(name="max2")(x)
    x = L.Flatten()(x)
    outputs = L.Dense(3, name="logits")(x)
    return keras.Model(inputs, outputs)


def _tied_inputs():
    """Constant patches: equal positive values inside max-pool windows (ties)."""
    x = data((8, 8, 1), n=4)
    x[:2] = 0.5
    x[2, :4, :4] = 0.25
    return x


CASES = {
    "eplus_pooled_ties": (_pooled_cnn, _tied_inputs,
                          lambda m: LRP(m, lrp.EpsilonPlus(), reducer=None)),
    "gammabox_pooled": (_pooled_cnn, _tied_inputs,
                        lambda m: LRP(m, lrp.EpsilonGammaBox(0.0, 1.0), reducer=None)),
    "eplus_residual": (lambda: residual(bias=True), lambda: data((8, 8, 2)),
                       lambda m: LRP(m, lrp.EpsilonPlus(), reducer=None)),
    # epsilon 0: the ratio at dead ReLUs (relevance 0 over z < 0) must stay 0
    "epsilon0_pooled": (_pooled_cnn, lambda: data((8, 8, 1), low=-1.0),
                        lambda m: LRP(m, lrp.EpsilonRule(0.0), reducer=None)),
    "epsilon_zoo": (zoo, lambda: data((12, 3)), lambda m: LRP(m, lrp.EpsilonRule(0.01),
                                                              reducer=None)),
    "deeplift_pooled_ties": (_pooled_cnn, _tied_inputs,
                             lambda m: DeepLift(m, baseline=0.1, reducer=None)),
    "deeplift_residual": (lambda: residual(bias=True), lambda: data((8, 8, 2)),
                          lambda m: DeepLift(m, reducer=None)),
}


def _explain(case):
    build, inputs, method = CASES[case]
    model = build()
    x = inputs()
    return method(model)(x, labels(len(x))).numpy()


#: Also run by `-m slow` (the default cases already cover each way a product moves).
SLOW = {"gammabox_pooled", "deeplift_residual"}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c
                                  for c in sorted(CASES)])
def test_unmultiplied_relevance_equals_multiplying_at_once(case, request):
    fast = _explain(case)
    request.getfixturevalue("multiplied")
    oracle = _explain(case)
    np.testing.assert_allclose(fast, oracle, rtol=1e-5, atol=1e-6 * np.abs(oracle).max())
    assert np.abs(oracle).max() > 0


def test_a_rule_with_its_own_relevance_receives_tensors():
    seen = []

    class Halving(lrp.Rule):
        def relevance(self, layer, relevance):
            seen.append(type(relevance))
            return [r * 0.5 for r in super().relevance(layer, relevance)]

    model = _pooled_cnn()
    x = data((8, 8, 1), n=2)
    composite = lrp.Composite(by_name={"c1": Halving()})
    halved = LRP(model, composite, reducer=None)(x, labels(2)).numpy()
    plain = LRP(model, reducer=None)(x, labels(2)).numpy()
    assert seen and all(issubclass(t, tf.Tensor) for t in seen)
    np.testing.assert_allclose(halved, 0.5 * plain, rtol=1e-5, atol=1e-7)
