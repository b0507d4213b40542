"""Objective factories and algebra: values against numpy, immutability, plain weighted sums,
cartesian products of ids."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique.feature_visualization import Objective as AlternativeObjective
from xplique.features_visualizations import Objective, cosine_similarity

from .conftest import conv_model


def _values(objective, images):
    model, function, names, _ = objective.compile()
    return np.asarray(function(model(images))), names


def _images(n=1, shape=(8, 8, 1), seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n,) + shape).astype("float32")


def _activations(model, layer, images):
    return keras.Model(model.inputs[0], model.get_layer(layer).output)(images).numpy()


def test_alternative_spelling_is_the_same_object():
    assert AlternativeObjective is Objective


def test_neuron_value_is_the_flat_indexed_activation(cnn):
    images = _images(1)
    values, names = _values(Objective.neuron(cnn, "conv2", [0, 77, 383]), images)
    flat = _activations(cnn, "conv2", images).reshape(-1)
    np.testing.assert_allclose(values, flat[[0, 77, 383]], rtol=1e-5, atol=1e-6)
    assert names == ["Neuron#conv2#0", "Neuron#conv2#77", "Neuron#conv2#383"]


def test_channel_value_is_the_channel_mean_over_the_layer(cnn):
    images = _images(1)
    values, _ = _values(Objective.channel(cnn, "conv1", [1, 3]), images)
    maps = _activations(cnn, "conv1", images)[0]
    expected = [maps[..., c].sum() / maps.size for c in (1, 3)]
    np.testing.assert_allclose(values, expected, rtol=1e-5)


def test_layer_value_magnitude_and_mean(cnn):
    images = _images(1)
    maps = _activations(cnn, "conv2", images)
    magnitude, _ = _values(Objective.layer(cnn, "conv2"), images)
    mean, _ = _values(Objective.layer(cnn, "conv2", reducer="mean"), images)
    np.testing.assert_allclose(magnitude, [np.mean(maps**2)], rtol=1e-5)
    np.testing.assert_allclose(mean, [np.mean(maps)], rtol=1e-5)


def test_layer_by_index_equals_layer_by_name(cnn):
    images = _images(1)
    by_name, _ = _values(Objective.channel(cnn, "conv2", 2), images)
    index = [layer.name for layer in cnn.layers].index("conv2")
    by_index, _ = _values(Objective.channel(cnn, index, 2), images)
    np.testing.assert_allclose(by_name, by_index)


def test_direction_value_is_dot_times_clipped_cosine_power(cnn):
    images = _images(1)
    rng = np.random.default_rng(3)
    vectors = [rng.normal(size=4).astype("float32") for _ in range(2)]
    values, _ = _values(Objective.direction(cnn, "hidden", vectors, cossim_pow=3.0), images)
    activation = _activations(cnn, "hidden", images)[0]
    for value, vector in zip(values, vectors):
        dot = activation @ vector
        cosine = dot / np.linalg.norm(activation) / np.linalg.norm(vector)
        np.testing.assert_allclose(value, dot * max(cosine, 0.1) ** 3, rtol=1e-4)


def test_cosine_similarity_matches_numpy():
    a = np.random.default_rng(0).normal(size=(3, 4, 2)).astype("float32")
    b = np.random.default_rng(1).normal(size=(3, 4, 2)).astype("float32")
    expected = [np.dot(x.ravel(), y.ravel()) / np.linalg.norm(x) / np.linalg.norm(y)
                for x, y in zip(a, b)]
    np.testing.assert_allclose(cosine_similarity(tf.constant(a), tf.constant(b)), expected,
                               rtol=1e-5)


def test_operators_return_new_objectives_and_leave_operands_unchanged(cnn):
    a = Objective.neuron(cnn, "logits", [0, 1])
    b = Objective.channel(cnn, "conv2", [2])
    before = [(o.multipliers, o.names, o.layers) for o in (a, b)]
    combined = [a + b, a - b, a * 3.0, 2.0 * b, -a, a + 2.0 * b]
    assert all(c is not a and c is not b for c in combined)
    assert [(o.multipliers, o.names, o.layers) for o in (a, b)] == before
    assert (a - b).multipliers == (1.0, -1.0)
    assert (0.5 * (a + b)).multipliers == (0.5, 0.5)


def test_loss_of_a_plus_2b_is_the_weighted_sum(cnn):
    images = _images(1, seed=4)
    a = Objective.neuron(cnn, "logits", 1, multiplier=1.5)
    b = Objective.channel(cnn, "conv1", 2)
    c = Objective.layer(cnn, "conv2", multiplier=-0.7)
    value_a, _ = _values(a, images)
    value_b, _ = _values(b, images)
    value_c, _ = _values(c, images)
    combined, _ = _values(a + 2.0 * b + c, images)
    np.testing.assert_allclose(combined, value_a + 2.0 * value_b + value_c, rtol=1e-5)
    # Xplique's quirk would give ((a + b) * 2 + c) * (-0.7): not reproduced
    difference, _ = _values(a - 3 * b, images)
    np.testing.assert_allclose(difference, value_a - 3.0 * value_b, rtol=1e-5)


def test_combinations_are_the_cartesian_product_of_ids(cnn):
    a = Objective.neuron(cnn, "logits", [0, 2], names=["zero", "two"])
    b = Objective.channel(cnn, "conv2", [1, 4, 5])
    objective = a + b
    assert len(objective) == 6
    images = _images(6, seed=5)
    values, names = _values(objective, images)
    assert names == [f"{x} & Channel#conv2#{y}" for x in ("zero", "two") for y in (1, 4, 5)]
    logits = cnn(images).numpy()
    maps = _activations(cnn, "conv2", images)
    for k, (neuron, channel) in enumerate([(x, y) for x in (0, 2) for y in (1, 4, 5)]):
        expected = logits[k, neuron] + maps[k, ..., channel].sum() / maps[k].size
        np.testing.assert_allclose(values[k], expected, rtol=1e-5)


def test_compile_builds_one_model_over_the_needed_layers(cnn):
    objective = Objective.neuron(cnn, "logits", 0) + Objective.channel(cnn, "conv1", 1) \
        + Objective.neuron(cnn, "logits", 2)
    model, _, _, input_shape = objective.compile()
    assert len(model.outputs) == 2  # logits read once
    assert input_shape == (1, 8, 8, 1)


@pytest.mark.parametrize("build, error, message", [
    (lambda m: Objective.neuron(m, "nope", 0), ValueError, "nope"),
    (lambda m: Objective.neuron(m, 42, 0), ValueError, "out of range"),
    (lambda m: Objective.channel(m, "conv2", 6), ValueError, "channel_ids"),
    (lambda m: Objective.channel(m, "conv2", [-1]), ValueError, "channel_ids"),
    (lambda m: Objective.neuron(m, "logits", 3), ValueError, "neurons_ids"),
    (lambda m: Objective.neuron(m, "logits", "a"), TypeError, "neurons_ids"),
    (lambda m: Objective.channel(m, "conv2", []), ValueError, "channel_ids"),
    (lambda m: Objective.layer(m, "conv2", reducer="max"), ValueError, "reducer"),
    (lambda m: Objective.direction(m, "hidden", np.ones(5)), ValueError, "vectors"),
    (lambda m: Objective.channel(m, "conv2", [0, 1], names=["one"]), ValueError, "names"),
    (lambda m: Objective.neuron(m, "logits", 0) * "2", TypeError, "multiply"),
    (lambda m: Objective.neuron(m, "logits", 0) + Objective.neuron(conv_model(), "logits", 0),
     ValueError, "same model"),
])
def test_bad_inputs_raise_clear_errors(cnn, build, error, message):
    with pytest.raises(error, match=message):
        build(cnn)


def test_subclassed_models_are_refused_clearly():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    with pytest.raises(TypeError, match="Sequential or functional"):
        Objective.neuron(net, 0, 0)
