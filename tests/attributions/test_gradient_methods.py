"""Known answers of the gradient attributions on models whose gradients are known in closed form."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import CountingModel, make_inputs, make_model, make_targets, one_hot
from xplique.attributions import (
    GradientInput,
    IntegratedGradients,
    Saliency,
    SmoothGrad,
    SquareGrad,
    VarGrad,
)

NB_CLASSES = 3


def linear_model(shape, seed=0):
    """A bias-free linear model on flattened inputs, and its weight matrix (features, classes)."""
    rng = np.random.default_rng(seed)
    features = int(np.prod(shape))
    weights = rng.normal(size=(features, NB_CLASSES)).astype("float32")
    model = keras.Sequential(
        [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(NB_CLASSES, use_bias=False)]
    )
    model.layers[-1].set_weights([weights])
    return model, weights


def target_weights(weights, shape, targets):
    """W[:, y] reshaped to the input shape, one row per target."""
    return weights[:, targets].T.reshape((len(targets),) + shape)


SHAPES = {"tabular": (5,), "time_series": (4, 3), "images": (4, 5, 3)}


@pytest.fixture(params=sorted(SHAPES))
def linear_case(request):
    shape = SHAPES[request.param]
    model, weights = linear_model(shape)
    x = np.random.default_rng(1).normal(size=(6,) + shape).astype("float32")
    y = make_targets(6)
    return model, x, y, target_weights(weights, shape, y)


def _images_reduced(values, reduce):
    return reduce(values, axis=-1, keepdims=True) if values.ndim == 4 else values


def test_saliency_is_absolute_weights(linear_case):
    model, x, y, w = linear_case
    expected = _images_reduced(np.abs(w), np.max)
    np.testing.assert_allclose(Saliency(model)(x, y).numpy(), expected, atol=1e-6)


def test_gradient_input_is_weights_times_input(linear_case):
    model, x, y, w = linear_case
    expected = _images_reduced(w * x, np.mean)
    np.testing.assert_allclose(GradientInput(model)(x, y).numpy(), expected, atol=1e-5)


def test_integrated_gradients_from_zero_is_weights_times_input(linear_case):
    model, x, y, w = linear_case
    expected = _images_reduced(w * x, np.mean)
    explanations = IntegratedGradients(model, steps=7, batch_size=5)(x, y).numpy()
    np.testing.assert_allclose(explanations, expected, atol=1e-5)


def test_integrated_gradients_baseline_value(linear_case):
    model, x, y, w = linear_case
    explanations = IntegratedGradients(model, steps=3, baseline_value=0.5, reducer=None)(x, y)
    np.testing.assert_allclose(explanations.numpy(), w * (x - 0.5), atol=1e-5)


def test_smoothgrad_without_noise_is_weights(linear_case):
    model, x, y, w = linear_case
    explanations = SmoothGrad(model, noise=0.0, nb_samples=3, reducer=None)(x, y).numpy()
    np.testing.assert_allclose(explanations, w, atol=1e-6)


def test_squaregrad_is_squared_weights(linear_case):
    model, x, y, w = linear_case
    explanations = SquareGrad(model, nb_samples=5, reducer=None, seed=0)(x, y).numpy()
    np.testing.assert_allclose(explanations, w**2, rtol=1e-5, atol=1e-6)


def test_vargrad_of_linear_model_is_zero(linear_case):
    model, x, y, _ = linear_case
    explanations = VarGrad(model, nb_samples=5, reducer=None, seed=0)(x, y).numpy()
    np.testing.assert_allclose(explanations, 0.0, atol=1e-10)


def test_noise_statistics_match_a_slow_oracle():
    """SmoothGrad/SquareGrad/VarGrad equal the mean/mean-square/variance of gradients at the
    exact noisy points, recomputed one by one with the same counter-based noise."""
    from xplique.commons.random import pair_normal

    model = make_model("tabular")
    x, y = make_inputs("tabular", 3), make_targets(3)
    nb_samples, noise, seed = 6, 0.3, 11
    eps = pair_normal(tf.constant(seed, tf.int64), 0, 3 * nb_samples, x.shape[1:]).numpy()
    grads = []
    for i in range(3):
        for k in range(nb_samples):
            point = tf.constant(x[i : i + 1] + noise * eps[i * nb_samples + k])
            with tf.GradientTape() as tape:
                tape.watch(point)
                score = tf.reduce_sum(model(point) * one_hot(y[i : i + 1]))
            grads.append(tape.gradient(score, point).numpy()[0])
    grads = np.array(grads).reshape((3, nb_samples) + x.shape[1:])
    params = dict(nb_samples=nb_samples, noise=noise, seed=seed, batch_size=4)
    np.testing.assert_allclose(SmoothGrad(model, **params)(x, y), grads.mean(1), atol=1e-5)
    np.testing.assert_allclose(SquareGrad(model, **params)(x, y), (grads**2).mean(1), atol=1e-5)
    np.testing.assert_allclose(VarGrad(model, **params)(x, y), grads.var(1, ddof=1), atol=1e-5)


def small_smooth_cnn():
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            keras.layers.Conv2D(4, 3, activation="tanh", padding="same"),
            keras.layers.Conv2D(4, 3, activation="softplus", strides=2),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(NB_CLASSES, activation="sigmoid"),
        ]
    )


def test_integrated_gradients_completeness():
    """Sum of attributions = g(x) - g(baseline), within 1%, at 200 steps."""
    model = small_smooth_cnn()
    x = np.random.default_rng(0).uniform(0, 2, (4, 8, 8, 2)).astype("float32")
    y = np.array([0, 1, 2, 1])
    baseline = 0.1
    attributions = IntegratedGradients(
        model, steps=200, baseline_value=baseline, reducer=None, batch_size=128
    )(x, y).numpy()
    scores = np.sum(model(x).numpy() * one_hot(y), -1)
    base_scores = np.sum(model(np.full_like(x, baseline)).numpy() * one_hot(y), -1)
    difference = scores - base_scores
    assert np.all(np.abs(difference) > 1e-3)
    np.testing.assert_allclose(attributions.sum(axis=(1, 2, 3)), difference, rtol=1e-2)


def test_output_layer_gives_logit_gradients():
    """With `output_layer` set to the logits, gradients are those of the logits, not of the
    softmax probabilities."""
    model = make_model("tabular", softmax=True)
    logits_model = keras.Model(model.inputs, model.get_layer("logits").output)
    x, y = make_inputs("tabular", 4), make_targets(4)
    on_logits = Saliency(model, output_layer="logits")(x, y).numpy()
    np.testing.assert_allclose(on_logits, Saliency(logits_model)(x, y).numpy(), atol=1e-6)
    on_probs = Saliency(model)(x, y).numpy()
    assert not np.allclose(on_logits, on_probs, atol=1e-4)
    by_index = Saliency(model, output_layer=-2)(x, y).numpy()
    np.testing.assert_allclose(by_index, on_logits, atol=1e-6)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(5, activation="tanh")
        self.logits = keras.layers.Dense(NB_CLASSES)
        self.probs = keras.layers.Softmax()

    def call(self, inputs):
        return self.probs(self.logits(self.hidden(inputs)))


def test_model_kinds_agree():
    """Sequential, functional, subclassed models and tf.Modules with the same weights give the
    same explanations; output_layer works on the subclassed model by capturing the layer."""
    functional = make_model("tabular")
    sequential = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
    )
    sequential.set_weights(functional.get_weights())

    class Module(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def __call__(self, inputs):
            return self.model(inputs)

    x, y = make_inputs("tabular", 5), make_targets(5)
    reference = IntegratedGradients(functional, steps=4)(x, y).numpy()
    for model in (sequential, Module(functional)):
        np.testing.assert_allclose(
            IntegratedGradients(model, steps=4)(x, y).numpy(), reference, atol=1e-6
        )

    subclassed = Subclassed()
    subclassed(x)
    logits = subclassed.logits(subclassed.hidden(tf.constant(x)))
    assert Saliency(subclassed)(x, y).shape == (5, 6)
    captured = Saliency(subclassed, output_layer=1)(x, y).numpy()
    w_hidden, b_hidden = subclassed.hidden.get_weights()
    w_logits = subclassed.logits.get_weights()[0]
    derivative = 1 - np.tanh(x @ w_hidden + b_hidden) ** 2
    expected = np.abs(np.einsum("nh,fh,h->nf", derivative, w_hidden, w_logits[:, 0]))
    rows = y == 0
    np.testing.assert_allclose(captured[rows], expected[rows], atol=1e-5)
    assert logits.shape == (5, 3)
    assert "call" not in vars(subclassed.logits), "the captured layer must be restored"


@pytest.mark.parametrize(
    "method, params, evaluations_per_input",
    [
        (Saliency, {}, 1),
        (GradientInput, {}, 1),
        (IntegratedGradients, dict(steps=1001), 1001),
        (SmoothGrad, dict(nb_samples=13), 13),
        (VarGrad, dict(nb_samples=13), 13),
    ],
)
def test_exact_number_of_model_calls(method, params, evaluations_per_input):
    """Every pass evaluates exactly `batch_size` samples (the last one may be smaller), so
    N * samples evaluations take ceil(N * samples / batch_size) passes."""
    counting = CountingModel(make_model("tabular"))
    n, batch_size = 3, 500
    x, y = make_inputs("tabular", n), one_hot(make_targets(n))
    method(counting, batch_size=batch_size, **params)(x, y)
    total = n * evaluations_per_input
    assert int(counting.total) == total
    assert int(counting.calls) == -(-total // batch_size)
    assert int(counting.max_batch) == min(batch_size, total)


def test_integrated_gradients_1001_steps_batch_500_takes_3_calls():
    counting = CountingModel(make_model("tabular"))
    explainer = IntegratedGradients(counting, steps=1001, batch_size=500)
    explainer(make_inputs("tabular", 1), one_hot([0]))
    assert int(counting.calls) == 3


@pytest.mark.parametrize("method", [IntegratedGradients, SmoothGrad])
def test_memory_is_bounded_by_batch_size(method):
    """The largest batch ever evaluated is batch_size, whatever the number of samples."""
    counting = CountingModel(make_model("images"))
    key = "steps" if method is IntegratedGradients else "nb_samples"
    method(counting, batch_size=8, **{key: 400})(make_inputs("images", 2), one_hot([0, 1]))
    assert int(counting.max_batch) == 8
    assert int(counting.total) == 800


def test_reducers():
    model = make_model("images")
    x, y = make_inputs("images", 2), make_targets(2)
    raw = GradientInput(model, reducer=None)(x, y).numpy()
    assert raw.shape == (2, 8, 10, 3)
    for name, reduce in [("mean", np.mean), ("max", np.max), ("min", np.min), ("sum", np.sum)]:
        reduced = GradientInput(model, reducer=name)(x, y).numpy()
        np.testing.assert_allclose(reduced, reduce(raw, axis=-1, keepdims=True), atol=1e-6)
    with pytest.raises(ValueError, match="reducer"):
        GradientInput(model, reducer="median")


@pytest.mark.parametrize(
    "method, params, match, error",
    [
        (IntegratedGradients, dict(steps=1), "steps", ValueError),
        (IntegratedGradients, dict(steps=2.5), "steps", TypeError),
        (SmoothGrad, dict(nb_samples=0), "nb_samples", ValueError),
        (VarGrad, dict(nb_samples=1), "nb_samples", ValueError),
        (SmoothGrad, dict(noise=-1.0), "noise", ValueError),
        (SmoothGrad, dict(seed="a"), "seed", TypeError),
        (Saliency, dict(batch_size=2.0), "batch_size", TypeError),
        (Saliency, dict(operator=42), "operator", TypeError),
    ],
)
def test_bad_parameters(method, params, match, error):
    with pytest.raises(error, match=match):
        method(make_model("tabular"), **params)


def test_custom_operator_and_tasks():
    """A callable operator, a Tasks member and its name all reach the model the same way."""
    from xplique import Tasks

    model = make_model("tabular")
    x, y = make_inputs("tabular", 3), make_targets(3)

    def doubled(model, inputs, targets):
        return 2.0 * tf.reduce_sum(model(inputs) * targets, -1)

    base = Saliency(model)(x, y).numpy()
    np.testing.assert_allclose(Saliency(model, operator=doubled)(x, y).numpy(), 2 * base, atol=1e-6)
    for operator in (Tasks.CLASSIFICATION, "classification", "REGRESSION", Tasks.REGRESSION):
        np.testing.assert_allclose(
            Saliency(model, operator=operator)(x, one_hot(y)).numpy(), base, atol=1e-7
        )
