"""Identities LRP must satisfy: ZeroRule = Gradient x Input on bias-free ReLU networks, and
conservation (the input relevance sums to the explained score) wherever the rules guarantee it.
"""

import keras
import numpy as np
import pytest

from tests.attributions.lrp.helpers import (
    cnn,
    data,
    labels,
    mlp,
    residual,
    target_logits,
    volumes,
    zoo,
)
from xplique.attributions import LRP, GradientInput, lrp

MODELS = {
    "mlp": (lambda: mlp(bias=False), (7,)),
    "cnn_max_avg_pool": (cnn, (8, 8, 2)),
    "residual_add_concat_depthwise": (residual, (8, 8, 2)),
    "conv1d_causal_padding_upsampling": (zoo, (12, 3)),
    "conv3d": (volumes, (4, 4, 4, 1)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zero_rule_equals_gradient_input_on_bias_free_relu_networks(name):
    build, shape = MODELS[name]
    model = build()
    x, y = data(shape), labels()
    relevance = LRP(model, reducer=None, batch_size=4)(x, y).numpy()
    gradient_input = GradientInput(model, reducer=None)(x, y).numpy()
    np.testing.assert_allclose(relevance, gradient_input, rtol=1e-4,
                               atol=1e-5 * np.abs(gradient_input).max())


CONSERVATIVE = [
    lrp.ZeroRule(),
    lrp.EpsilonRule(1e-9),
    lrp.FlatRule(),
    lrp.WSquareRule(),
    lrp.ZPlusRule(),
    lrp.AlphaBetaRule(2.0, 1.0),
    lrp.EpsilonPlusFlat(1e-9),
    lrp.EpsilonGammaBox(0.0, 1.0, epsilon=1e-9),
]


@pytest.mark.parametrize("composite", CONSERVATIVE, ids=repr)
def test_conservation_on_bias_free_cnn(composite):
    """Rules that ignore the inputs (Flat, WSquare) give relevance to neurons at zero, which an
    average pool over zeros cannot split: the model averages only where they do not apply.
    ZPlus and AlphaBeta conserve where every relevant neuron has positive (and negative)
    contributions: the top class is explained (a positive logit)."""
    inputs_ignored = isinstance(composite, (lrp.FlatRule, lrp.WSquareRule))
    model = cnn(bias=False, seed=2, average=not inputs_ignored)
    x = data((8, 8, 2), n=4)
    y = np.argmax(model(x).numpy(), axis=1)
    assert np.all(target_logits(model, x, y) > 0)
    relevance = LRP(model, composite)(x, y).numpy()
    np.testing.assert_allclose(relevance.reshape(len(x), -1).sum(1), target_logits(model, x, y),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("composite", [lrp.ZeroRule(),
                                       lrp.EpsilonGammaBox(0.0, 1.0, epsilon=1e-9)], ids=repr)
def test_conservation_through_skip_connections(composite):
    """Add splits in proportion, Concatenate and fan-out sum: nothing is lost in a DAG."""
    model = residual(bias=False, seed=1)
    x = data((8, 8, 2), n=4)
    y = np.argmax(model(x).numpy(), axis=1)
    relevance = LRP(model, composite)(x, y).numpy()
    np.testing.assert_allclose(relevance.reshape(len(x), -1).sum(1), target_logits(model, x, y),
                               rtol=1e-4, atol=1e-5)


def test_epsilon_absorbs_relevance_and_bias_takes_its_share():
    model = mlp(bias=False, seed=0)
    x, y = data((7,), n=6), labels()
    score = target_logits(model, x, y)
    kept = [np.abs(LRP(model, lrp.EpsilonRule(e))(x, y).numpy().sum(1)).sum() for e in
            (1e-9, 0.1, 1.0, 10.0)]
    assert np.allclose(kept[0], np.abs(score).sum(), rtol=1e-4)
    assert all(a > b for a, b in zip(kept, kept[1:])), kept


def test_output_layer_explains_the_logits_of_a_softmax_model():
    base = mlp(bias=True, seed=1)
    probabilities = keras.layers.Softmax(name="probs")(base.output)
    model = keras.Model(base.input, probabilities)
    x, y = data((7,), n=4), labels(4)
    np.testing.assert_allclose(LRP(model, lrp.EpsilonRule(0.01), output_layer="dense2")(x, y),
                               LRP(base, lrp.EpsilonRule(0.01))(x, y), rtol=1e-5, atol=1e-6)


def test_one_trace_for_any_number_of_inputs():
    model = residual()
    explainer = LRP(model, lrp.EpsilonGammaBox(0.0, 1.0), batch_size=4)
    explainer(data((8, 8, 2), n=3), labels(3))
    assert explainer.tracing_count == 1
    for n in (5, 9):
        explainer(data((8, 8, 2), n=n, seed=n), labels(n, seed=n))
    assert explainer.tracing_count == 1


def test_batches_and_reducer():
    model = cnn(seed=3)
    x, y = data((8, 8, 2), n=7), labels(7)
    per_channel = LRP(model, lrp.EpsilonPlus(), batch_size=7, reducer=None)(x, y).numpy()
    summed = LRP(model, lrp.EpsilonPlus(), batch_size=2)(x, y).numpy()
    assert per_channel.shape == (7, 8, 8, 2)
    np.testing.assert_allclose(summed, per_channel.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)
