"""Each LRP rule against a slow float64 numpy implementation of its formula, on small MLPs with
and without bias (Montavon et al. 2019, Bach et al. 2015)."""

import numpy as np
import pytest

from tests.attributions.lrp.helpers import data, labels, mlp
from xplique.attributions import LRP, lrp


def _stab(z, eps):
    return np.where(z >= 0, z + eps, z - eps)


def _dense_rule(rule, a, w, b, relevance, first):
    """R_in[n, i] = sum_j numerator[n, i, j] / denominator[n, j] * R[n, j], written out."""
    eps = 1e-9
    aw = a[:, :, None] * w[None]
    if isinstance(rule, (lrp.ZeroRule, lrp.EpsilonRule)):
        numerator, denominator = aw, aw.sum(1) + b
        eps = rule.epsilon if isinstance(rule, lrp.EpsilonRule) else eps
    elif isinstance(rule, lrp.GammaRule):
        numerator = a[:, :, None] * (w + rule.gamma * np.maximum(w, 0))[None]
        denominator = numerator.sum(1) + b + rule.gamma * np.maximum(b, 0)
    elif isinstance(rule, lrp.WSquareRule):
        numerator = np.broadcast_to(w[None] ** 2, aw.shape)
        denominator = numerator.sum(1)
    elif isinstance(rule, lrp.FlatRule):
        numerator = np.ones_like(aw)
        denominator = numerator.sum(1)
    elif isinstance(rule, lrp.ZBoxRule):
        low, high = (np.reshape(bound, (1, -1, 1)) for bound in (rule.low, rule.high))
        numerator = aw - low * np.maximum(w, 0)[None] - high * np.minimum(w, 0)[None]
        denominator = numerator.sum(1)
    else:  # AlphaBeta / ZPlus
        alpha, beta = (1.0, 0.0) if isinstance(rule, lrp.ZPlusRule) else (rule.alpha, rule.beta)
        pos, neg = np.maximum(aw, 0), np.minimum(aw, 0)
        zp = pos.sum(1) + np.maximum(b, 0)
        zn = neg.sum(1) + np.minimum(b, 0)
        return (alpha * (pos * (relevance / _stab(zp, eps))[:, None, :]).sum(2)
                - beta * (neg * (relevance / _stab(zn, eps))[:, None, :]).sum(2))
    return (numerator * (relevance / _stab(denominator, eps))[:, None, :]).sum(2)


def oracle(model, x, y, rules):
    """Float64 LRP of a Dense/ReLU model: forward, then each layer's rule (`rules`, input
    layer first) backwards."""
    dense = [layer for layer in model.layers if layer.weights]
    activations = [x.astype(np.float64)]
    for layer in dense:
        w = layer.kernel.numpy().astype(np.float64)
        b = layer.bias.numpy().astype(np.float64) if layer.use_bias else np.zeros(w.shape[1])
        z = activations[-1] @ w + b
        activations.append(np.maximum(z, 0) if layer is not dense[-1] else z)
    relevance = activations[-1] * np.eye(activations[-1].shape[1])[y]
    for index in range(len(dense) - 1, -1, -1):
        layer = dense[index]
        w = layer.kernel.numpy().astype(np.float64)
        b = layer.bias.numpy().astype(np.float64) if layer.use_bias else np.zeros(w.shape[1])
        relevance = _dense_rule(rules[index], activations[index], w, b, relevance, index == 0)
    return relevance


def _by_layer(rules):
    return lrp.Composite(by_name={f"dense{i}": rule for i, rule in enumerate(rules)})


