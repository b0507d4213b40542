"""Metric code written for Xplique runs unchanged: batch_size=None, tf.data inputs,
user complexity metrics, explainers with `explain`, randomization strategies, per-pair
distances and float64 explanations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import make_inputs, make_model, make_targets, one_hot
from tests.metrics.models import SumModel, ones_targets, positive_inputs
from xplique.attributions import Saliency
from xplique.metrics import (
    ROAD,
    AverageDropMetric,
    AverageGainMetric,
    AverageIncreaseMetric,
    AverageStability,
    BaseComplexityMetric,
    Complexity,
    Deletion,
    Insertion,
    MeGe,
    ModelRandomizationMetric,
    ModelRandomizationStrategy,
    MuFidelity,
    PointingGame,
    ProgressiveLayerRandomization,
    RandomLogitMetric,
    RelevanceMass,
    Sparseness,
)

# ------------------------------------------------------------------ batch_size=None

EXPLANATION_METRICS = [
    pytest.param(MuFidelity, dict(nb_samples=5, seed=1), id="MuFidelity"),
    pytest.param(Deletion, dict(steps=3), id="Deletion"),
    pytest.param(Insertion, dict(steps=3), id="Insertion"),
    pytest.param(AverageDropMetric, dict(activation="softmax"), id="AverageDrop"),
    pytest.param(AverageIncreaseMetric, dict(activation="softmax"), id="AverageIncrease"),
    pytest.param(AverageGainMetric, dict(activation="softmax"), id="AverageGain"),
    pytest.param(ROAD, dict(percentages=(0.3, 0.6), seed=2), id="ROAD"),
]
EXPLAINER_METRICS = [
    pytest.param(AverageStability, dict(nb_samples=2, seed=0), id="AverageStability"),
    pytest.param(RandomLogitMetric, dict(), id="RandomLogit"),
    pytest.param(ModelRandomizationMetric, dict(), id="ModelRandomization"),
]


@pytest.mark.parametrize("metric_cls, params", EXPLANATION_METRICS)
def test_explanation_metrics_take_batch_size_none(metric_cls, params):
    x, y = make_inputs("images", 4), make_targets(4)
    model = make_model("images")
    phi = np.random.default_rng(0).normal(size=x.shape[:3])
    unbatched = metric_cls(model, x, y, batch_size=None, **params)
    assert unbatched.batch_size is None
    assert unbatched(phi) == pytest.approx(metric_cls(model, x, y, batch_size=1, **params)(phi),
                                           abs=1e-5)


@pytest.mark.parametrize("metric_cls, params", EXPLAINER_METRICS)
def test_explainer_metrics_take_batch_size_none(metric_cls, params):
    x, y = make_inputs("images", 3), make_targets(3)
    model = make_model("images")
    explainer = Saliency(model)
    unbatched = metric_cls(model, x, y, batch_size=None, **params)(explainer)
    assert unbatched == pytest.approx(
        metric_cls(model, x, y, batch_size=1, **params)(explainer), abs=1e-5)


def test_model_free_metrics_take_batch_size_none():
    phi = np.random.default_rng(1).normal(size=(5, 4, 4, 1))
    masks = np.random.default_rng(2).uniform(size=(5, 4, 4)) > 0.5
    pairs = ((Complexity(None), Complexity(1)), (Sparseness(None), Sparseness(1)),
             (PointingGame(masks, batch_size=None), PointingGame(masks, batch_size=1)),
             (RelevanceMass(masks, batch_size=None), RelevanceMass(masks, batch_size=1)))
    for metric_none, metric_one in pairs:
        assert metric_none(phi) == pytest.approx(metric_one(phi), abs=1e-6)


def test_mege_takes_batch_size_none():
    """Every fold trains the same model, labelled by its own predictions: identical, correct
    explanations, so MeGe = 1 / (1 + 0) = 1."""
    x = make_inputs("tabular", 8)
    model = make_model("tabular")
    y = np.argmax(model(x).numpy(), axis=-1)
    for batch_size in (None, 1):
        metric = MeGe(lambda *data: model, x, y, batch_size=batch_size, k_splits=2)
        with pytest.warns(RuntimeWarning, match="ReCo"):  # no pair where only one is right
            mege, _ = metric(Saliency)
        assert mege == pytest.approx(1.0)


# --------------------------------------------------------------- tf.data.Dataset inputs


@pytest.mark.parametrize("batched", [False, True])
def test_metrics_read_a_dataset_of_inputs_and_targets(batched):
    x, y = make_inputs("images", 5), make_targets(5)
    model = make_model("images")
    phi = np.random.default_rng(3).normal(size=x.shape[:3])
    dataset = tf.data.Dataset.from_tensor_slices((x, one_hot(y)))
    if batched:
        dataset = dataset.batch(2)
    expected = Deletion(model, x, y, steps=4)(phi)
    assert Deletion(model, dataset, steps=4)(phi) == pytest.approx(expected, abs=1e-6)
    stable = AverageStability(model, x, y, nb_samples=2, seed=1)(Saliency(model))
    assert AverageStability(model, dataset, nb_samples=2, seed=1)(Saliency(model)) == \
        pytest.approx(stable, abs=1e-6)


def test_metrics_read_a_dataset_of_inputs_only():
    x = make_inputs("tabular", 4)
    model = make_model("tabular")
    phi = np.random.default_rng(4).normal(size=x.shape)
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(3)
    assert MuFidelity(model, dataset, nb_samples=6, seed=0)(phi) == pytest.approx(
        MuFidelity(model, x, nb_samples=6, seed=0)(phi), abs=1e-6)
    targets = tf.data.Dataset.from_tensor_slices(one_hot(make_targets(4))).batch(3)
    assert Insertion(model, dataset, targets, steps=3)(phi) == pytest.approx(
        Insertion(model, x, make_targets(4), steps=3)(phi), abs=1e-6)
    with pytest.raises(TypeError, match="targets"):
        Deletion(model, dataset, make_targets(4))


# ---------------------------------------------------------------- complexity subclasses


class MaxMagnitude(BaseComplexityMetric):
    """Xplique-style user metric: only `detailed_evaluate(explanations_batch) -> (B,)`."""

    def __init__(self, batch_size=32):
        super().__init__(batch_size)
        self.seen = []

    def detailed_evaluate(self, explanations):
        explanations = np.asarray(explanations)
        self.seen.append(len(explanations))
        return np.abs(explanations.reshape(len(explanations), -1)).max(axis=1)


def test_a_user_complexity_metric_overriding_detailed_evaluate():
    phi = np.random.default_rng(5).normal(size=(7, 3, 3))
    expected = np.abs(phi).reshape(7, -1).max(axis=1).mean()
    metric = MaxMagnitude(batch_size=3)
    assert metric.evaluate(phi) == pytest.approx(expected)
    assert metric.seen == [3, 3, 1]  # evaluate = mean over batches of batch_size
    assert metric(phi, batch_size=32) == pytest.approx(expected)  # Xplique's __call__
    assert metric.seen[-1] == 7
    # the built-in metrics accept the same call
    assert Complexity()(phi, batch_size=2) == pytest.approx(Complexity()(phi))


# ------------------------------------------------------------------- randomization


class ExplainOnly:
    """An explainer object that is not callable: only `explain`, as Xplique's metrics use."""

    def __init__(self, model):
        self.model = model
        self.calls = 0

    def explain(self, inputs, targets):
        self.calls += 1
        return Saliency(self.model).explain(inputs, targets)


