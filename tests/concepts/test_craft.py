"""CRAFT: planted non-negative parts are recovered, the driving concept ranks first, the batched
importance equals a per-image reference loop; managers, torch, plots and errors."""

import warnings

import keras
import numpy as np
import pytest

from xplique.attributions.global_sensitivity_analysis import HaltonSequenceRS
from xplique.concepts import (
    CraftManagerTf,
    CraftManagerTorch,
    CraftTf,
    CraftTorch,
    DisplayImportancesOrder,
    Factorization,
    Sensitivity,
)

R, C, S = 3, 6, 16
PARTS = np.zeros((R, C), np.float32)
PARTS[0, 0:2] = 1.0
PARTS[1, 2:4] = 1.0
PARTS[2, 4:6] = 1.0
#: The class-0 logit reads part 0 strongly, part 1 weakly, part 2 not at all.
HEAD = np.zeros((C, 2), np.float32)
HEAD[0:2, 0] = 1.0
HEAD[2:4, 0] = 0.2
HEAD[:, 1] = 0.1


def planted_images(n=12, seed=0, frequencies=None):
    """Images `(n, 16, 16, 6)`: each 4x4 block shows one part (drawn with `frequencies`) with
    a random amplitude."""
    rng = np.random.default_rng(seed)
    coeffs = np.zeros((n, 4, 4, R), np.float32)
    which = rng.choice(R, (n, 4, 4), p=frequencies)
    amplitude = rng.uniform(0.5, 1.5, (n, 4, 4)).astype("float32")
    np.put_along_axis(coeffs, which[..., None], amplitude[..., None], axis=-1)
    coeffs = np.repeat(np.repeat(coeffs, 4, 1), 4, 2)
    return coeffs @ PARTS


def tf_parts(pool_latents=False):
    """g = ReLU (latents are the pixels, non-negative), h = mean pooling then HEAD."""
    g_layers = [keras.Input((S, S, C)), keras.layers.ReLU()]
    if pool_latents:
        g_layers.append(keras.layers.GlobalAveragePooling2D())
    g = keras.Sequential(g_layers)
    latent = keras.Input((C,) if pool_latents else (S, S, C))
    pooled = latent if pool_latents else keras.layers.GlobalAveragePooling2D()(latent)
    dense = keras.layers.Dense(2, use_bias=False)
    h = keras.Model(latent, dense(pooled))
    dense.set_weights([HEAD])
    return g, h


def match(bank):
    """Best cosine of each planted part with a concept of the bank, and the concept matched."""
    unit_bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    unit_parts = PARTS / np.linalg.norm(PARTS, axis=1, keepdims=True)
    cosines = unit_parts @ unit_bank.T
    return cosines.max(axis=1), cosines.argmax(axis=1)


@pytest.fixture(scope="module")
def fitted():
    g, h = tf_parts()
    craft = CraftTf(g, h, number_of_concepts=R, batch_size=32, patch_size=8)
    images = planted_images()
    result = craft.fit(images, class_id=0)
    return craft, images, result


def test_craft_recovers_planted_parts(fitted):
    craft, images, (crops, crops_u, bank) = fitted
    assert crops.shape == (12 * 4, S, S, C)  # 2x2 crops of 8 pixels, stride 6, per image
    assert isinstance(craft.factorization, Factorization)
    cosines, matched = match(bank)
    assert np.all(cosines > 0.95) and len(set(matched.tolist())) == R
    averaged = crops.mean(axis=(1, 2))
    error = np.linalg.norm(averaged - crops_u @ bank) / np.linalg.norm(averaged)
    assert error < 0.1  # bicubic overshoot is clipped by the ReLU; alpha_W shrinks U W a little


def test_crops_are_resized_patches(fitted):
    craft, images, (crops, _, _) = fitted
    import tensorflow as tf

    patch = images[0:1, 6:14, 0:8]  # second row of patches (stride 6), first column
    expected = tf.image.resize(patch, (S, S), method="bicubic").numpy()[0]
    np.testing.assert_allclose(crops[2], expected, atol=1e-5)


def test_transform_from_inputs_equals_transform_from_activations(fitted):
    craft, images, _ = fitted
    coeffs = craft.transform(images[:3])
    assert coeffs.shape == (3, S, S, R)
    np.testing.assert_allclose(coeffs, craft.transform(None, activations=images[:3]), atol=1e-6)
    # each block's coefficients are those of its part
    _, matched = match(craft.factorization.concept_bank_w)
    block = images[0, 0, 0]
    part = int(np.argmax(block @ PARTS.T))
    assert np.argmax(coeffs[0, 0, 0]) == matched[part]


