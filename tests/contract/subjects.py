"""Every attribution method (tests/contract/registry.py) and every metric of the registry of
tests/metrics/test_contract.py, seen the same way: a :class:`Subject` builds one and runs it
on `(x, y)`. The bad-input matrix and the distribution check iterate over :data:`SUBJECTS`, so
a method or metric added to its registry joins both."""

import dataclasses
from typing import Callable, Tuple

import numpy as np
import pytest

from tests.conftest import make_inputs, make_model, make_targets
from tests.contract.registry import CASES, as_params
from tests.metrics.test_contract import EXPLAINER_METRICS, EXPLANATION_METRICS
from xplique.attributions import Saliency

N = 4


def home_modality(modalities) -> str:
    return "tabular" if "tabular" in modalities else modalities[0]


@dataclasses.dataclass(frozen=True)
class Subject:
    """A method or a metric under the matrix: how to build it and run it on `(x, y)`.

    `make(model, x, y, batch_size, **options)` builds the subject (`options`, such as
    `strategy`, go to its constructor) and returns `(built, run)`, `run()` running it once, so
    that a bad input fails either in the constructor or at the top of the call, as the subject
    decides.
    """

    name: str
    make: Callable
    modalities: Tuple[str, ...]
    model: Callable = make_model


def attribution_subject(case) -> Subject:
    def make(model, x, y, batch_size=64, **options):
        params = dict(case.params, **options)
        if case.seeded:
            params["seed"] = 7
        explainer = case.cls(model, batch_size=batch_size, **params)
        return explainer, lambda: explainer(x, y)

    return Subject(case.cls.__name__, make, case.modalities, case.model or make_model)


def _explanation_metric(metric_cls, params, modalities) -> Subject:
    def make(model, x, y, batch_size=64, **options):
        phi = np.random.default_rng(0).normal(size=np.shape(x)).astype("float32")
        metric = metric_cls(model, x, y, batch_size=batch_size, **params, **options)
        return metric, lambda: metric(phi)

    return Subject(metric_cls.__name__, make, tuple(modalities))


def _explainer_metric(metric_cls, params) -> Subject:
    def make(model, x, y, batch_size=64, **options):
        metric = metric_cls(model, x, y, batch_size=batch_size, **params, **options)
        return metric, lambda: metric(Saliency(model))  # Saliency runs on the metric's strategy

    return Subject(metric_cls.__name__, make, ("tabular", "time_series", "images"))


def run_subject(subject, model, x, y, batch_size=64):
    _, run = subject.make(model, x, y, batch_size)
    return run()


SUBJECTS = (
    [pytest.param(attribution_subject(p.values[0]), id=p.id) for p in as_params(CASES)]
    + [pytest.param(_explanation_metric(*p.values), id=f"metric-{p.id}")
       for p in EXPLANATION_METRICS]
    + [pytest.param(_explainer_metric(*p.values), id=f"metric-{p.id}") for p in EXPLAINER_METRICS]
)

MODELS = {}  # (factory, modality) -> model: nothing under test modifies a model (contract)


def subject_data(subject, n=N):
    home = home_modality(subject.modalities)
    key = (subject.model, home)
    if key not in MODELS:
        MODELS[key] = subject.model(home)
    return MODELS[key], make_inputs(home, n), make_targets(n), home