def test_randomization_metrics_call_explain_on_non_callable_explainers():
    x, y = make_inputs("images", 3), make_targets(3)
    model = make_model("images")
    explainer = ExplainOnly(model)
    expected = RandomLogitMetric(model, x, y)(Saliency(model))
    assert RandomLogitMetric(model, x, y)(explainer) == pytest.approx(expected)
    assert explainer.calls == 2
    stability = AverageStability(model, x, y, nb_samples=2, seed=0)
    assert stability(explainer) == pytest.approx(stability(Saliency(model)), abs=1e-6)


def _dense_stack(biases=0.0):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(5, name="first", bias_initializer="zeros"),
        keras.layers.Activation("relu", name="relu"),
        keras.layers.Dense(3, name="second", bias_initializer="zeros"),
        keras.layers.Dense(2, name="third", bias_initializer="zeros"),
    ])
    return model


def test_progressive_randomization_int_is_a_count_of_weighted_layers():
    model = _dense_stack()
    names = lambda layers: [layer.name for layer in layers]  # noqa: E731
    assert names(ProgressiveLayerRandomization(2).layers_to_randomize(model)) == [
        "third", "second"]
    assert names(ProgressiveLayerRandomization(2, reverse=False).layers_to_randomize(
        model)) == ["first", "second"]  # the weightless relu is not counted
    assert ProgressiveLayerRandomization(0).layers_to_randomize(model) == []
    assert names(ProgressiveLayerRandomization(10).layers_to_randomize(model)) == [
        "third", "second", "first"]
    with pytest.raises(ValueError, match="not found"):
        ProgressiveLayerRandomization("no_such_layer").layers_to_randomize(model)
    with pytest.raises(ValueError, match="stop_layer"):
        ProgressiveLayerRandomization(-1)


