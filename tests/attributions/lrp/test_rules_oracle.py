"""Each LRP rule against a slow float64 numpy implementation of its formula, on small MLPs with
and without bias (Montavon et al. 2019, Bach et al. 2015), and the signed-contribution rules on
convolutions (written out as the dense matrix of the convolution)."""

import keras
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


def _conv2d_matrix(layer):
    """The stride-1 Conv2D `layer` as the matrix and bias of the map between its flattened input
    and output (in the layer's data format), built entry by entry in float64."""
    kernel = layer.kernel.numpy().astype(np.float64)
    kh, kw, cin, cout = kernel.shape
    channels_first = layer.data_format == "channels_first"
    shape = tuple(layer.input.shape[1:])
    height, width = shape[1:] if channels_first else shape[:2]
    if layer.padding == "same":
        top, left, out_h, out_w = (kh - 1) // 2, (kw - 1) // 2, height, width
    else:
        top, left, out_h, out_w = 0, 0, height - kh + 1, width - kw + 1
    matrix = np.zeros((height, width, cin, out_h, out_w, cout))
    for oy in range(out_h):
        for ox in range(out_w):
            for ky in range(kh):
                for kx in range(kw):
                    iy, ix = oy + ky - top, ox + kx - left
                    if 0 <= iy < height and 0 <= ix < width:
                        matrix[iy, ix, :, oy, ox, :] += kernel[ky, kx]
    bias = layer.bias.numpy().astype(np.float64) if layer.use_bias else np.zeros(cout)
    if channels_first:
        matrix = matrix.transpose(2, 0, 1, 5, 3, 4)
        bias = np.repeat(bias, out_h * out_w)
    else:
        bias = np.tile(bias, out_h * out_w)
    return matrix.reshape(height * width * cin, out_h * out_w * cout), bias


def _matrix(layer):
    """The float64 weights and bias of a Dense or Conv2D layer as a map between flat vectors."""
    if isinstance(layer, keras.layers.Conv2D):
        return _conv2d_matrix(layer)
    w = layer.kernel.numpy().astype(np.float64)
    b = layer.bias.numpy().astype(np.float64) if layer.use_bias else np.zeros(w.shape[1])
    return w, b


def oracle(model, x, y, rules):
    """Float64 LRP of a Dense/Conv2D/ReLU model (a Flatten between them): forward, then each
    layer's rule (`rules`, input layer first) backwards."""
    weighted = [layer for layer in model.layers if layer.weights]
    weights = [_matrix(layer) for layer in weighted]
    activations = [x.reshape(len(x), -1).astype(np.float64)]
    for layer, (w, b) in zip(weighted, weights):
        z = activations[-1] @ w + b
        activations.append(np.maximum(z, 0) if layer is not weighted[-1] else z)
    relevance = activations[-1] * np.eye(activations[-1].shape[1])[y]
    for index in range(len(weighted) - 1, -1, -1):
        w, b = weights[index]
        relevance = _dense_rule(rules[index], activations[index], w, b, relevance, index == 0)
    return relevance.reshape(x.shape)


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


def _conv_model(data_format, padding, bias, seed=7):
    """Conv2D (ReLU) -> Flatten -> Dense (ReLU) -> Dense logits on 6x6 images of 3 channels."""
    keras.utils.set_random_seed(seed)
    shape = (3, 6, 6) if data_format == "channels_first" else (6, 6, 3)
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding=padding, data_format=data_format, activation="relu",
                            use_bias=bias, bias_initializer="random_normal", name="dense0")(
        inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5, activation="relu", use_bias=bias,
                           bias_initializer="random_normal", name="dense1")(x)
    outputs = keras.layers.Dense(3, use_bias=bias, bias_initializer="random_normal",
                                 name="dense2")(x)
    return keras.Model(inputs, outputs), shape


#: Convolutions for the signed-contribution rules on inputs of both signs (their fast path: one
#: convolution with the positive and negative parts of the input stacked along the channels).
#: The Dense case is `test_rules_match_numpy_oracle` (ZPlus and AlphaBeta on its first layer).
CONV_MODELS = {
    "channels_last_same_bias": ("channels_last", "same", True),
    "channels_last_valid": ("channels_last", "valid", False),
    "channels_first_valid_bias": ("channels_first", "valid", True),
}


@pytest.mark.parametrize("first", [lrp.ZPlusRule(), lrp.AlphaBetaRule(2.0, 1.0)],
                         ids=["zplus", "alpha2beta1"])
@pytest.mark.parametrize("conv", sorted(CONV_MODELS))
def test_signed_rules_on_convolutions_match_oracle(conv, first):
    model, shape = _conv_model(*CONV_MODELS[conv])
    x, y = data(shape, n=5, low=-1.0, high=1.0), labels(5)
    rules = (first, lrp.EpsilonRule(0.05), lrp.ZeroRule())
    fast = LRP(model, _by_layer(rules), reducer=None)(x, y).numpy()
    slow = oracle(model, x, y, rules)
    assert (x < 0).any() and np.abs(slow).max() > 0
    np.testing.assert_allclose(fast, slow, rtol=2e-3, atol=2e-4 * np.abs(slow).max())


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
