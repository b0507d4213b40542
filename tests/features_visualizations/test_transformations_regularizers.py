"""Transformations keep shape and dtype and do what they say; regularizers match numpy."""

import numpy as np
import pytest
import tensorflow as tf

from xplique.features_visualizations import (
    compose_transformations,
    l1_reg,
    l2_reg,
    l_inf_reg,
    pad,
    random_blur,
    random_flip,
    random_jitter,
    random_scale,
    total_variation_reg,
)
from xplique.features_visualizations.transformations import generate_standard_transformations

SHAPES = [(3, 9, 7, 1), (2, 8, 8, 3), (2, 16, 12, 4)]
TRANSFORMATIONS = {
    "pad": pad(2, 0.5),
    "jitter": random_jitter(3),
    "scale": random_scale((0.9, 1.1)),
    "blur": random_blur((1.0, 2.0)),
    "flip": random_flip(vertical=True),
    "standard": generate_standard_transformations(16),
}


def _images(shape, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(size=shape).astype("float32"))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(TRANSFORMATIONS))
def test_transformations_keep_shape_and_dtype_and_are_seeded(name, shape):
    images = _images(shape)
    out = TRANSFORMATIONS[name](images, rng=tf.random.Generator.from_seed(1))
    again = TRANSFORMATIONS[name](images, rng=tf.random.Generator.from_seed(1))
    assert out.shape == images.shape and out.dtype == images.dtype
    np.testing.assert_array_equal(out, again)
    assert np.all(np.isfinite(out))


def test_flip_gives_each_image_or_its_mirror_independently():
    images = _images((64, 4, 5, 1))
    out = random_flip()(images, rng=tf.random.Generator.from_seed(0)).numpy()
    mirrored = images.numpy()[:, :, ::-1]
    flipped = [np.array_equal(o, m) for o, m in zip(out, mirrored)]
    kept = [np.array_equal(o, i) for o, i in zip(out, images.numpy())]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54


def test_pad_adds_a_border_of_the_pad_value_and_identity_cases():
    images = tf.ones((2, 10, 10, 1))
    out = pad(2, pad_value=0.25)(images).numpy()
    np.testing.assert_allclose(out[:, 0], 0.25)
    np.testing.assert_allclose(out[:, :, -1], 0.25)
    np.testing.assert_allclose(out[:, 3:7, 3:7], 1.0, atol=1e-6)  # rows 2 and 7: the edges
    np.testing.assert_allclose(out[:, 1, 1], 0.25)
    np.testing.assert_array_equal(pad(0)(images), images)
    np.testing.assert_array_equal(random_jitter(0)(images), images)
    np.testing.assert_allclose(random_scale((1.0, 1.0))(_images((2, 6, 7, 2))),
                               _images((2, 6, 7, 2)), atol=1e-6)


def test_jitter_is_a_shifted_view_of_the_image():
    # with a ramp image, a crop shifted by d pixels adds a constant to every value
    ramp = np.tile(np.arange(12, dtype="float32")[None, :], (12, 1))[None, ..., None]
    out = random_jitter(4)(tf.constant(ramp), rng=tf.random.Generator.from_seed(0)).numpy()[0]
    steps = np.diff(out[..., 0], axis=1)
    np.testing.assert_allclose(steps, (12 - 4 - 1) / 11, atol=1e-5)  # a (12-4)-wide crop
    assert 0.0 <= out[0, 0, 0] <= 4.0


def test_blur_keeps_constants_inside_and_lowers_the_variance():
    constant = tf.fill((1, 20, 20, 2), 3.0)
    out = random_blur((1.0, 1.1))(constant, rng=tf.random.Generator.from_seed(0)).numpy()
    np.testing.assert_allclose(out[0, 6:14, 6:14], 3.0, rtol=1e-5)
    noise = _images((1, 20, 20, 2))
    blurred = random_blur((1.0, 1.1))(noise, rng=tf.random.Generator.from_seed(0)).numpy()
    assert blurred[0, 5:15, 5:15].std() < 0.5 * noise.numpy()[0, 5:15, 5:15].std()


def test_compose_applies_in_order_and_accepts_functions_of_the_images_alone():
    images = _images((2, 8, 8, 1))
    composed = compose_transformations([lambda x: x + 1.0, pad(2, 0.0), lambda x: x * 2.0])
    np.testing.assert_allclose(composed(images), pad(2, 0.0)(images + 1.0) * 2.0, atol=1e-6)
    with pytest.raises(TypeError, match="transformations"):
        compose_transformations([pad(1), "blur"])


