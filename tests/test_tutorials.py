"""The tutorials Xplique users start from run, and their results hold what they claim.

Each notebook of tutorials/ is executed (code cells in one namespace, figures not shown) by
:func:`tests.helpers.run_tutorial`; the assertions check properties of what it computed, not
only that it ran.
"""

import numpy as np

from tests.helpers import run_tutorial


def _finite(maps, shape):
    maps = np.asarray(maps)
    assert maps.shape == shape
    assert np.all(np.isfinite(maps))
    assert np.abs(maps).max() > 0.0  # not the all-zero map of a silent failure


def test_attributions_getting_started():
    namespace = run_tutorial("attributions_getting_started.ipynb")
    assert namespace["accuracy"] > 0.85
    for phi in namespace["explanations"].values():
        _finite(phi, (16, 8, 8, 1))
    # completeness of Integrated Gradients: sum(IG) = f(x) - f(0), up to the quadrature
    model, inputs, targets = namespace["model"], namespace["inputs"], namespace["targets"]
    rows = np.arange(len(inputs))
    gap = (np.asarray(model(inputs))[rows, targets]
           - np.asarray(model(np.zeros_like(inputs)))[rows, targets])
    total = namespace["explanations"]["IntegratedGradients"].sum(axis=(1, 2, 3))
    assert np.abs(total - gap).max() < 0.02 * np.abs(gap).max()
    # the faithful methods beat random maps on Deletion (lower is better) by a wide margin
    scores = namespace["deletion_scores"]
    for name in ("Saliency", "GradientInput", "IntegratedGradients", "Occlusion"):
        assert scores[name] < 0.75 * scores["random"], (name, scores)


def test_tabular_regression():
    namespace = run_tutorial("tabular_regression.ipynb")
    exact, linear = namespace["exact"], namespace["linear_explanations"]
    _finite(linear["KernelShap"], exact.shape)
    # on a linear model the contributions w_i x_i are known: exact for Gradient x Input and
    # KernelSHAP (Shapley values), close for LIME's surrogate
    np.testing.assert_allclose(linear["GradientInput"], exact, atol=1e-5)
    np.testing.assert_allclose(linear["KernelShap"], exact, atol=1e-4)
    assert np.corrcoef(linear["Lime"].ravel(), exact.ravel())[0, 1] > 0.95
    # on the network, completeness: attributions sum to f(x) - f(0)
    gap = namespace["gap"]
    for name in ("IntegratedGradients", "KernelShap"):
        phi = namespace["explanations"][name]
        _finite(phi, exact.shape)
        assert np.abs(phi.sum(axis=1) - gap).max() < 0.02 * np.abs(gap).max(), name
    # the known drivers of diabetes progression rank first
    assert {"bmi", "s5"} <= set(namespace["ranking"][:3])


def test_time_series():
    namespace = run_tutorial("time_series.ipynb")
    shape = namespace["inputs"].shape
    for phi in namespace["explanations"].values():
        _finite(phi, shape)
    # the planted bump covers 8 of the 144 cells (5.6%); every method puts far more there
    for name, share in namespace["bump_share"].items():
        assert share > 0.2, (name, share)
    assert len(namespace["figure"].axes) >= 4


def test_metrics():
    namespace = run_tutorial("metrics.ipynb")
    scores = namespace["scores"]
    for name in ("GradientInput", "IntegratedGradients", "Occlusion"):
        assert scores["Deletion"][name] < 0.5 * scores["Deletion"]["random"], name
        assert scores["Insertion"][name] > scores["Insertion"]["random"] + 0.2, name
        assert scores["MuFidelity"][name] > scores["MuFidelity"]["random"] + 0.3, name
    # averaging over noise makes SmoothGrad more stable than Saliency (lower is better)
    stability = namespace["stability_scores"]
    assert stability["SmoothGrad"] < stability["Saliency"]
    # random maps are the most complex and the least sparse of all
    simplicity = namespace["simplicity"]
    assert max(simplicity, key=lambda name: simplicity[name][0]) == "random"
    assert min(simplicity, key=lambda name: simplicity[name][1]) == "random"


def test_sanity_checks():
    namespace = run_tutorial("sanity_checks.ipynb")
    similarity, logit = namespace["similarity"], namespace["logit_similarity"]
    # the model-independent control fails both tests: similarity 1
    assert min(similarity["EdgeDetector"]) > 0.999 and logit["EdgeDetector"] > 0.999
    # gradient explanations of the fully randomized model are unlike the trained model's
    for name in ("Saliency", "GradientInput"):
        assert similarity[name][-1] < 0.5, (name, similarity[name])
        assert logit[name] < 0.5, (name, logit[name])
    trained, randomized = namespace["trained_maps"], namespace["random_maps"]
    _finite(randomized, trained.shape)
    assert not np.allclose(trained, randomized)
    assert namespace["unchanged"]


def test_forgrad():
    namespace = run_tutorial("forgrad.ipynb")
    saliency, filtered = namespace["saliency"], namespace["filtered"]
    _finite(filtered, saliency.shape)
    assert namespace["same"]
    # the filter removes every frequency beyond sigma, which held a real part of the energy
    energy = namespace["high_frequency"]
    assert energy["Saliency"] > 0.05 and energy["FORGrad(Saliency)"] < 1e-6
    # a low-pass filter keeps the coarse structure: filtered maps follow the originals
    correlation = np.corrcoef(saliency.ravel(), filtered.ravel())[0, 1]
    assert correlation > 0.5
    for deletion_score, mu_score in namespace["fidelity"].values():
        assert np.isfinite(deletion_score) and np.isfinite(mu_score)
