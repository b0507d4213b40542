"""MeGe and ReCo: identical models, differing models, and ReCo against brute force."""

import itertools

import numpy as np
import pytest
import scipy.stats

from tests.conftest import make_inputs, make_model
from xplique.attributions import Saliency
from xplique.metrics import MeGe
from xplique.metrics.representativity import _reco


def test_identical_models_give_mege_one():
    """Every model is the same fixed model: all explanations agree, so MeGe = 1."""
    model = make_model("tabular")
    x = make_inputs("tabular", 8)
    y = np.argmax(model(x).numpy(), axis=1)  # the model is right on every sample
    calls = []

    def learning_algorithm(x_train, y_train, x_test, y_test):
        calls.append((len(x_train), len(x_test)))
        return model

    metric = MeGe(learning_algorithm, x, y, k_splits=4)
    assert calls == [(6, 2)] * 4
    with pytest.warns(RuntimeWarning, match="ReCo"):
        mege, reco = metric.evaluate(Saliency, {"batch_size": 4})
    assert mege == pytest.approx(1.0)
    assert np.isnan(reco)


def _oracle(models, folds, x, y, explainer_cls):
    """Slow MeGe/ReCo: scipy Spearman per (sample, held-out model, other model)."""
    maps = [explainer_cls(model)(x, y).numpy().reshape(len(x), -1) for model in models]
    correct = [np.argmax(model(x).numpy(), 1) == y for model in models]
    same, different = [], []
    for held_out, fold in enumerate(folds):
        for other in range(len(models)):
            if other == held_out:
                continue
            for j in fold:
                rho = scipy.stats.spearmanr(maps[held_out][j], maps[other][j]).statistic
                distance = np.sqrt(1.0 - abs(rho))
                if correct[held_out][j] and correct[other][j]:
                    same.append(distance)
                elif correct[held_out][j] != correct[other][j]:
                    different.append(distance)
    return np.array(same), np.array(different)


def test_mege_and_reco_match_a_scipy_oracle():
    x = make_inputs("tabular", 12)
    y = np.random.default_rng(0).integers(0, 3, 12)
    models = [make_model("tabular", seed=seed) for seed in range(4)]
    trained = iter(models)
    metric = MeGe(lambda *data: next(trained), x, y, k_splits=4)
    same, different = _oracle(models, metric.folds, x, y, Saliency)
    assert same.size and different.size  # both sets are populated with these seeds
    mege, reco = metric(Saliency)
    assert mege == pytest.approx(1.0 / (1.0 + same.mean()), rel=1e-6)
    best = max(np.mean(different > gamma) + np.mean(same <= gamma) - 1.0
               for gamma in np.concatenate([same, different]))
    assert reco == pytest.approx(best)
    assert 0.0 < mege < 1.0


def test_reco_is_the_best_threshold():
    rng = np.random.default_rng(1)
    same, different = rng.uniform(0, 0.6, 15), rng.uniform(0.3, 1.0, 11)
    best = 0.0
    for gamma in itertools.chain(same, different, [-1.0, 2.0]):
        tpr = np.mean(different > gamma)
        tnr = np.mean(same <= gamma)
        best = max(best, tpr + tnr - 1.0)
    assert _reco(same, different) == pytest.approx(best)


def test_mege_needs_targets_and_enough_inputs():
    x = make_inputs("tabular", 3)
    with pytest.raises(ValueError, match="targets"):
        MeGe(lambda *a: None, x)
    with pytest.raises(ValueError, match="k_splits"):
        MeGe(lambda *a: None, x, np.zeros(3, int), k_splits=4)
    with pytest.raises(TypeError, match="learning_algorithm"):
        MeGe(3, x, np.zeros(3, int))
