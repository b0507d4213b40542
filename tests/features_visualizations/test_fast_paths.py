"""The fast paths of the optimisation step compute what the plain operations compute: the
random transformations folded into matrices from their draws (XLA-compiled where XLA runs),
the channels-first render and transformation, and the sigmoid min-max scaling's hand-written
gradient."""

import numpy as np
import pytest
import tensorflow as tf

from xplique.features_visualizations import random_blur, random_flip, random_jitter, random_scale
from xplique.features_visualizations.optim import _min_max, sigmoid_min_max, to_valid_images
from xplique.features_visualizations.preconditioning import (
    fft_image,
    fft_to_channels_first,
    fft_to_rgb,
    get_fft_scale,
    recorrelate_colors_channels_first,
)
from xplique.features_visualizations.resampling import _folded_matrices
from xplique.features_visualizations.transformations import (
    compose_transformations,
    generate_standard_transformations,
)


def _images(shape, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(size=shape).astype("float32"))


@pytest.mark.parametrize("shape", [(4, 32, 32, 3), (3, 12, 9, 1)], ids=str)
def test_folded_matrices_are_the_uncompiled_ones_from_the_same_draws(shape):
    """The folded run draws exactly what applying its transformations one after the other
    draws (same generator calls, same order), and its compiled matrices equal the plain
    construction from those draws."""
    transformation = generate_standard_transformations(min(shape[1:3]))
    (run,) = transformation.segments  # the whole standard stack folds into one run
    batch, height, width = shape[0], shape[1], shape[2]
    compiled = run.matrices((batch, height, width), tf.random.Generator.from_seed(7))
    rng = tf.random.Generator.from_seed(7)
    draws = [() if getattr(f, "identity", False) else f.draw((batch, height, width), rng)
             for f in run.functions]
    plain = _folded_matrices((batch, height, width), run.functions, draws)
    for fast, slow in zip(compiled, plain):
        np.testing.assert_allclose(fast, slow, atol=1e-5)
    # the generator ends where the one-by-one transformations leave it
    images, sequential = _images(shape), tf.random.Generator.from_seed(7)
    for function in run.functions:
        images = function(images, rng=sequential)
    np.testing.assert_array_equal(rng.state.numpy(), sequential.state.numpy())


def test_channels_first_transformation_equals_the_channels_last_one():
    steps = [random_jitter(3), random_scale((0.9, 1.0)), random_blur((1.0, 1.5)),
             random_flip(vertical=True)]
    transformation = compose_transformations(steps)
    images = _images((3, 16, 12, 2))
    expected = transformation(images, rng=tf.random.Generator.from_seed(2))
    planes = tf.transpose(images, [0, 3, 1, 2])
    got = transformation.channels_first(planes, tf.random.Generator.from_seed(2))
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("normalizer", ["sigmoid", "clip"])
def test_channels_first_render_equals_the_channels_last_one(normalizer):
    shape = (2, 10, 8, 3)
    buffer = fft_image(shape, 0.5, seed=0)
    scale = get_fft_scale(shape[2], shape[1], 0.85)
    function = tf.nn.sigmoid if normalizer == "sigmoid" else (
        lambda x: tf.clip_by_value(x, 0.0, 1.0))
    weights = _images(shape, seed=3)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(buffer)
        last = to_valid_images(fft_to_rgb(shape, buffer, scale), function, (0.0, 1.0))
        planes = recorrelate_colors_channels_first(fft_to_channels_first(shape, buffer, scale))
        first = tf.transpose(_min_max(function(planes), (0.0, 1.0)) if normalizer == "clip"
                             else sigmoid_min_max(planes, (0.0, 1.0)), [0, 2, 3, 1])
        loss_last, loss_first = (tf.reduce_sum(x * weights) for x in (last, first))
    np.testing.assert_allclose(first, last, atol=1e-6)
    np.testing.assert_allclose(tape.gradient(loss_first, buffer),
                               tape.gradient(loss_last, buffer), atol=1e-5)


@pytest.mark.parametrize("values_range", [(0.0, 1.0), (-1.0, 2.0)])
def test_sigmoid_min_max_gradient_equals_autodiff(values_range):
    images = tf.random.stateless_normal((3, 9, 7, 2), (1, 2)) * 3.0
    weights = tf.random.stateless_normal(images.shape, (3, 4))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(images)
        plain = _min_max(tf.nn.sigmoid(images), values_range)
        fast = sigmoid_min_max(images, values_range)
        loss_plain, loss_fast = (tf.reduce_sum(x * weights) for x in (plain, fast))
    np.testing.assert_array_equal(fast, plain)
    gradient = tape.gradient(loss_plain, images)
    np.testing.assert_allclose(tape.gradient(loss_fast, images), gradient, atol=1e-6)
    assert np.abs(gradient).max() > 0.1  # the extrema's share is part of it


def test_fused_adam_equals_keras_adam_and_only_replaces_a_plain_one():
    import keras

    from xplique.features_visualizations.ascent import fused_adam

    gradients = [tf.random.stateless_normal((3, 4), (index, 0)) for index in range(6)]
    reference, fused = tf.Variable(tf.ones((3, 4))), tf.Variable(tf.ones((3, 4)))
    keras_adam, plain_adam = keras.optimizers.Adam(0.05), keras.optimizers.Adam(0.05)
    keras_adam.build([reference])
    plain_adam.build([fused])
    update = tf.function(fused_adam(plain_adam, fused))
    for gradient in gradients:
        keras_adam.apply_gradients([(gradient, reference)])
        update(gradient)
    np.testing.assert_allclose(fused.numpy(), reference.numpy(), atol=1e-5)
    assert int(plain_adam.iterations) == int(keras_adam.iterations) == 6
    assert np.abs(fused.numpy() - 1.0).max() > 0.1  # it moved
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, 10, 0.5)
    for other in (keras.optimizers.Adam(0.05, amsgrad=True), keras.optimizers.SGD(0.1),
                  keras.optimizers.Adam(0.05, clipnorm=1.0), keras.optimizers.Adam(schedule)):
        other.build([fused])
        assert fused_adam(other, fused) is None