def test_importance_ranks_the_driving_concept_first(fitted):
    craft, _, (_, _, bank) = fitted
    importances = craft.estimate_importance(nb_design=32, seed=0)
    _, matched = match(bank)
    assert isinstance(craft.sensitivity, Sensitivity)
    assert craft.sensitivity.most_important_concepts[0] == matched[0]
    assert importances[matched[0]] > importances[matched[1]] > importances[matched[2]]
    assert craft.factorization.coeffs_u.shape == (12, S, S, R)


def reference_importances(craft, coeffs, nb_design, seed):
    """One image and one mask at a time, Jansen's formula written out in numpy."""
    masks = HaltonSequenceRS(seed=seed)(R, nb_design)
    bank, class_id = craft.factorization.concept_bank_w, craft.factorization.class_id
    rows = []
    for image in coeffs:
        scores = np.array([
            craft.latent_to_logit_model(((image * mask) @ bank)[None]).numpy()[0, class_id]
            for mask in masks
        ], np.float64)
        f_a, f_b = scores[:nb_design], scores[nb_design:2 * nb_design]
        f_c = scores[2 * nb_design:].reshape(R, nb_design)
        variance = np.var(np.concatenate([f_a, f_b]))
        rows.append(np.mean((f_a[None] - f_c) ** 2, axis=1) / (2 * variance))
    return np.array(rows)


def test_batched_importance_equals_per_image_loop(fitted):
    craft, images, _ = fitted
    coeffs = craft.transform(images[:3])
    expected = reference_importances(craft, coeffs, 8, seed=1)
    np.testing.assert_allclose(craft.importances_per_image(coeffs, 8, seed=1), expected,
                               rtol=1e-3, atol=1e-5)
    g, h = craft.input_to_latent_model, craft.latent_to_logit_model
    for batch_size in (1, 7, 1000):  # chunks cut images' designs anywhere
        other = CraftTf(g, h, number_of_concepts=R, batch_size=batch_size, patch_size=8)
        other.factorization = craft.factorization
        np.testing.assert_allclose(other.importances_per_image(coeffs, 8, seed=1), expected,
                                   rtol=1e-3, atol=1e-5)
    mean = craft.estimate_importance(images[:3], nb_design=8, seed=1)
    np.testing.assert_allclose(mean, expected.mean(0), rtol=1e-3, atol=1e-5)


def test_design_kernel_traces_once(fitted):
    craft, images, _ = fitted
    craft.estimate_importance(images[:2], nb_design=4, seed=0)
    count = craft._scores.tracing_count  # pylint: disable=protected-access
    craft.estimate_importance(images[:5], nb_design=8, seed=1)
    assert craft._scores.tracing_count == count == 1  # pylint: disable=protected-access