def test_zero_spread_tensors_change_when_their_layer_is_randomized():
    model = _dense_stack()
    ProgressiveLayerRandomization(1).randomize(model, seed=3)
    kernel, bias = model.get_layer("third").get_weights()
    assert np.all(bias != 0.0) and np.std(bias) > 0
    # drawn around the zero mean with the kernel's spread
    assert np.abs(bias).max() <= np.sqrt(3.0) * kernel.std() * 1.5 + 1e-6
    untouched = _dense_stack()
    np.testing.assert_array_equal(model.get_layer("second").get_weights()[1],
                                  untouched.get_layer("second").get_weights()[1])


class ZeroLastLayer(ModelRandomizationStrategy):
    """Xplique-style strategy: only `randomize(model)`."""

    def randomize(self, model):
        layer = model.layers[-1]
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
        return model


def test_model_randomization_accepts_a_strategy_subclass():
    x, y = make_inputs("images", 3), make_targets(3)
    model = make_model("images")
    weights = [w.copy() for w in model.get_weights()]
    # a zero last layer gives zero gradients, so zero maps: Spearman 0 with any map
    score = ModelRandomizationMetric(model, x, y, ZeroLastLayer())(ExplainOnly(model))
    assert score == pytest.approx(0.0, abs=1e-9)
    for kept, now in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(kept, now)
    # ProgressiveLayerRandomization is one of them, and 0 layers randomizes nothing
    assert isinstance(ProgressiveLayerRandomization(), ModelRandomizationStrategy)
    assert ModelRandomizationMetric(model, x, y, ProgressiveLayerRandomization(0))(
        Saliency(model)) == pytest.approx(1.0)


# --------------------------------------------------------------------- stability


def test_stability_accepts_float64_numpy_explanations():
    x, y = make_inputs("tabular", 3), make_targets(3)
    model = make_model("tabular")

    def explainer(inputs, targets):
        return np.asarray(inputs, dtype=np.float64) ** 2

    metric = AverageStability(model, x, y, nb_samples=3, seed=4)
    reference = metric(lambda inputs, targets: tf.square(inputs))
    assert metric(explainer) == pytest.approx(reference, rel=1e-5)


def test_a_custom_distance_is_called_per_pair():
    x, y = positive_inputs((3, 2), n=2), ones_targets(2)
    calls = []

    def chebyshev(phi_a, phi_b):
        calls.append((np.shape(phi_a), np.shape(phi_b)))
        return np.max(np.abs(phi_a - phi_b))

    radius, nb_samples = 0.1, 4
    metric = AverageStability(SumModel(), x, y, batch_size=3, radius=radius,
                              distance=chebyshev, nb_samples=nb_samples, seed=7)
    value = metric(lambda inputs, targets: 2.0 * inputs)
    assert len(calls) == 2 * nb_samples and set(calls) == {((3, 2), (3, 2))}
    # phi = 2x, so each distance is twice the largest noise added, at most 2 * radius
    assert 0.0 < value <= 2.0 * radius
    l_inf = AverageStability(SumModel(), x, y, radius=radius, nb_samples=nb_samples, seed=7,
                             distance=lambda a, b: tf.reduce_max(tf.abs(a - b)))
    assert l_inf(lambda inputs, targets: 2.0 * inputs) == pytest.approx(value, rel=1e-5)