def test_regularizers_match_numpy_formulas():
    images = np.random.default_rng(0).normal(size=(3, 5, 4, 2)).astype("float32")
    tensor = tf.constant(images)
    flat = images.reshape(3, -1)
    tv = (np.abs(np.diff(images, axis=1)).sum((1, 2, 3))
          + np.abs(np.diff(images, axis=2)).sum((1, 2, 3)))
    np.testing.assert_allclose(l1_reg(2.0)(tensor), 2.0 * np.abs(flat).mean(1), rtol=1e-5)
    np.testing.assert_allclose(l2_reg(0.5)(tensor), 0.5 * np.sqrt((flat**2).mean(1)), rtol=1e-5)
    np.testing.assert_allclose(l_inf_reg()(tensor), np.abs(flat).max(1), rtol=1e-6)
    np.testing.assert_allclose(total_variation_reg(3.0)(tensor), 3.0 * tv, rtol=1e-5)
    np.testing.assert_allclose(total_variation_reg()(tensor), tf.image.total_variation(tensor),
                               rtol=1e-5)
    with pytest.raises(TypeError, match="factor"):
        l1_reg("big")


def test_composed_geometric_transformations_equal_the_sequential_ones():
    # a smooth image, so that one bilinear resampling and several agree closely
    rows, cols = np.meshgrid(np.linspace(0, 1, 24), np.linspace(0, 1, 20), indexing="ij")
    smooth = np.sin(3 * rows + 2 * cols)[None, ..., None] * np.ones((3, 1, 1, 2))
    images = tf.constant(smooth.astype("float32"))
    # zooms in only: no zero border enters, whose edge one and several interpolations blur
    # differently
    steps = [random_jitter(3), random_scale((1.0, 1.1)), random_jitter(2),
             random_scale((1.0, 1.05))]
    fused = compose_transformations(steps)(images, rng=tf.random.Generator.from_seed(5))
    rng = tf.random.Generator.from_seed(5)
    sequential = images
    for step in steps:
        sequential = step(sequential, rng=rng)
    np.testing.assert_allclose(fused, sequential, atol=2e-2)
    assert np.abs(fused - sequential).mean() < 5e-3  # a wrong geometry: about 0.1
    padded = compose_transformations([pad(3), random_jitter(2)])(images, rng=rng).numpy()
    assert np.all(padded[:, 0, 0] == 0.0) and np.all(padded[:, -1, -1] == 0.0)


def test_matrix_resampling_equals_crop_and_resize():
    from xplique.features_visualizations.resampling import _resample

    images = _images((3, 9, 7, 2))
    boxes = tf.constant([[0.1, -0.2, 0.8, 1.1], [-0.3, 0.0, 1.3, 1.0], [0.0, 0.0, 1.0, 1.0]])
    expected = tf.image.crop_and_resize(images, boxes, tf.range(3), (9, 7),
                                        extrapolation_value=0.25)
    np.testing.assert_allclose(_resample(images, boxes, 0.25), expected, atol=1e-5)


def test_blur_and_flips_folded_into_the_resampling_equal_applying_them_in_turn():
    images = _images((4, 32, 24, 3))
    folded = generate_standard_transformations(24)(images, rng=tf.random.Generator.from_seed(3))
    # the same stack applied in turn: resampling, blur (a depthwise convolution), resampling,
    # flip, with the same random draws
    unit = 1
    rng = tf.random.Generator.from_seed(3)
    out = compose_transformations([
        pad(unit * 4, 0.0), random_jitter(unit * 2), random_jitter(unit * 2),
        random_jitter(unit * 4), random_jitter(unit * 4), random_jitter(unit * 4),
        random_scale((0.92, 0.96))])(images, rng=rng)
    out = random_blur(sigma_range=(1.0, 1.1))(out, rng=rng)
    out = compose_transformations([random_jitter(unit), random_jitter(unit)])(out, rng=rng)
    out = random_flip()(out, rng=rng)
    np.testing.assert_allclose(folded, out, atol=1e-5)
    # a blur then a vertical flip between two functions of the images alone
    steps = [lambda x: x * 2.0, random_blur((1.0, 2.0), 5), random_flip(vertical=True),
             lambda x: x - 1.0]
    composed = compose_transformations(steps)(images, rng=tf.random.Generator.from_seed(1))
    rng = tf.random.Generator.from_seed(1)
    expected = random_flip(vertical=True)(
        random_blur((1.0, 2.0), 5)(images * 2.0, rng=rng), rng=rng) - 1.0
    np.testing.assert_allclose(composed, expected, atol=1e-5)
