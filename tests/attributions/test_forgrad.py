"""FORGrad: rank and constants kept, frequencies cut at sigma, an FFT oracle, validation, and
the meta-explainer."""

import numpy as np
import pytest

import xplique
from tests.conftest import make_inputs, make_model, make_targets
from xplique.attributions import FORGrad, Saliency
from xplique.commons import forgrad


@pytest.mark.parametrize("shape", [(2, 8, 8), (2, 7, 7), (2, 7, 10), (2, 8, 8, 1), (2, 9, 9, 1),
                                   (1, 6, 11, 1), (2, 5, 6, 3)])
def test_constant_maps_stay_constant_and_keep_their_rank(shape):
    maps = np.full(shape, -2.5, "float32")
    filtered = forgrad(maps, sigma=1).numpy()
    assert filtered.shape == shape
    np.testing.assert_allclose(filtered, maps, atol=1e-5)


def test_frequencies_below_sigma_pass_above_are_removed():
    rows, columns = np.meshgrid(np.arange(12), np.arange(16), indexing="ij")
    low = np.cos(2 * np.pi * 2 * columns / 16)  # 2 cycles across the width
    high = np.cos(2 * np.pi * 5 * rows / 12)  # 5 cycles down the height
    maps = (1.0 + low + high)[None].astype("float32")
    np.testing.assert_allclose(forgrad(maps, sigma=3).numpy()[0], 1.0 + low, atol=1e-5)
    np.testing.assert_allclose(forgrad(maps, sigma=5).numpy()[0], maps[0], atol=1e-5)
    np.testing.assert_allclose(forgrad(maps, sigma=1).numpy()[0], np.ones((12, 16)), atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 9, 13), (2, 10, 6)])
def test_matches_a_full_fft_oracle(shape):
    maps = np.random.default_rng(0).normal(size=shape)
    sigma = 3.5
    fy = np.fft.fftfreq(shape[1]) * shape[1]
    fx = np.fft.fftfreq(shape[2]) * shape[2]
    keep = (fy[:, None] ** 2 + fx[None, :] ** 2) <= sigma**2
    expected = np.real(np.fft.ifft2(np.fft.fft2(maps) * keep))
    np.testing.assert_allclose(forgrad(maps.astype("float32"), sigma).numpy(), expected,
                               atol=1e-5)


def test_channels_are_filtered_separately():
    maps = np.random.default_rng(1).normal(size=(2, 8, 9, 3)).astype("float32")
    filtered = forgrad(maps, 2).numpy()
    for c in range(3):
        np.testing.assert_allclose(filtered[..., c], forgrad(maps[..., c], 2).numpy(), atol=1e-6)


def test_validation():
    maps = np.ones((1, 4, 4), "float32")
    for sigma in (0, -1.0):
        with pytest.raises(ValueError, match="sigma"):
            forgrad(maps, sigma)
    with pytest.raises(TypeError, match="sigma"):
        forgrad(maps, "15")
    with pytest.raises(ValueError, match="explanations"):
        forgrad(np.ones((3, 4), "float32"))
    with pytest.raises(TypeError, match="explanations"):
        forgrad(np.array([["a"]]))


def test_the_package_attribute_is_the_function():
    maps = np.random.default_rng(2).normal(size=(1, 6, 6)).astype("float32")
    np.testing.assert_array_equal(xplique.commons.forgrad(maps, 2).numpy(),
                                  forgrad(maps, 2).numpy())


def test_meta_explainer_filters_any_explainer():
    model = make_model("images")
    x, y = make_inputs("images", 3), make_targets(3)
    expected = forgrad(Saliency(model)(x, y), sigma=2).numpy()
    np.testing.assert_array_equal(FORGrad(Saliency(model), sigma=2)(x, y).numpy(), expected)
    with pytest.raises(ValueError, match="sigma"):
        FORGrad(Saliency(model), sigma=0)
    with pytest.raises(TypeError, match="explainer"):
        FORGrad(model)