#: Every rule at least once on the first layer (inputs of both signs) and once on a hidden one
#: (ReLU inputs), one explainer per row.
RULES_BY_LAYER = [
    (lrp.AlphaBetaRule(2.0, 1.0), lrp.ZeroRule(), lrp.GammaRule(0.25)),
    (lrp.ZPlusRule(), lrp.WSquareRule(), lrp.EpsilonRule(0.05)),
    (lrp.ZBoxRule(-1.0, 1.0), lrp.GammaRule(2.0), lrp.AlphaBetaRule(1.5, 0.5)),
    (lrp.FlatRule(), lrp.ZPlusRule(), lrp.EpsilonRule(1e-6)),
    (lrp.WSquareRule(), lrp.AlphaBetaRule(2.0, 1.0), lrp.ZeroRule()),
    (lrp.GammaRule(0.25), lrp.FlatRule(), lrp.ZBoxRule(-1.0, 1.0)),
    (lrp.EpsilonRule(0.05), lrp.EpsilonRule(0.05), lrp.ZPlusRule()),
]


@pytest.mark.parametrize("bias", [False, True], ids=["no_bias", "bias"])
@pytest.mark.parametrize("rules", RULES_BY_LAYER,
                         ids=lambda rules: "-".join(type(r).__name__ for r in rules))
def test_rules_match_numpy_oracle(rules, bias):
    model = mlp(bias=bias, seed=3)
    x, y = data((7,), n=8, low=-1.0, high=1.0), labels(8)
    fast = LRP(model, _by_layer(rules), batch_size=3)(x, y).numpy()
    slow = oracle(model, x, y, rules)
    scale = np.abs(slow).max()
    np.testing.assert_allclose(fast, slow, rtol=2e-3, atol=2e-4 * scale)


def test_one_rule_everywhere_matches_oracle():
    model = mlp(bias=True, seed=4)
    x, y = data((7,), n=5, low=-1.0, high=1.0), labels(5)
    rule = lrp.EpsilonRule(0.01)
    slow = oracle(model, x, y, [rule] * 3)
    np.testing.assert_allclose(LRP(model, rule)(x, y).numpy(), slow, rtol=2e-3,
                               atol=2e-4 * np.abs(slow).max())


def test_zbox_bounds_per_feature_match_oracle():
    model = mlp(bias=False, seed=5)
    low = np.linspace(-1.0, -0.5, 7)
    high = np.linspace(0.5, 1.0, 7)
    x, y = data((7,), n=4, low=-0.5, high=0.5), labels(4)
    rule = lrp.ZBoxRule(low, high)
    fast = LRP(model, lrp.Composite(default=lrp.ZeroRule(), first=rule))(x, y).numpy()
    slow = oracle(model, x, y, [rule, lrp.ZeroRule(), lrp.ZeroRule()])
    np.testing.assert_allclose(fast, slow, rtol=2e-3, atol=2e-4 * np.abs(slow).max())


def test_gamma_tends_to_zplus():
    model = mlp(bias=False, seed=6)
    x, y = data((7,), n=4), labels(4)
    zplus = LRP(model, lrp.ZPlusRule())(x, y).numpy()
    np.testing.assert_allclose(zplus, oracle(model, x, y, [lrp.AlphaBetaRule(1.0, 0.0)] * 3),
                               rtol=2e-3, atol=1e-5)
    big_gamma = LRP(model, lrp.GammaRule(1e4))(x, y).numpy()
    np.testing.assert_allclose(big_gamma, zplus, rtol=1e-2, atol=1e-3 * np.abs(zplus).max())


def test_pass_rule_hands_relevance_through():
    import keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="square"),
                              keras.layers.Dense(3, use_bias=False, name="out")])
    x, y = data((4,), n=3), labels(3)
    composite = lrp.Composite(by_name={"square": lrp.PassRule()}, default=lrp.ZeroRule())
    hidden = model.get_layer("square")(x).numpy()
    w = model.get_layer("out").kernel.numpy()
    expected = hidden * w[:, y].T  # ZeroRule on the bias-free last layer, then passed through
    np.testing.assert_allclose(LRP(model, composite)(x, y).numpy(), expected, rtol=1e-4,
                               atol=1e-6)