def test_vector_latents_and_models_untouched():
    g, h = tf_parts(pool_latents=True)
    weights = [w.copy() for w in h.get_weights()]
    images = planted_images(n=16, seed=3)
    kept = images.copy()
    craft = CraftTf(g, h, number_of_concepts=R, batch_size=16, patch_size=8)
    _, crops_u, bank = craft.fit(images, class_id=0)
    cosines, matched = match(bank)
    assert np.all(cosines > 0.9)
    coeffs = craft.transform(images)
    assert coeffs.shape == (16, R)
    importances = craft.estimate_importance(seed=0)
    assert int(np.argmax(importances)) == matched[0]
    np.testing.assert_array_equal(images, kept)
    for before, after in zip(weights, h.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_craft_errors():
    g, h = tf_parts()
    with pytest.raises(TypeError, match="input_to_latent_model"):
        CraftTf(lambda x: x, h)
    with pytest.raises(ValueError, match="number_of_concepts"):
        CraftTf(g, h, number_of_concepts=0)
    craft = CraftTf(g, h, number_of_concepts=R, patch_size=8)
    with pytest.raises(ValueError, match="not fitted"):
        craft.transform(planted_images(2))
    with pytest.raises(ValueError, match="patch_size"):
        CraftTf(g, h, patch_size=32).fit(planted_images(2))
    with pytest.raises(ValueError, match="images"):
        craft.fit(np.zeros((4, S, C), np.float32))
    signed = keras.Sequential([keras.Input((S, S, C)), keras.layers.Dense(C)])
    with pytest.raises(ValueError, match="non-negative"):
        CraftTf(signed, h, number_of_concepts=R, patch_size=8).fit(planted_images(2) - 0.5)


def test_manager_fits_one_craft_per_predicted_class():
    g, h = tf_parts()
    images = np.concatenate([planted_images(n=10, seed=5),
                             planted_images(n=10, seed=6, frequencies=[0.05, 0.05, 0.9])])
    logits = h(g(images)).numpy()
    predicted = logits.argmax(-1)
    assert set(predicted.tolist()) == {0, 1}
    manager = CraftManagerTf(g, h, images, predicted, number_of_concepts=R, batch_size=32,
                             patch_size=8)
    one_hot = CraftManagerTf(g, h, images, np.eye(2)[predicted], number_of_concepts=R,
                             patch_size=8)
    assert manager.list_of_class_of_interest == one_hot.list_of_class_of_interest == [0, 1]
    manager.fit(nb_samples_per_class=6)
    manager.estimate_importance(nb_design=8, seed=0)
    for class_id, craft in manager.craft_instances.items():
        inputs = craft.factorization.inputs
        assert len(inputs) == min(6, int((predicted == class_id).sum()))
        assert np.all(h(g(inputs)).numpy().argmax(-1) == class_id)
        assert craft.factorization.class_id == class_id
        assert craft.sensitivity.importances.shape == (R,)
    with pytest.raises(ValueError, match="class_id"):
        manager.plot_concepts_importances(7)
    with pytest.raises(ValueError, match="labels"):
        CraftManagerTf(g, h, images, predicted[:3], patch_size=8)


def test_plots_draw(fitted, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    craft, images, _ = fitted
    craft.estimate_importance(nb_design=8, seed=0)
    try:
        craft.plot_concepts_importances()
        assert len(plt.gca().patches) == R
        craft.plot_concepts_crops(nb_crops=3)
        craft.plot_concept_attribution_legend(nb_most_important_concepts=2)
        figure = craft.plot_concept_attribution_maps(images[:2], nb_most_important_concepts=2)
        assert len(figure.axes) == 2
        path = tmp_path / "concepts.png"
        for order in DisplayImportancesOrder:
            craft.plot_image_concepts(images[0], display_importance_order=order,
                                      nb_most_important_concepts=2, filepath=str(path))
        assert path.exists()
        with pytest.raises(TypeError, match="display_importance_order"):
            craft.plot_image_concepts(images[0], display_importance_order="global")
    finally:
        plt.close("all")


# -- torch -----------------------------------------------------------------------------------

torch = pytest.importorskip("torch")


class TorchHead(torch.nn.Module):
    """Mean pooling (channels first) then HEAD."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.from_numpy(HEAD.T.copy()), requires_grad=False)

    def forward(self, latents):
        return latents.mean(dim=(2, 3)) @ self.weight.T


def test_craft_torch_matches_the_planted_answer_on_cpu():
    images = np.moveaxis(planted_images(), -1, 1)  # channels first
    g, h = torch.nn.ReLU().eval(), TorchHead().eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        craft = CraftTorch(g, h, number_of_concepts=R, batch_size=32, patch_size=8)
    assert str(craft.device) == "cpu" or torch.cuda.is_available()
    if not torch.cuda.is_available():
        assert any("CUDA" in str(w.message) for w in caught)
    crops, _, bank = craft.fit(torch.from_numpy(images), class_id=0)
    assert crops.shape == (48, C, S, S)
    cosines, matched = match(bank)
    assert np.all(cosines > 0.95)
    coeffs = craft.transform(images[:3])
    assert coeffs.shape == (3, S, S, R)
    importances = craft.estimate_importance(seed=0)
    assert int(np.argmax(importances)) == matched[0]
    # batched design scores equal a per-image, per-mask loop
    masks = HaltonSequenceRS(seed=2)(R, 4)
    batched_scores = craft._design_scores(coeffs, masks, bank, 0)  # noqa: W0212
    with torch.no_grad():
        loop = [[float(h(torch.from_numpy((u * m) @ bank).permute(2, 0, 1)[None])[0, 0])
                 for m in masks] for u in coeffs]
    np.testing.assert_allclose(batched_scores, loop, rtol=1e-4, atol=1e-5)


def test_craft_manager_torch_on_cpu():
    images = np.concatenate([planted_images(n=10, seed=5),
                             planted_images(n=10, seed=6, frequencies=[0.05, 0.05, 0.9])])
    images = np.moveaxis(images, -1, 1)
    g, h = torch.nn.ReLU().eval(), TorchHead().eval()
    with torch.no_grad():
        predicted = h(g(torch.from_numpy(images))).argmax(-1).numpy()
    manager = CraftManagerTorch(g, h, torch.from_numpy(images), predicted,
                                number_of_concepts=R, batch_size=32, patch_size=8, device="cpu")
    manager.fit()
    manager.estimate_importance(nb_design=8, seed=0)
    for class_id, craft in manager.craft_instances.items():
        assert craft.sensitivity.importances.shape == (R,)
        assert len(craft.factorization.inputs) == int((predicted == class_id).sum())
    with pytest.raises(TypeError, match="nn.Module"):
        CraftTorch(lambda x: x, h, device="cpu")


# -- on-device NMF ---------------------------------------------------------------------------


def nmf_objective(data, coeffs, components, alpha=1e-2):
    """scikit-learn's objective with alpha_W=alpha, l1_ratio=0, alpha_H="same"."""
    n, f = data.shape
    return (0.5 * np.sum((data - coeffs @ components) ** 2)
            + 0.5 * alpha * f * np.sum(coeffs ** 2) + 0.5 * alpha * n * np.sum(components ** 2))


def test_tf_nmf_reaches_sklearn_objective():
    from sklearn.decomposition import NMF

    from xplique.concepts.craft.nmf import TfNMF

    rng = np.random.default_rng(0)
    data = rng.uniform(size=(300, 4)) @ rng.uniform(size=(4, 12)) + 0.01 * rng.uniform(
        size=(300, 12))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's convergence warning
        reference = NMF(4, alpha_W=1e-2, random_state=0)
        reference_u = reference.fit_transform(data)
    ours = TfNMF(4, alpha_W=1e-2)
    coeffs = ours.fit_transform(data)
    assert np.all(coeffs >= 0) and np.all(ours.components_ >= 0)
    expected = nmf_objective(data, reference_u, reference.components_)
    assert nmf_objective(data, coeffs, ours.components_) <= 1.01 * expected
    reconstruction = np.linalg.norm(data - coeffs @ ours.components_)
    assert ours.reconstruction_err_ == pytest.approx(reconstruction, rel=1e-3)
    # the same objective, balanced a little differently between fit and penalty
    assert reconstruction <= 1.15 * reference.reconstruction_err_
    assert reconstruction < 0.05 * np.linalg.norm(data)
    # transform with the components fixed finds the fitted coefficients again
    again = ours.transform(data)
    assert np.linalg.norm(again - coeffs) / np.linalg.norm(coeffs) < 0.03


def test_craft_with_tf_nmf_recovers_parts_and_importance():
    g, h = tf_parts()
    craft = CraftTf(g, h, number_of_concepts=R, batch_size=32, patch_size=8, nmf="tf")
    _, _, bank = craft.fit(planted_images(), class_id=0)
    cosines, matched = match(bank)
    assert np.all(cosines > 0.95) and len(set(matched.tolist())) == R
    importances = craft.estimate_importance(nb_design=16, seed=0)
    assert int(np.argmax(importances)) == matched[0]
    with pytest.raises(ValueError, match="nmf"):
        CraftTf(g, h, nmf="cuda")


def blas_threads():
    """Thread counts of the loaded BLAS libraries (numpy loads at least one)."""
    import threadpoolctl  # scikit-learn's dependency

    return [info["num_threads"] for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas"]


def test_nmf_solves_with_one_blas_thread_and_unchanged_results(fitted, monkeypatch):
    """fit's and transform's NMF run with one BLAS thread (idle BLAS threads would spin on the
    cores the design scores need), give scikit-learn's factorization bit for bit, and leave
    the caller's BLAS thread counts as they were."""
    import threadpoolctl
    from sklearn.decomposition import NMF

    craft, images, _ = fitted
    seen = []

    class Recording(NMF):
        def fit_transform(self, X, y=None, W=None, H=None):
            seen.append(blas_threads())
            return super().fit_transform(X, y, W, H)

        def transform(self, X):
            seen.append(blas_threads())
            return super().transform(X)

    other = CraftTf(craft.input_to_latent_model, craft.latent_to_logit_model,
                    number_of_concepts=R, batch_size=32, patch_size=8)
    monkeypatch.setattr(other, "_new_reducer",
                        lambda: Recording(n_components=R, alpha_W=1e-2, random_state=0))
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        crops, crops_u, bank = other.fit(images, class_id=0)
        coeffs = other.transform(images[:3])
        after = blas_threads()
        reference = NMF(n_components=R, alpha_W=1e-2, random_state=0)
        latents = np.maximum(crops, 0.0).mean(axis=(1, 2))  # g is a ReLU
        expected_u = reference.fit_transform(latents.astype(np.float64))
        expected = reference.transform(images[:3].reshape(-1, C).astype(np.float64))
    assert before and after == before
    assert len(seen) == 2 and all(counts == [1] * len(counts) for counts in seen)
    np.testing.assert_array_equal(crops_u, expected_u.astype(np.float32))
    np.testing.assert_array_equal(bank, reference.components_.astype(np.float32))
    np.testing.assert_array_equal(coeffs, expected.astype(np.float32).reshape(3, S, S, R))
