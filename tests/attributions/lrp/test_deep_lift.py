"""DeepLIFT (Rescale): summation-to-delta, a float64 multiplier oracle, linear models."""

import keras
import numpy as np
import pytest

from tests.attributions.lrp.helpers import data, labels, mlp, residual, target_logits
from xplique.attributions import DeepLift

L = keras.layers


def _rich_model(seed=0):
    """Biases, tanh and sigmoid, max pooling, Add and a folded batch norm."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 2))
    x = L.Conv2D(4, 3, padding="same", activation="tanh", name="c1")(inputs)
    y = L.Conv2D(4, 3, padding="same", name="c2")(x)
    y = L.Activation("sigmoid")(L.BatchNormalization()(y))
    x = L.MaxPooling2D()(L.Add()([x, y]))
    x = L.Dense(6, activation="relu")(L.Flatten()(x))
    return keras.Model(inputs, L.Dense(3)(x))


@pytest.mark.parametrize("baseline", [0.0, 0.5, "array"])
def test_summation_to_delta(baseline):
    model = _rich_model()
    if isinstance(baseline, str):
        baseline = np.random.default_rng(3).uniform(0, 1, (8, 8, 2)).astype("float32")
    x, y = data((8, 8, 2), n=5), labels(5)
    contributions = DeepLift(model, baseline, batch_size=2)(x, y).numpy()
    reference = np.broadcast_to(np.asarray(baseline, "float32"), (1, 8, 8, 2))
    delta = target_logits(model, x, y) - model(reference).numpy()[0, y]
    np.testing.assert_allclose(contributions.reshape(5, -1).sum(1), delta, rtol=1e-3, atol=1e-4)


def _oracle(model, x, y, baseline):
    """Float64 DeepLIFT on a Dense/tanh MLP with multipliers: linear layers transpose, the
    nonlinearity multiplies by (y - y0) / (z - z0); contributions = (x - x0) * m."""
    dense = [layer for layer in model.layers if layer.weights]
    params = [(d.kernel.numpy().astype(float), d.bias.numpy().astype(float)) for d in dense]

    def forward(v):
        pre = []
        for i, (w, b) in enumerate(params):
            z = v @ w + b
            pre.append(z)
            v = np.tanh(z) if i < len(params) - 1 else z
        return pre

    pre, pre0 = forward(x.astype(float)), forward(np.full((1, x.shape[1]), baseline))
    multiplier = np.eye(params[-1][0].shape[1])[y]
    for i in range(len(params) - 1, -1, -1):
        if i < len(params) - 1:
            dz = pre[i] - pre0[i]
            multiplier = multiplier * (np.tanh(pre[i]) - np.tanh(pre0[i])) / dz
        multiplier = multiplier @ params[i][0].T
    return (x - baseline) * multiplier


def test_matches_multiplier_oracle_on_tanh_mlp():
    model = mlp(bias=True, activation="tanh", seed=2)
    x, y = data((7,), n=6, low=-1.0, high=1.0), labels()
    fast = DeepLift(model, baseline=0.2)(x, y).numpy()
    np.testing.assert_allclose(fast, _oracle(model, x, y, 0.2), rtol=1e-3, atol=1e-5)


def test_linear_model_gives_weight_times_difference_and_relu_net_gives_gradient_input():
    keras.utils.set_random_seed(0)
    linear = keras.Sequential([keras.Input((4,)), L.Dense(3)])
    x, y = data((4,), n=3), labels(3)
    w = linear.layers[0].kernel.numpy()
    np.testing.assert_allclose(DeepLift(linear, baseline=0.3)(x, y).numpy(),
                               (x - 0.3) * w[:, y].T, rtol=1e-4, atol=1e-6)


def test_traces_once_and_checks_the_baseline():
    model = residual()
    explainer = DeepLift(model, batch_size=3)
    explainer(data((8, 8, 2), n=2), labels(2))
    for n in (4, 7):
        explainer(data((8, 8, 2), n=n, seed=n), labels(n, seed=n))
    assert explainer.tracing_count == 1
    with pytest.raises(ValueError, match="baseline"):
        DeepLift(model, baseline=np.zeros((3, 3)))(data((8, 8, 2), n=2), labels(2))
    with pytest.raises(TypeError, match="baseline"):
        DeepLift(model, baseline="zeros")
