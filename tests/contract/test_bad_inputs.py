"""One bad-input matrix over every attribution method (tests/contract/registry.py) and every
metric (the registry of tests/metrics/test_contract.py): each bad input fails early with a
ValueError or TypeError naming the parameter, and `batch_size=None` is accepted everywhere and
gives what a large batch gives. No method or metric can forget a case: adding it to its
registry adds it here."""

import dataclasses
from typing import Callable, Tuple

import numpy as np
import pytest

from tests.conftest import NB_CLASSES, make_inputs, make_model, make_targets, one_hot
from tests.contract.registry import CASES, as_params
from tests.metrics.test_contract import EXPLAINER_METRICS, EXPLANATION_METRICS
from xplique.attributions import Saliency
from xplique.commons import batching

N = 4
BAD_BATCH_SIZES = [pytest.param(0, ValueError, id="0"), pytest.param(-1, ValueError, id="-1"),
                   pytest.param(1.5, TypeError, id="1.5"), pytest.param("a", TypeError, id="a")]


# --- the two registries, seen the same way -------------------------------------------------------

def _home(modalities) -> str:
    return "tabular" if "tabular" in modalities else modalities[0]


@dataclasses.dataclass(frozen=True)
class Subject:
    """A method or a metric under the matrix: how to build it and run it on `(x, y)`.

    `make(model, x, y, batch_size)` builds the subject and returns `(built, run)`, `run()`
    running it once, so that a bad input fails either in the constructor or at the top of the
    call, as the subject decides.
    """

    name: str
    make: Callable
    modalities: Tuple[str, ...]
    model: Callable = make_model


def _attribution(case) -> Subject:
    def make(model, x, y, batch_size=64):
        params = dict(case.params)
        if case.seeded:
            params["seed"] = 7
        explainer = case.cls(model, batch_size=batch_size, **params)
        return explainer, lambda: explainer(x, y)

    return Subject(case.cls.__name__, make, case.modalities, case.model or make_model)


def _explanation_metric(metric_cls, params, modalities) -> Subject:
    def make(model, x, y, batch_size=64):
        phi = np.random.default_rng(0).normal(size=np.shape(x)).astype("float32")
        metric = metric_cls(model, x, y, batch_size=batch_size, **params)
        return metric, lambda: metric(phi)

    return Subject(metric_cls.__name__, make, tuple(modalities))


def _explainer_metric(metric_cls, params) -> Subject:
    def make(model, x, y, batch_size=64):
        metric = metric_cls(model, x, y, batch_size=batch_size, **params)
        return metric, lambda: metric(Saliency(model))

    return Subject(metric_cls.__name__, make, ("tabular", "time_series", "images"))


def _run(subject, model, x, y, batch_size=64):
    _, run = subject.make(model, x, y, batch_size)
    return run()


SUBJECTS = (
    [pytest.param(_attribution(p.values[0]), id=p.id) for p in as_params(CASES)]
    + [pytest.param(_explanation_metric(*p.values), id=f"metric-{p.id}")
       for p in EXPLANATION_METRICS]
    + [pytest.param(_explainer_metric(*p.values), id=f"metric-{p.id}") for p in EXPLAINER_METRICS]
)

_MODELS = {}  # (factory, modality) -> model: nothing under test modifies a model (contract)


def _data(subject, n=N):
    home = _home(subject.modalities)
    key = (subject.model, home)
    if key not in _MODELS:
        _MODELS[key] = subject.model(home)
    return _MODELS[key], make_inputs(home, n), make_targets(n), home


# --- the matrix ----------------------------------------------------------------------------------

@pytest.mark.parametrize("subject", SUBJECTS)
def test_one_hot_targets_of_the_wrong_width(subject):
    model, x, y, _ = _data(subject)
    with pytest.raises(ValueError, match=rf"`targets`.*width {NB_CLASSES}.*width {NB_CLASSES + 2}"):
        _run(subject, model, x, one_hot(y, NB_CLASSES + 2))


@pytest.mark.parametrize("bad", [pytest.param(np.nan, id="nan"), pytest.param(np.inf, id="inf"),
                                 pytest.param(-np.inf, id="-inf")])
@pytest.mark.parametrize("subject", SUBJECTS)
def test_non_finite_inputs(subject, bad):
    model, x, y, _ = _data(subject)
    x = x.copy()
    x.reshape(-1)[5] = bad
    with pytest.raises(ValueError, match="`inputs` must hold finite values"):
        _run(subject, model, x, y)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_inputs_of_the_wrong_rank_or_shape(subject):
    model, x, y, home = _data(subject)
    other = next(m for m in ("time_series", "tabular") if m != home)
    with pytest.raises(ValueError, match="inputs"):
        _run(subject, model, make_inputs(other, N), y)  # another rank
    with pytest.raises(ValueError, match="inputs"):
        _run(subject, model, x[..., :-1], y)  # same rank, one size off


@pytest.mark.parametrize("subject", SUBJECTS)
def test_inputs_and_targets_of_different_lengths(subject):
    model, x, y, _ = _data(subject)
    with pytest.raises(ValueError, match="targets"):
        _run(subject, model, x, y[:-1])
    with pytest.raises(ValueError, match="targets"):
        _run(subject, model, x, one_hot(y)[:-1])


@pytest.mark.parametrize("batch_size, error", BAD_BATCH_SIZES)
@pytest.mark.parametrize("subject", SUBJECTS)
def test_bad_batch_sizes(subject, batch_size, error):
    model, x, y, _ = _data(subject)
    with pytest.raises(error, match="batch_size"):
        _run(subject, model, x, y, batch_size=batch_size)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_batch_size_none_is_accepted_and_equals_a_large_batch(subject, monkeypatch):
    """None runs passes of at most MAX_BATCH_SIZE evaluations (2 here, so that it really cuts
    passes: every subject makes at least 4 evaluations) and gives what one large batch gives
    (the same subject, its batch_size raised). 4 inputs, so that every pass is full: one
    shape per kernel to compile."""
    monkeypatch.setattr(batching, "MAX_BATCH_SIZE", 2)
    model, x, y, _ = _data(subject, n=4)
    built, run = subject.make(model, x, y, batch_size=None)
    built = getattr(built, "explainer", built)  # meta-explainers batch their inner explainer
    assert built.batch_size is None
    everything = run()
    built.batch_size = 1000
    np.testing.assert_allclose(np.asarray(everything), np.asarray(run()), rtol=1e-5, atol=1e-6)


COUNTS = ("nb_samples", "steps", "nb_design")


@pytest.mark.parametrize("case", as_params([c for c in CASES if set(COUNTS) & set(c.params)]))
def test_sample_counts_below_their_minimum(case):
    """Every sample count a method takes refuses 0 and a negative value, naming itself."""
    model = (case.model or make_model)(_home(case.modalities))
    for name in sorted(set(COUNTS) & set(case.params)):
        for count in (0, -3):
            with pytest.raises(ValueError, match=name):
                case.cls(model, **{**case.params, name: count})
