"""The contract every metric keeps, over every modality: a finite float, integer and one-hot
targets agree, batch_size does not change the result, model and inputs are left unchanged,
and a second evaluation does not retrace."""

import numpy as np
import pytest

from tests.conftest import make_inputs, make_model, make_targets, one_hot
from xplique.attributions import Saliency
from xplique.metrics import (
    ROAD,
    AverageDropMetric,
    AverageGainMetric,
    AverageIncreaseMetric,
    AverageStability,
    Deletion,
    Insertion,
    ModelRandomizationMetric,
    MuFidelity,
    RandomLogitMetric,
)

ALL = ("tabular", "time_series", "images")
EXPLANATION_METRICS = [
    pytest.param(MuFidelity, dict(nb_samples=5, seed=1), ALL, id="MuFidelity"),
    pytest.param(Deletion, dict(steps=3), ALL, id="Deletion"),
    pytest.param(Insertion, dict(steps=3), ALL, id="Insertion"),
    pytest.param(AverageDropMetric, dict(activation="softmax"), ALL, id="AverageDrop"),
    pytest.param(AverageIncreaseMetric, dict(activation="softmax"), ALL, id="AverageIncrease"),
    pytest.param(AverageGainMetric, dict(activation="softmax"), ALL, id="AverageGain"),
    pytest.param(ROAD, dict(percentages=(0.3, 0.6), seed=2), ALL[1:], id="ROAD"),
]
EXPLAINER_METRICS = [
    pytest.param(AverageStability, dict(nb_samples=2, seed=0), id="AverageStability"),
    pytest.param(RandomLogitMetric, dict(), id="RandomLogit"),
    pytest.param(ModelRandomizationMetric, dict(), id="ModelRandomization"),
]


@pytest.mark.parametrize("metric_cls, params, modalities", EXPLANATION_METRICS)
def test_explanation_metric_contract(metric_cls, params, modalities, modality):
    if modality not in modalities:
        pytest.skip(f"{metric_cls.__name__} does not support {modality}")
    x, y = make_inputs(modality, 5), make_targets(5)
    model = make_model(modality)
    weights = [w.copy() for w in model.get_weights()]
    x_before = x.copy()
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=x.shape), rng.normal(size=x.shape)
    metric = metric_cls(model, x, y, batch_size=64, **params)
    score = metric(first)
    assert isinstance(score, float) and np.isfinite(score)
    assert metric_cls(model, x, one_hot(y), batch_size=3, **params)(first) == pytest.approx(
        score, abs=1e-5)
    traces = metric.tracing_count
    metric(second)
    assert metric.tracing_count == traces
    for kept, now in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(kept, now)
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("metric_cls, params", EXPLAINER_METRICS)
def test_explainer_metric_contract(metric_cls, params, modality):
    x, y = make_inputs(modality, 4), make_targets(4)
    model = make_model(modality)
    weights = [w.copy() for w in model.get_weights()]
    explainer = Saliency(model)
    score = metric_cls(model, x, y, batch_size=64, **params)(explainer)
    assert isinstance(score, float) and np.isfinite(score)
    assert metric_cls(model, x, one_hot(y), batch_size=3, **params)(explainer) == pytest.approx(
        score, abs=1e-5)
    for kept, now in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(kept, now)


def test_verbose_shows_progress_without_changing_results(capsys):
    x, y = make_inputs("time_series", 3), make_targets(3)
    model = make_model("time_series")
    phi = np.random.default_rng(0).normal(size=x.shape)
    for metric_cls, params in ((Deletion, dict(steps=3)), (MuFidelity, dict(nb_samples=4, seed=0)),
                               (ROAD, dict(percentages=(0.5,), seed=0))):
        quiet = metric_cls(model, x, y, **params)(phi)
        assert metric_cls(model, x, y, verbose=True, **params)(phi) == pytest.approx(quiet)
    explainer = Saliency(model)
    quiet = AverageStability(model, x, y, nb_samples=2, seed=0)(explainer)
    loud = AverageStability(model, x, y, nb_samples=2, seed=0, verbose=True)(explainer)
    assert loud == pytest.approx(quiet)
    assert "AverageStability" in capsys.readouterr().err
