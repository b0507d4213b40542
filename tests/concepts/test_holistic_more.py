"""Holistic CRAFT beyond classification: a planted detector (the concept driving the target
box ranks first, analytic gradient x input), prevalence and reliability formulas, the concept
localizer and its input maps, display helpers, and the torch variant equal to its Keras twin."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.concepts.test_craft import HEAD, PARTS, C, R, S, match
from tests.concepts.test_holistic_craft import fit_planted, planted_model
from xplique import Tasks
from xplique.attributions import GradientInput, Occlusion, Saliency
from xplique.concepts import (
    HolisticCraft,
    HolisticCraftTorch,
    PartialExplainer,
    TorchLatentExtractor,
)
from xplique.concepts.craft import reduce_to_prevalence, reduce_to_reliability

#: Box k is a fixed anchor of class k; its objectness reads part 0 (box 0) or part 2 (box 1).
ANCHORS = np.array([[0.0, 0.0, 8.0, 8.0], [8.0, 8.0, 16.0, 16.0]], np.float32)
READS = np.zeros((C, 2), np.float32)
READS[0:2, 0] = 1.0
READS[4:6, 1] = 1.0
GAIN = 4.0


class PlantedDetectorHead(keras.layers.Layer):
    """Latents `(n, S, S, C)` to two boxes `[x1, y1, x2, y2, objectness, p0, p1]`, objectness
    `sigmoid(GAIN * mean(latents) . READS[:, k] - 2)`, plus one all-zero padding row."""

    def call(self, latents):
        pooled = tf.reduce_mean(latents, axis=(1, 2))
        objectness = tf.sigmoid(GAIN * tf.matmul(pooled, READS) - 2.0)
        n = tf.shape(latents)[0]
        rows = tf.concat([tf.broadcast_to(ANCHORS, [n, 2, 4]), objectness[..., None],
                          tf.broadcast_to(tf.eye(2), [n, 2, 2])], axis=-1)
        return tf.concat([rows, tf.zeros([n, 1, 7])], axis=1)


def detector():
    return keras.Sequential([keras.Input((S, S, C)), keras.layers.ReLU(name="relu"),
                             PlantedDetectorHead()])


@pytest.fixture(scope="module")
def fitted_detector():
    return fit_planted(detector(), "relu", batch_size=8)


@pytest.mark.parametrize("class_id, part", [(0, 0), (1, 2)])
def test_detector_concept_driving_the_target_box_ranks_first(fitted_detector, class_id, part):
    craft, images = fitted_detector
    _, matched = match(craft.concept_bank_w)
    importances = craft.estimate_importance(images, Tasks.OBJECT_DETECTION, class_id,
                                            confidence=None)
    assert int(np.argmax(importances)) == matched[part]
    assert importances[matched[1]] < 0.05 * importances[matched[part]]  # part 1 is never read
    sobol = craft.estimate_importance(images[:4], None, class_id, method="sobol",
                                      confidence=None, grid_size=4, nb_design=8)
    assert int(np.argmax(sobol)) == matched[part]


def test_detector_gradient_input_is_analytic_and_batch_invariant(fitted_detector):
    craft, images = fitted_detector
    bank = craft.concept_bank_w
    coeffs = craft.transform(images[:5])
    # score of box 0 = its objectness o (IoU 1, same class); d o / d U = o (1 - o) GAIN
    # (W READS[:, 0]) / S^2 at every position
    pooled = (coeffs @ bank).mean(axis=(1, 2))
    objectness = 1 / (1 + np.exp(-(GAIN * pooled @ READS[:, 0] - 2.0)))
    slope = objectness * (1 - objectness) * GAIN / (S * S)
    expected = coeffs * slope[:, None, None, None] * (bank @ READS[:, 0])
    for batch_size in (1, 3, 16):
        craft.latent_extractor.batch_size = batch_size
        explanation = craft.compute_explanation_per_concept(
            images[:5], PartialExplainer(GradientInput, reducer=None,
                                         operator=Tasks.OBJECT_DETECTION), class_id=0)
        np.testing.assert_allclose(explanation, expected, rtol=1e-4, atol=1e-8)
    craft.latent_extractor.batch_size = 8


def test_detector_confidence_filters_the_boxes(fitted_detector):
    craft, images = fitted_detector
    # no box is that confident: nothing to explain, every attribution is zero
    nothing = craft.compute_explanation_per_concept(
        images[:3], PartialExplainer(GradientInput, reducer=None), class_id=0, confidence=1.5)
    np.testing.assert_array_equal(nothing, 0.0)
    # class None keeps both boxes: the operator averages their scores
    both = craft.compute_explanation_per_concept(
        images[:3], PartialExplainer(GradientInput, reducer=None), class_id=None)
    first = craft.compute_explanation_per_concept(
        images[:3], PartialExplainer(GradientInput, reducer=None), class_id=0)
    second = craft.compute_explanation_per_concept(
        images[:3], PartialExplainer(GradientInput, reducer=None), class_id=1)
    np.testing.assert_allclose(both, (first + second) / 2, rtol=1e-4, atol=1e-8)


def test_prevalence_and_reliability_formulas():
    rng = np.random.default_rng(0)
    explanation = rng.normal(size=(7, 3, 3, 4))
    dominant = np.abs(explanation).reshape(7, 9, 4).max(axis=1).argmax(axis=1)
    accuracy = rng.uniform(size=7)
    prevalence = reduce_to_prevalence(explanation)
    reliability = reduce_to_reliability(explanation, accuracy)
    for concept in range(4):
        group = dominant == concept
        assert prevalence[concept] == pytest.approx(group.mean())
        assert reliability[concept] == pytest.approx(accuracy[group].mean() if group.any()
                                                     else 0.0)
    assert prevalence.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(HolisticCraft.reduce_to_reliability(explanation, accuracy),
                               reliability)
    with pytest.raises(ValueError, match="accuracy"):
        reduce_to_reliability(explanation, accuracy[:3])


@pytest.fixture(scope="module")
def fitted_classifier():
    return fit_planted(planted_model(), "relu", batch_size=16)


def test_localizer_equals_transform_then_reduce(fitted_classifier):
    craft, images = fitted_classifier
    noisy = images + np.random.default_rng(1).uniform(0, 0.2, images.shape).astype("float32")
    coeffs = craft.transform(noisy)
    for name, reduce in (("mean", np.mean), ("max", np.max), ("sum", np.sum)):
        scores = craft.make_concept_localizer(name)(noisy).numpy()
        np.testing.assert_allclose(scores, reduce(coeffs, axis=(1, 2)), rtol=2e-3,
                                   atol=2e-3 * np.abs(coeffs).max())
    with pytest.raises(ValueError, match="concept_reducer"):
        craft.make_concept_localizer("median")


def test_occlusion_localizes_each_concept_on_its_blocks(fitted_classifier):
    craft, images = fitted_classifier
    _, matched = match(craft.concept_bank_w)
    maps = craft.attribute_concepts_to_inputs(
        images[:3], PartialExplainer(Occlusion, patch_size=4, patch_stride=4),
        concept_ids=[int(matched[0]), int(matched[2])])
    assert maps.shape == (3, S, S, R)
    assert np.all(np.isnan(maps[..., matched[1]]))
    # pixels showing part k (its channels lit) against the others
    for part in (0, 2):
        shows = images[:3] @ PARTS[part] > 0
        concept_map = maps[..., matched[part]]
        assert concept_map[shows].min() > 0
        assert np.abs(concept_map[~shows]).max() < 0.05 * concept_map[shows].min()
    with pytest.raises(ValueError, match="black-box"):
        craft.attribute_concepts_to_inputs(images[:2], PartialExplainer(Saliency))
    with pytest.raises(ValueError, match="concept_ids"):
        craft.attribute_concepts_to_inputs(images[:2], PartialExplainer(Occlusion),
                                           concept_ids=[0, 0])


def test_topk_images_and_displays(fitted_classifier):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    craft, images = fitted_classifier
    coeffs = craft.transform(images)
    top = craft.get_topk_images_per_concept(coeffs, topk=4)
    means = coeffs.mean(axis=(1, 2))
    for concept in range(R):
        assert top[concept].tolist() == np.argsort(-means[:, concept])[:4].tolist()
    figure = craft.display_images_per_concept(images[:2], order=[2, 0])
    assert len(figure.axes) == 4 and figure.axes[0].get_title() == "concept 2"
    figure = craft.display_top_images_per_concept(images, topk=2)
    assert len(figure.axes) == 2 * R
    maps = np.full(coeffs.shape, np.nan, np.float32)
    maps[..., 1] = coeffs[..., 1]
    figure = craft.display_images_per_concept(images[:2], concept_maps=maps[:2])
    assert len(figure.axes) == 2  # only the finite channel
    maps[0, 0, 0, 2] = 1.0
    with pytest.raises(ValueError, match="finite"):
        craft.display_images_per_concept(images[:2], concept_maps=maps[:2])
    plt.close("all")


def torch_twin():
    torch = pytest.importorskip("torch")

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = torch.nn.Linear(C, 2, bias=False)
            with torch.no_grad():
                self.dense.weight.copy_(torch.from_numpy(HEAD.T.copy()))

        def forward(self, latents):
            return self.dense(latents.mean(dim=(2, 3)))

    g, h = torch.nn.ReLU().eval(), Head().eval()
    return TorchLatentExtractor(torch.nn.Sequential(g, h), g, h, batch_size=16, device="cpu")


def test_torch_variant_equals_the_keras_twin(fitted_classifier):
    craft, images = fitted_classifier
    twin = HolisticCraftTorch(torch_twin(), number_of_concepts=R)
    channels_first = np.moveaxis(images, -1, 1)
    coeffs, bank = twin.fit(channels_first, class_id=0)
    np.testing.assert_allclose(bank, craft.concept_bank_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(coeffs, craft.coeffs_u, rtol=1e-5, atol=1e-6)
    partial = PartialExplainer(GradientInput, reducer=None)
    np.testing.assert_allclose(twin.compute_explanation_per_concept(channels_first[:4], partial),
                               craft.compute_explanation_per_concept(images[:4], partial),
                               rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(twin.estimate_importance(channels_first, class_id=0),
                               craft.estimate_importance(images, class_id=0), rtol=1e-4)
    occlusion = PartialExplainer(Occlusion, patch_size=4, patch_stride=4)
    np.testing.assert_allclose(twin.attribute_concepts_to_inputs(channels_first[:2], occlusion),
                               craft.attribute_concepts_to_inputs(images[:2], occlusion),
                               rtol=1e-4, atol=1e-6)
    # the records: channels-last latents and coefficients, decoded through the torch head
    for mine, keras_record in zip(twin.encode(channels_first[:3]), craft.encode(images[:3])):
        np.testing.assert_allclose(mine.latent_data.get_activations(),
                                   keras_record.latent_data.get_activations(), rtol=1e-6)
        np.testing.assert_allclose(mine.coeffs_u, keras_record.coeffs_u, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(twin.decode(*mine).numpy(),
                                   craft.decode(*keras_record).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="TorchLatentExtractor"):
        HolisticCraftTorch(craft.latent_extractor)


def test_differentiable_encode_matches_transform_and_has_gradients(fitted_classifier):
    craft, images = fitted_classifier
    noisy = images[:3] + 0.1
    records = craft.encode(noisy, differentiable=True)
    assert all(isinstance(record.coeffs_u, tf.Tensor) for record in records)
    coeffs = np.concatenate([record.coeffs_u.numpy() for record in records])
    np.testing.assert_allclose(coeffs, craft.transform(noisy), rtol=2e-3, atol=2e-3)
    tensor = tf.constant(noisy)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        total = sum(tf.reduce_sum(record.coeffs_u)
                    for record in craft.encode(tensor, differentiable=True))
    assert float(tf.reduce_sum(tf.abs(tape.gradient(total, tensor)))) > 0.0
