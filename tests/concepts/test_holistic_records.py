"""Holistic CRAFT's records: `encode` -> [EncodedData(latent_data, coeffs_u)] and
`decode(latent_data, coeffs_u)` -> StructuredPrediction, on a planted classifier and a planted
detector: round trips to the model's outputs, Xplique's fields and types, batched records
equal per-image ones, targets from the records equal the explainers' own."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.decomposition import NMF

from tests.concepts.test_craft import R, S
from tests.concepts.test_holistic_craft import fit_planted, planted_model
from tests.concepts.test_holistic_more import detector
from xplique.concepts import (
    EncodedData,
    HolisticCraftTf,
    LatentData,
    LayeredLatentData,
    StructuredPrediction,
    TfClassifierTensor,
    TfMultiBoxTensor,
)


def fitted(model, batch_size):
    # without the ridge penalty of the default factorizer, the planted parts factorize
    # exactly, so decode(encode(x)) must give back the model's outputs
    factorizer = NMF(n_components=R, alpha_W=0.0, max_iter=1000, tol=1e-6, random_state=0)
    return fit_planted(model, "relu", batch_size, factorizer)


@pytest.fixture(scope="module")
def classifier():
    return fitted(planted_model(), 5)


@pytest.fixture(scope="module")
def detection():
    return fitted(detector(), 5)


def test_xplique_public_paths_and_fields():
    # pylint: disable=import-outside-toplevel
    from xplique.concepts.latent_extractor import EncodedData as FromLatentExtractor
    from xplique.concepts.latent_extractor import LatentData as Abstract
    from xplique.concepts.tf import HolisticCraftTf as FromTf
    from xplique.concepts.tf.layered_model_latent_extractor import LayeredLatentData as Layered

    assert FromLatentExtractor is EncodedData and Abstract is LatentData
    assert Layered is LayeredLatentData and FromTf is HolisticCraftTf
    assert EncodedData._fields == ("latent_data", "coeffs_u")
    assert issubclass(LayeredLatentData, LatentData)
    with pytest.raises(TypeError):
        LatentData()  # abstract: get_activations and set_activations


def test_concepts_package_reexports_craft_names():
    # xplique.concepts re-exports CRAFT's public names: each one it lists must be bound there,
    # to the same object as in xplique.concepts.craft
    import xplique.concepts as concepts  # pylint: disable=import-outside-toplevel
    from xplique.concepts import craft  # pylint: disable=import-outside-toplevel

    assert set(concepts.__all__) - set(craft.__all__) == {"Cav", "Tcav", "TcavSignificance"}
    for name in set(concepts.__all__) & set(craft.__all__):
        assert getattr(concepts, name) is getattr(craft, name), name


def test_classifier_records_round_trip(classifier):
    craft, images = classifier
    model = planted_model()
    g = craft.latent_extractor.input_to_latent_model
    records = craft.encode(images)
    # one record per extractor batch (5, 5, 2), in order
    assert [len(record.latent_data) for record in records] == [5, 5, 2]
    start = 0
    for record in records:
        assert isinstance(record, EncodedData) and isinstance(record.latent_data, LatentData)
        assert isinstance(record.coeffs_u, np.ndarray) and record.coeffs_u.dtype == np.float32
        count = len(record.latent_data)
        batch = images[start:start + count]
        np.testing.assert_allclose(record.latent_data.get_activations(), g(batch).numpy(),
                                   rtol=1e-6)
        np.testing.assert_allclose(record.coeffs_u, craft.transform(batch), rtol=1e-3,
                                   atol=1e-5)
        prediction = craft.decode(record.latent_data, record.coeffs_u)
        assert isinstance(prediction, TfClassifierTensor)
        assert isinstance(prediction, StructuredPrediction)
        decoded = prediction.to_batched_tensor().numpy()
        # decode is exactly h(U W) ...
        head = craft.latent_extractor.latent_to_logit_model
        np.testing.assert_allclose(decoded, head(record.coeffs_u @ craft.concept_bank_w),
                                   rtol=1e-5, atol=1e-6)
        # ... and the planted parts are recovered, so it is the model's output
        outputs = model(batch).numpy()
        np.testing.assert_allclose(decoded, outputs, rtol=1e-3, atol=1e-4)
        start += count
    assert start == len(images)


def test_classifier_prediction_targets(classifier):
    craft, images = classifier
    record = craft.encode(images[:3])[0]
    prediction = craft.decode(*record)
    assert prediction.filter(class_id=1, confidence=0.5) is prediction
    target = prediction.to_attribution_target(1).to_batched_tensor().numpy()
    np.testing.assert_array_equal(target, np.eye(2, dtype=np.float32)[[1, 1, 1]])
    assert prediction.num_classes == 2 and prediction.batch_size == 3
    assert not prediction.is_empty
    np.testing.assert_array_equal(tf.convert_to_tensor(prediction).numpy(), prediction.numpy())
    with pytest.raises(ValueError, match="class_id"):
        prediction.to_attribution_target(2)


def test_batched_records_equal_per_image_records(classifier):
    craft, images = classifier
    batched_coeffs = np.concatenate([r.coeffs_u for r in craft.encode(images)])
    singles = [craft.encode(images[index:index + 1])[0] for index in range(len(images))]
    craft.latent_extractor.batch_size = 1
    try:
        assert len(craft.encode(images)) == len(images)  # one record per image
    finally:
        craft.latent_extractor.batch_size = 5
    np.testing.assert_allclose(np.concatenate([r.coeffs_u for r in singles]), batched_coeffs,
                               rtol=1e-3, atol=1e-5)
    single_outputs = np.concatenate([craft.decode(*r).to_batched_tensor() for r in singles])
    batched_outputs = np.concatenate([craft.decode(*r).to_batched_tensor()
                                      for r in craft.encode(images)])
    np.testing.assert_allclose(single_outputs, batched_outputs, rtol=1e-4, atol=1e-6)


def test_detector_records_round_trip_and_filter(detection):
    craft, images = detection
    model = detector()
    records = craft.encode(images)
    batched = []
    for record in records:
        prediction = craft.decode(record.latent_data, record.coeffs_u)
        assert isinstance(prediction, TfMultiBoxTensor)
        assert isinstance(prediction, StructuredPrediction)
        boxes = prediction.to_batched_tensor().numpy()
        start = sum(len(r.latent_data) for r in batched)
        outputs = model(images[start:start + len(boxes)]).numpy()
        np.testing.assert_allclose(boxes, outputs, rtol=1e-3, atol=1e-4)
        batched.append(record)
    # one image per record: Xplique's (B, 4 + 1 + C) boxes; batched filter = per-image filter
    singles = [craft.encode(images[index:index + 1])[0] for index in range(5)]
    batch_prediction = craft.decode(*records[0])
    for class_id, confidence in ((0, None), (1, None), (None, 0.5), (None, None), (0, 1.5)):
        kept = batch_prediction.filter(class_id, confidence).to_attribution_target().numpy()
        for index, record in enumerate(singles):
            single = craft.decode(*record)
            assert single.shape == (3, 7)  # two boxes and the padding row
            one = single.filter(class_id, confidence)
            np.testing.assert_allclose(kept[index, :len(one)], one.numpy(), rtol=1e-5,
                                       atol=1e-6)
            np.testing.assert_array_equal(kept[index, len(one):], 0.0)
            assert one.is_empty == (len(one) == 0)
            expected = single.numpy()
            expected = expected[np.any(expected != 0, axis=-1)]
            if class_id is not None:
                expected = expected[np.argmax(expected[:, 5:], axis=-1) == class_id]
            if confidence is not None:
                expected = expected[expected[:, 4] >= confidence]
            np.testing.assert_allclose(one.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(batch_prediction.boxes(), batch_prediction.numpy()[..., :4])
    np.testing.assert_allclose(batch_prediction.scores(), batch_prediction.numpy()[..., 4])


def test_differentiable_records_carry_gradients(classifier):
    craft, images = classifier
    tensor = tf.constant(images[:7] + 0.05)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        records = craft.encode(tensor, differentiable=True)
        total = sum(tf.reduce_sum(craft.decode(*r).to_batched_tensor()[:, 0]) for r in records)
    assert [len(r.latent_data) for r in records] == [5, 2]
    assert all(isinstance(r.coeffs_u, tf.Tensor) for r in records)
    assert float(tf.reduce_sum(tf.abs(tape.gradient(total, tensor)))) > 0.0
    np.testing.assert_allclose(np.concatenate([r.coeffs_u.numpy() for r in records]),
                               craft.transform(images[:7] + 0.05), rtol=2e-3, atol=2e-3)


def test_decode_errors(classifier):
    craft, images = classifier
    record = craft.encode(images[:3])[0]
    with pytest.raises(TypeError, match="latent_data"):
        craft.decode(record.coeffs_u, record.coeffs_u)
    with pytest.raises(ValueError, match="coeffs_u"):
        craft.decode(record.latent_data, record.coeffs_u[:2])
    with pytest.raises(ValueError, match="coeffs_u"):
        craft.decode(record.latent_data, np.zeros((3, S, S, R + 1), np.float32))
    with pytest.raises(ValueError, match="tensor"):
        TfClassifierTensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="tensor"):
        TfMultiBoxTensor(np.zeros((2, 3)))
    layered = LayeredLatentData(np.ones((2, 3), np.float32))
    layered.set_activations(np.zeros((2, 3)))
    assert isinstance(layered.get_activations(as_numpy=False), tf.Tensor)
    np.testing.assert_array_equal(layered[1:].get_activations(), np.zeros((1, 3)))
    assert isinstance(keras.ops.convert_to_tensor(layered.activations), tf.Tensor)
