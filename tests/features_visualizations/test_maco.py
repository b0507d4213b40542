"""Fourier parameterisation and MaCo: prescribed magnitude, changed phase, transparency,
values range, spectra sources, one trace, seeds and argument checks."""

import numpy as np
import pytest
import tensorflow as tf

from xplique.features_visualizations import (
    Objective,
    fft_image,
    fft_to_rgb,
    get_fft_scale,
    init_maco_buffer,
    maco,
    maco_image_parametrization,
)
from xplique.features_visualizations.maco import magnitude_spectrum
from xplique.features_visualizations.preconditioning import COLOR_CORRELATION, maco_spatial_image

maco_module = __import__("xplique.features_visualizations.maco", fromlist=["maco"])


def test_fft_scale_and_fft_to_rgb_match_numpy():
    height, width = 6, 9
    frequencies = np.sqrt(np.fft.rfftfreq(width)[None] ** 2 + np.fft.fftfreq(height)[:, None] ** 2)
    expected = np.sqrt(width * height) / np.maximum(frequencies, 1 / 9) ** 0.8
    np.testing.assert_allclose(get_fft_scale(width, height, 0.8), expected, rtol=1e-5)
    buffer = fft_image((2, height, width, 3), std=0.5, seed=0)
    assert buffer.shape == (2, 2, 3, height, width // 2 + 1)
    images = fft_to_rgb((2, height, width, 3), buffer, expected).numpy()
    spectrum = (buffer[0].numpy() + 1j * buffer[1].numpy()) * expected
    reference = np.fft.irfft2(spectrum, s=(height, width)).transpose(0, 2, 3, 1) / 4
    np.testing.assert_allclose(images, reference, atol=1e-4)


@pytest.mark.parametrize("height, width", [(8, 8), (7, 10), (6, 9)])
def test_maco_spatial_image_has_exactly_the_prescribed_magnitude(height, width):
    magnitude = magnitude_spectrum("sample_images", (height, width, 3))
    phase = init_maco_buffer((height, width, 3), seed=1)
    image = maco_spatial_image(magnitude, phase, width).numpy()
    assert image.shape == (height, width, 3)
    measured = np.abs(np.fft.rfft2(image.transpose(2, 0, 1)))
    np.testing.assert_allclose(measured, magnitude.numpy(), rtol=1e-3, atol=1e-3)


def _undo_normalisation(image, values_range):
    """The standardised spatial image back from MaCo's output: undo the scaling to
    values_range, the sigmoid and the colour recorrelation."""
    low, high = values_range
    unit = np.clip((np.asarray(image, np.float64) - low) / (high - low), 1e-7, 1 - 1e-7)
    logits = np.log(unit / (1 - unit))
    if logits.shape[-1] == 3:
        logits = logits @ np.linalg.inv(COLOR_CORRELATION.T.astype(np.float64))
    return logits


@pytest.mark.parametrize("channels, source", [(1, "power_law"), (3, "sample_images")])
def test_maco_image_keeps_the_magnitude_and_changes_the_phase(cnn, rgb_cnn, channels, source):
    model = cnn if channels == 1 else rgb_cnn
    shape = (12, 16, channels)
    image, transparency = maco(Objective.neuron(model, "logits", 1), maco_dataset=source,
                               nb_steps=8, nb_crops=4, custom_shape=shape[:2], seed=0)
    assert image.shape == shape and transparency.shape == shape
    assert np.all(image.numpy() > -1.0) and np.all(image.numpy() < 1.0)
    assert np.all(transparency.numpy() >= 0.0) and transparency.numpy().sum() > 0.0
    spatial = _undo_normalisation(image, (-1, 1))
    measured = np.abs(np.fft.rfft2(spatial.transpose(2, 0, 1)))
    prescribed = magnitude_spectrum(source, shape).numpy()
    off_dc = np.ones_like(prescribed, bool)
    off_dc[:, 0, 0] = False  # the mean is removed by the standardisation
    ratio = measured[off_dc] / prescribed[off_dc]
    np.testing.assert_allclose(ratio, np.median(ratio), rtol=2e-2)
    start = maco_image_parametrization(magnitude_spectrum(source, shape),
                                       init_maco_buffer(shape, seed=0), (-1, 1), shape[1])
    initial_phase = np.angle(np.fft.rfft2(_undo_normalisation(start, (-1, 1)).transpose(2, 0, 1)))
    final_phase = np.angle(np.fft.rfft2(spatial.transpose(2, 0, 1)))
    assert np.mean(np.abs(np.angle(np.exp(1j * (final_phase - initial_phase))))) > 0.1


def test_dataset_spectrum_is_the_mean_fft_magnitude_however_streamed():
    images = np.random.default_rng(0).uniform(size=(10, 6, 8, 1)).astype("float32")
    expected = np.abs(np.fft.rfft2(images.transpose(0, 3, 1, 2))).mean(0)
    for source in (images, tf.data.Dataset.from_tensor_slices(images),
                   tf.data.Dataset.from_tensor_slices((images, np.arange(10))).batch(3)):
        np.testing.assert_allclose(magnitude_spectrum(source, (6, 8, 1)), expected, rtol=1e-4)
    with pytest.raises(ValueError, match="maco_dataset"):
        magnitude_spectrum(images, (6, 8, 3))
    with pytest.raises(ValueError, match="maco_dataset"):
        magnitude_spectrum("imagenet", (6, 8, 3))


def test_sample_images_spectrum_is_cached_and_decays_like_natural_images():
    first = magnitude_spectrum(None, (32, 32, 1)).numpy()
    assert (32, 32, 1) in maco_module._SPECTRA  # pylint: disable=protected-access
    np.testing.assert_array_equal(magnitude_spectrum("sample_images", (32, 32, 1)), first)
    low, high = first[0, 1:3].mean(), first[0, 12:16].mean()
    assert low > 4 * high


def test_maco_step_traced_once_seeds_and_model_input_size(cnn, monkeypatch):
    steps = []
    make = maco_module.make_maco_step

    def recording(*args):
        steps.append(make(*args))
        return steps[-1]

    monkeypatch.setattr(maco_module, "make_maco_step", recording)
    objective = Objective.channel(cnn, "conv2", 0)
    first = maco(objective, nb_steps=3, nb_crops=3, custom_shape=None, seed=2, verbose=True)
    again = maco(objective, nb_steps=3, nb_crops=3, custom_shape=None, seed=2)
    other = maco(objective, nb_steps=3, nb_crops=3, custom_shape=None, seed=3, box_size=0.3)
    assert steps[0].experimental_get_tracing_count() == 1
    assert first[0].shape == (8, 8, 1)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.allclose(first[0], other[0])
    image, _ = maco(objective, nb_steps=2, nb_crops=2, custom_shape=(9, 11),
                    values_range=(0, 255), seed=0)
    assert image.shape == (9, 11, 1) and 0 <= image.numpy().min() < image.numpy().max() <= 255


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(nb_steps=0), ValueError, "nb_steps"),
    (dict(nb_crops=0), ValueError, "nb_crops"),
    (dict(custom_shape=(8, -1)), ValueError, "custom_shape"),
    (dict(custom_shape=8), ValueError, "custom_shape"),
    (dict(box_size=1.5), ValueError, "box_size"),
    (dict(values_range=(0, 0)), ValueError, "values_range"),
    (dict(maco_dataset="nope"), ValueError, "maco_dataset"),
])
def test_maco_bad_arguments(cnn, kwargs, error, message):
    with pytest.raises(error, match=message):
        maco(Objective.neuron(cnn, "logits", 0), **kwargs)


def test_maco_needs_a_single_image_objective(cnn):
    with pytest.raises(ValueError, match="one image"):
        maco(Objective.neuron(cnn, "logits", [0, 1]))


def test_crop_views_equal_crop_and_resize():
    image = tf.constant(np.random.default_rng(0).uniform(size=(12, 16, 3)).astype("float32"))
    boxes = tf.constant([[0.1, 0.2, 0.6, 0.7], [0.0, 0.0, 1.0, 1.0], [0.3, 0.25, 0.4, 0.5]])
    expected = tf.image.crop_and_resize(image[None], boxes, tf.zeros(3, tf.int32), (8, 5))
    np.testing.assert_allclose(maco_module.crop_views(image, boxes, (8, 5)), expected, atol=1e-5)
