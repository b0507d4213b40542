"""One bad-input matrix over every attribution method (tests/contract/registry.py) and every
metric (the registry of tests/metrics/test_contract.py): each bad input fails early with a
ValueError or TypeError naming the parameter, and `batch_size=None` is accepted everywhere and
gives what a large batch gives. No method or metric can forget a case: adding it to its
registry adds it here."""

import numpy as np
import pytest

from tests.conftest import NB_CLASSES, make_inputs, make_model, one_hot
from tests.contract.registry import CASES, as_params
from tests.contract.subjects import (
    SUBJECTS,
    N,
    home_modality,
    run_subject,
    subject_data,
)
from xplique.commons import batching

BAD_BATCH_SIZES = [pytest.param(0, ValueError, id="0"), pytest.param(-1, ValueError, id="-1"),
                   pytest.param(1.5, TypeError, id="1.5"), pytest.param("a", TypeError, id="a")]


# --- the matrix ----------------------------------------------------------------------------------

@pytest.mark.parametrize("subject", SUBJECTS)
def test_one_hot_targets_of_the_wrong_width(subject):
    model, x, y, _ = subject_data(subject)
    with pytest.raises(ValueError, match=rf"`targets`.*width {NB_CLASSES}.*width {NB_CLASSES + 2}"):
        run_subject(subject, model, x, one_hot(y, NB_CLASSES + 2))


@pytest.mark.parametrize("bad", [pytest.param(np.nan, id="nan"), pytest.param(np.inf, id="inf"),
                                 pytest.param(-np.inf, id="-inf")])
@pytest.mark.parametrize("subject", SUBJECTS)
def test_non_finite_inputs(subject, bad):
    model, x, y, _ = subject_data(subject)
    x = x.copy()
    x.reshape(-1)[5] = bad
    with pytest.raises(ValueError, match="`inputs` must hold finite values"):
        run_subject(subject, model, x, y)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_inputs_of_the_wrong_rank_or_shape(subject):
    model, x, y, home = subject_data(subject)
    other = next(m for m in ("time_series", "tabular") if m != home)
    with pytest.raises(ValueError, match="inputs"):
        run_subject(subject, model, make_inputs(other, N), y)  # another rank
    with pytest.raises(ValueError, match="inputs"):
        run_subject(subject, model, x[..., :-1], y)  # same rank, one size off


@pytest.mark.parametrize("subject", SUBJECTS)
def test_inputs_and_targets_of_different_lengths(subject):
    model, x, y, _ = subject_data(subject)
    with pytest.raises(ValueError, match="targets"):
        run_subject(subject, model, x, y[:-1])
    with pytest.raises(ValueError, match="targets"):
        run_subject(subject, model, x, one_hot(y)[:-1])


@pytest.mark.parametrize("batch_size, error", BAD_BATCH_SIZES)
@pytest.mark.parametrize("subject", SUBJECTS)
def test_bad_batch_sizes(subject, batch_size, error):
    model, x, y, _ = subject_data(subject)
    with pytest.raises(error, match="batch_size"):
        run_subject(subject, model, x, y, batch_size=batch_size)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_batch_size_none_is_accepted_and_equals_a_large_batch(subject, monkeypatch):
    """None runs passes of at most MAX_BATCH_SIZE evaluations (2 here, so that it really cuts
    passes: every subject makes at least 4 evaluations) and gives what one large batch gives
    (the same subject, its batch_size raised). 4 inputs, so that every pass is full: one
    shape per kernel to compile."""
    monkeypatch.setattr(batching, "MAX_BATCH_SIZE", 2)
    model, x, y, _ = subject_data(subject, n=4)
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
    model = (case.model or make_model)(home_modality(case.modalities))
    for name in sorted(set(COUNTS) & set(case.params)):
        for count in (0, -3):
            with pytest.raises(ValueError, match=name):
                case.cls(model, **{**case.params, name: count})
