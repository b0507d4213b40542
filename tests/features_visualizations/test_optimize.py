"""`optimize`: known optima on linear models, monotone progress, one batch and one trace,
seeds, snapshots and argument checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique.features_visualizations import Objective, l1_reg, optim, optimize, random_flip

from .conftest import linear_model


@pytest.mark.parametrize("use_fft", [False, True], ids=["pixels", "fourier"])
@pytest.mark.parametrize("channels", [1, 3], ids=["gray", "rgb"])
def test_linear_neuron_image_correlates_with_its_weights(use_fft, channels):
    # the maximiser of w . x over images in [0, 1] is 1 where w > 0 and 0 where w < 0
    model = linear_model((6, 5, channels))
    weights = model.get_layer("linear").get_weights()[0][:, 0]
    images, names = optimize(Objective.neuron(model, "linear", 0), nb_steps=30, use_fft=use_fft,
                             custom_shape=None, transformations=None, seed=0)
    image = images[-1].numpy()
    assert image.shape == (1, 6, 5, channels) and names == ["Neuron#linear#0"]
    assert np.corrcoef(image.ravel(), weights)[0, 1] > 0.6
    assert image.min() >= 0.0 and image.max() <= 1.0


def _objective_values(objective, images):
    model, function, _, input_shape = objective.compile()
    return function(model(tf.image.resize(images, input_shape[1:3]))).numpy()


def test_channel_objective_value_increases_over_the_run(cnn):
    objective = Objective.channel(cnn, "conv1", [1, 3])
    images, _ = optimize(objective, nb_steps=24,
                         custom_shape=(16, 16), save_every=1, seed=0)
    first, last = _objective_values(objective, images[0]), _objective_values(objective, images[-1])
    assert np.all(last > 1.05 * first)


def test_direction_objective_aligns_the_activation_with_the_vector():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 5, 1))
    hidden = keras.layers.Dense(4, name="hidden")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    vector = np.random.default_rng(0).normal(size=4).astype("float32")
    images, _ = optimize(Objective.direction(model, "hidden", vector), nb_steps=40,
                         custom_shape=(12, 10), transformations=None, save_every=1, seed=0)
    extractor = keras.Model(model.inputs[0], model.get_layer("hidden").output)

    def cosine(image):
        activation = extractor(tf.image.resize(image, (6, 5))).numpy()[0]
        return activation @ vector / np.linalg.norm(activation) / np.linalg.norm(vector)

    assert cosine(images[-1]) > 0.9 and cosine(images[-1]) > cosine(images[0]) + 0.1


def test_every_combination_is_optimised_in_one_batch_by_one_trace(cnn, monkeypatch):
    steps = []
    make_step = optim.make_step

    def recording(model, *args):
        counting = CountingFeatures(model)
        step = make_step(counting, *args)
        steps.append((step, counting))
        return step

    monkeypatch.setattr(optim, "make_step", recording)
    objective = Objective.neuron(cnn, "logits", [0, 1, 2]) + Objective.channel(cnn, "conv2", [0, 1])
    images, names = optimize(objective, nb_steps=7, custom_shape=(12, 9), seed=0)
    (step, counting), = steps
    assert step.experimental_get_tracing_count() == 1
    assert int(counting.calls) == 7 and int(counting.max_batch) == 6
    assert images[-1].shape == (6, 12, 9, 1) and len(names) == 6


class CountingFeatures(tf.Module):
    """Counts the model runs of a compiled step and the largest batch."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.calls = tf.Variable(0, dtype=tf.int64)
        self.max_batch = tf.Variable(0, dtype=tf.int64)

    def __call__(self, inputs, training=False):
        self.calls.assign_add(1)
        self.max_batch.assign(tf.maximum(self.max_batch, tf.cast(tf.shape(inputs)[0], tf.int64)))
        return self.model(inputs, training=training)


def test_same_seed_same_images_and_snapshots_are_the_shorter_runs(cnn):
    objective = Objective.channel(cnn, "conv2", [0, 4])
    run = dict(nb_steps=4, custom_shape=(16, 12), regularizers=[l1_reg(0.1)])
    first, _ = optimize(objective, save_every=2, seed=3, **run)
    again, _ = optimize(objective, save_every=2, seed=3, **run)
    other, _ = optimize(objective, save_every=2, seed=4, **run)
    assert len(first) == 2  # steps 2 and 4 (the last is the final image)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[-1], other[-1])
    shorter, _ = optimize(objective, save_every=3, seed=3, **dict(run, nb_steps=2))
    assert len(shorter) == 1  # no snapshot at step 3 of 2: the final images only
    np.testing.assert_allclose(first[0], shorter[-1], atol=1e-6)


def test_non_square_rgb_values_range_and_clip_normalizer(rgb_cnn):
    images, _ = optimize(Objective.neuron(rgb_cnn, "logits", 1), nb_steps=3,
                         custom_shape=(20, 14), values_range=(-1, 1), image_normalizer="clip",
                         seed=0)
    image = images[-1].numpy()
    assert image.shape == (1, 20, 14, 3)
    np.testing.assert_allclose([image.min(), image.max()], [-1.0, 1.0], atol=1e-5)


def test_custom_transformations_warmup_and_caller_objects_untouched(cnn):
    optimizer = keras.optimizers.Adam(0.1)
    weights = [w.copy() for w in cnn.get_weights()]
    images, _ = optimize(Objective.neuron(cnn, "logits", 0), optimizer=optimizer, nb_steps=3,
                         custom_shape=None, warmup_steps=2,
                         transformations=[lambda x: x * 1.0, random_flip()], seed=0,
                         verbose=True)
    assert images[-1].shape == (1, 8, 8, 1)
    assert int(optimizer.iterations) == 0 and not optimizer.built
    for before, after in zip(weights, cnn.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_redirected_relu_lets_rising_gradients_through():
    x = tf.constant([-1.0, -1.0, 2.0, 2.0])
    upstream = tf.constant([1.0, -1.0, 1.0, -1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = optim.redirected_relu(x)
    np.testing.assert_array_equal(y, [0.0, 0.0, 2.0, 2.0])
    np.testing.assert_array_equal(tape.gradient(y, x, upstream), [1.0, 0.0, 1.0, -1.0])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(nb_steps=0), ValueError, "nb_steps"),
    (dict(nb_steps=2.5), TypeError, "nb_steps"),
    (dict(custom_shape=(0, 8)), ValueError, "custom_shape"),
    (dict(custom_shape=(8,)), ValueError, "custom_shape"),
    (dict(custom_shape=(8.0, 8)), ValueError, "custom_shape"),
    (dict(custom_shape="big"), ValueError, "custom_shape"),
    (dict(values_range=(1, 0)), ValueError, "values_range"),
    (dict(transformations="fancy"), ValueError, "transformations"),
    (dict(image_normalizer="tanh"), ValueError, "image_normalizer"),
    (dict(save_every=0), ValueError, "save_every"),
    (dict(regularizers=[3]), TypeError, "regularizers"),
    (dict(optimizer="adam"), TypeError, "optimizer"),
])
def test_bad_arguments_raise_clear_errors(cnn, kwargs, error, message):
    with pytest.raises(error, match=message):
        optimize(Objective.neuron(cnn, "logits", 0), **kwargs)


def test_objective_must_be_an_objective(cnn):
    with pytest.raises(TypeError, match="objective"):
        optimize(cnn)
