"""TTA: identity, un-flipping, mapping zooms and resizes back, one class for every copy,
validation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import make_inputs, make_model, make_targets
from xplique.attributions import TTA, FORGrad, GradCAM, Saliency

ONE_PIXEL = 1 / 12 + 2 / 16


class _Echo:
    """A fake explainer whose explanation is its input's first channel, so every map shows
    where the copy's pixels came from. `model` decides TTA's scaling mode."""

    def __init__(self, model=None):
        self.model = model
        self.calls = []

    def explain(self, inputs, targets=None):
        self.calls.append(tuple(inputs.shape))
        return tf.convert_to_tensor(inputs)[..., :1]


def _ramp(n=2, height=12, width=16):
    """Images rising by about 0.2 per pixel; resizing down then up blurs by up to a pixel, so
    maps that come back to the right place agree with the image within ONE_PIXEL."""
    rows, columns = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    image = (rows / height + 2 * columns / width).astype("float32")
    return np.stack([np.stack([image, -image], axis=-1)] * n)


@pytest.mark.parametrize("make_explainer", [Saliency, GradCAM])
def test_identity_equals_the_wrapped_explainer(make_explainer):
    model = make_model("images")
    x, y = make_inputs("images", 4), make_targets(4)
    explainer = make_explainer(model)
    np.testing.assert_array_equal(TTA(explainer, scales=(1.0,), flips=False)(x, y).numpy(),
                                  explainer(x, y).numpy())


def test_flips_are_undone():
    x = np.random.default_rng(0).uniform(size=(3, 6, 9, 2)).astype("float32")
    echo = _Echo()
    np.testing.assert_array_equal(TTA(echo, scales=(1.0,), flips=True)(x).numpy(), x[..., :1])
    assert echo.calls == [(6, 6, 9, 2)]  # both copies in one call of the wrapped explainer


def test_zoom_keeps_the_model_size_and_maps_back():
    x = _ramp()
    echo = _Echo(make_model("images"))  # fixed input size: scales are zooms
    zoomed_out = TTA(echo, scales=(0.5,), flips=True)(x).numpy()
    assert echo.calls == [(2 * len(x),) + x.shape[1:]]  # two copies of the model's size
    np.testing.assert_allclose(zoomed_out, x[..., :1], atol=ONE_PIXEL)
    zoomed_in = TTA(_Echo(), scales=(2.0,), flips=False)(x).numpy()
    # Only the central half of the image is seen; it maps back close to the image there,
    # the border was seen by no copy and is zero.
    np.testing.assert_allclose(zoomed_in[:, 4:8, 5:11], x[:, 4:8, 5:11, :1], atol=ONE_PIXEL)
    assert np.all(zoomed_in[:, 0] == 0) and np.all(zoomed_in[:, :, 0] == 0)


def test_size_agnostic_models_are_resized():
    x = _ramp()
    free = keras.Sequential([keras.Input((None, None, 2)), keras.layers.Conv2D(1, 1)])
    echo = _Echo(free)
    averaged = TTA(echo, scales=(1.0, 0.5, 1.5), flips=False)(x).numpy()
    assert echo.calls == [(2, 12, 16, 2), (2, 6, 8, 2), (2, 18, 24, 2)]
    np.testing.assert_allclose(averaged, x[..., :1], atol=ONE_PIXEL)


def test_copies_are_explained_together_every_batch_size_images():
    """Copies of the same shape share the wrapped explainer's calls, `batch_size` images at a
    time, and give what explaining each copy on its own gives."""
    model = make_model("images")
    x, y = make_inputs("images", 5), make_targets(5)
    saliency = Saliency(model, batch_size=2)
    tta = TTA(saliency, scales=(1.0, 0.7), flips=True)
    from xplique.attributions.meta.tta import _augment, _restore

    total, coverage = 0.0, 0.0
    for scale in (1.0, 0.7):
        for flip in (False, True):  # one call per copy, on all the images
            view = _augment(tf.constant(x), scale, flip, False)
            back, covered = _restore(saliency(view, y), scale, flip, False, x.shape[1:3])
            total, coverage = total + back, coverage + covered
    np.testing.assert_allclose(tta(x, y).numpy(), (total / coverage).numpy(), rtol=1e-5,
                               atol=1e-6)
    echo = _Echo(model)
    echo.batch_size = 2
    TTA(echo, scales=(1.0, 0.7), flips=True)(x, y)
    assert echo.calls == [(8,) + x.shape[1:]] * 2 + [(4,) + x.shape[1:]]


def test_targets_none_explains_the_original_top_class_in_every_copy():
    model = make_model("images")
    x = make_inputs("images", 5)
    top = np.argmax(model(x).numpy(), axis=-1)
    tta = TTA(Saliency(model), scales=(1.0, 1.3), flips=True)
    np.testing.assert_allclose(tta(x).numpy(), tta(x, top).numpy(), atol=1e-6)


def test_datasets_are_streamed():
    model = make_model("images")
    x, y = make_inputs("images", 5), make_targets(5)
    tta = TTA(Saliency(model, batch_size=2), scales=(1.0, 0.8), flips=True)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    np.testing.assert_allclose(tta(dataset).numpy(), tta(x, y).numpy(), atol=1e-6)


def test_validation():
    model = make_model("images")
    explainer = Saliency(model)
    with pytest.raises(ValueError, match="scales"):
        TTA(explainer, scales=())
    with pytest.raises(ValueError, match="scales"):
        TTA(explainer, scales=(1.0, 0.0))
    with pytest.raises(TypeError, match="scales"):
        TTA(explainer, scales="1.0")
    with pytest.raises(TypeError, match="flips"):
        TTA(explainer, flips="yes")
    with pytest.raises(TypeError, match="explainer"):
        TTA(model)
    with pytest.raises(ValueError, match="inputs"):
        TTA(Saliency(make_model("tabular")))(make_inputs("tabular", 2), [0, 1])


def test_nested_meta_explainers_pick_one_class():
    model = make_model("images")
    x = make_inputs("images", 3)
    top = np.argmax(model(x).numpy(), axis=-1)
    tta = TTA(FORGrad(Saliency(model), sigma=3), scales=(1.0, 1.4), flips=True)
    np.testing.assert_allclose(tta(x).numpy(), tta(x, top).numpy(), atol=1e-6)
