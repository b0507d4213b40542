"""LIME: known answers on linear models, segment maps, solvers against scikit-learn."""

import math

import numpy as np
import pytest
import tensorflow as tf
from sklearn.linear_model import Lasso, LogisticRegression, Ridge

from tests.conftest import CountingModel, make_inputs, make_model, one_hot
from xplique.attributions import Lime
from xplique.commons.interpretable import sklearn_fit, weighted_ridge

WEIGHTS = np.array([3.0, -2.0, 1.0, 0.5, -0.25, 4.0], "float32")


def _linear(batch):
    return batch @ WEIGHTS


def test_linear_tabular_model_recovers_sign_and_order_of_the_weights():
    x = np.ones((3, 6), "float32")
    explanations = Lime(_linear, nb_samples=400, seed=0)(x, np.zeros(3, int)).numpy()
    for row in explanations:
        np.testing.assert_array_equal(np.sign(row), np.sign(WEIGHTS))
        np.testing.assert_array_equal(np.argsort(row), np.argsort(WEIGHTS))


def test_weighted_ridge_matches_scikit_learn():
    rng = np.random.default_rng(0)
    z = (rng.uniform(size=(3, 40, 5)) < 0.5).astype("float32")
    y = rng.normal(size=(3, 40)).astype("float32")
    w = rng.uniform(size=(3, 40)).astype("float32")
    counts = tf.constant([5, 3, 4])
    z[1, :, 3:] = 0.0
    z[2, :, 4:] = 0.0
    for alpha, estimator in ((2.0, Ridge(alpha=2.0)), (0.5, Ridge(alpha=0.5))):
        fast = weighted_ridge(tf.constant(z), tf.constant(y), tf.constant(w), counts, alpha)
        slow = sklearn_fit(estimator)(tf.constant(z), tf.constant(y), tf.constant(w), counts)
        np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=1e-4, atol=1e-5)


def test_weighted_ridge_with_more_features_than_samples_matches_scikit_learn():
    """Images have more superpixels than LIME draws samples: the dual system is solved."""
    rng = np.random.default_rng(1)
    z = (rng.uniform(size=(2, 12, 30)) < 0.5).astype("float32")
    z[1, :, 25:] = 0.0
    y = rng.normal(size=(2, 12)).astype("float32")
    w = rng.uniform(size=(2, 12)).astype("float32")
    counts = tf.constant([30, 25])
    fast = weighted_ridge(tf.constant(z), tf.constant(y), tf.constant(w), counts, 2.0)
    slow = sklearn_fit(Ridge(alpha=2.0))(tf.constant(z), tf.constant(y), tf.constant(w), counts)
    np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=1e-4, atol=1e-6)
    assert np.all(fast.numpy()[1, 25:] == 0.0)


def test_custom_interpretable_model_is_cloned_not_fitted_in_place():
    lasso = Lasso(alpha=0.01)
    x = np.ones((2, 6), "float32")
    explanations = Lime(_linear, interpretable_model=lasso, nb_samples=300, seed=1)(
        x, np.zeros(2, int)).numpy()
    assert not hasattr(lasso, "coef_")
    np.testing.assert_array_equal(np.sign(explanations[0]), np.sign(WEIGHTS))
    # Xplique's default written explicitly takes the fast path and agrees with the default.
    default = Lime(_linear, nb_samples=50, seed=2)(x, np.zeros(2, int))
    explicit = Lime(_linear, interpretable_model=Ridge(alpha=2), nb_samples=50, seed=2)(
        x, np.zeros(2, int))
    np.testing.assert_allclose(default.numpy(), explicit.numpy(), rtol=1e-5)


def test_precomputed_maps_and_callable_mappings_share_coefficients_per_segment():
    x = make_inputs("images", 3)
    grid = np.repeat(np.repeat(np.arange(20).reshape(4, 5), 2, 0), 2, 1)  # 2x2 superpixels
    model = make_model("images")
    from_maps = Lime(model, nb_samples=30, map_to_interpret_space=np.stack([grid] * 3),
                     seed=0)(x, np.zeros(3, int)).numpy()[..., 0]
    from_callable = Lime(model, nb_samples=30, map_to_interpret_space=lambda image: grid,
                         seed=0)(x, np.zeros(3, int)).numpy()[..., 0]
    np.testing.assert_allclose(from_maps, from_callable, rtol=1e-6)
    for segment in range(20):
        values = from_maps[:, grid == segment]
        np.testing.assert_allclose(values, values[:, :1].repeat(values.shape[1], 1))
    # Precomputed maps follow the inputs across dataset batches.
    dataset = tf.data.Dataset.from_tensor_slices((x, one_hot([0, 0, 0]))).batch(2)
    batched = Lime(model, nb_samples=30, map_to_interpret_space=np.stack([grid] * 3),
                   seed=0)(dataset).numpy()[..., 0]
    np.testing.assert_allclose(batched, from_maps, rtol=1e-5, atol=1e-6)


def test_default_features_per_modality():
    ts = make_inputs("time_series", 2)
    model = lambda batch: batch[:, 2, 1] * 5.0
    maps = Lime(model, nb_samples=200, seed=0)(ts, np.zeros(2, int)).numpy()
    assert maps.shape == (2, 8, 3)
    assert np.all(np.argmax(maps.reshape(2, -1), 1) == 2 * 3 + 1)
    images = Lime(make_model("images"), nb_samples=10, seed=0)(make_inputs("images", 2))
    assert images.shape == (2, 8, 10, 1)


def test_custom_perturbation_and_similarity_functions():
    calls = []

    def one_at_a_time(nb_features, nb_samples):
        calls.append((nb_features, nb_samples))
        rows = np.concatenate([np.eye(nb_features), np.zeros((1, nb_features))])
        return rows[np.arange(nb_samples) % (nb_features + 1)]

    x = np.ones((2, 6), "float32")
    explainer = Lime(_linear, pertub_func=one_at_a_time, nb_samples=14, seed=0,
                     interpretable_model=Ridge(alpha=1e-6),
                     similarity_kernel=lambda inputs, z, perturbed: tf.ones(tf.shape(z)[:1]))
    np.testing.assert_allclose(explainer(x, np.zeros(2, int)).numpy(), [WEIGHTS] * 2,
                               rtol=1e-3)
    assert calls == [(6, 14), (6, 14)]


def test_exact_model_calls_and_scikit_learn_model():
    rng = np.random.default_rng(0)
    train = rng.uniform(size=(80, 6))
    classifier = LogisticRegression().fit(train, (train[:, 0] > 0.5).astype(int))
    x = np.full((3, 6), 0.9, "float32")
    maps = Lime(classifier, nb_samples=100, seed=0)(x, np.ones(3, int)).numpy()
    assert np.all(np.argmax(maps, axis=1) == 0)
    model = CountingModel(make_model("tabular"))
    Lime(model, batch_size=16, nb_samples=10, seed=0)(make_inputs("tabular", 5),
                                                       one_hot([0] * 5))
    assert int(model.calls.numpy()) == math.ceil(50 / 16)
    assert int(model.max_batch.numpy()) == 16


def test_bad_parameters_fail_early():
    with pytest.raises(ValueError, match="distance_mode"):
        Lime(_linear, distance_mode="manhattan")
    with pytest.raises(ValueError, match="prob"):
        Lime(_linear, prob=2.0)
    with pytest.raises(TypeError, match="interpretable_model"):
        Lime(_linear, interpretable_model="ridge")
    with pytest.raises(ValueError, match="map_to_interpret_space"):
        Lime(_linear, map_to_interpret_space=np.zeros((1, 6), int))(np.ones((3, 6)))
    with pytest.raises(ValueError, match="map_to_interpret_space"):
        Lime(_linear, map_to_interpret_space=lambda s: np.zeros(5, int))(np.ones((3, 6)))
    with pytest.raises(ValueError, match="ref_value"):
        Lime(_linear, ref_value=np.zeros(4))(np.ones((3, 6)))


def test_default_segments_fall_back_to_a_grid_on_tiny_images():
    """Superpixels of an 8x8 image are one or two segments; the default then uses a grid, so
    Lime still has features to weigh."""
    from xplique.commons.masks import MIN_SUPERPIXELS, default_segments, grid_segments

    tiny = np.zeros((8, 8, 1), "float32")
    tiny[2:6, 3:5] = 1.0
    segments = default_segments(tiny)
    np.testing.assert_array_equal(segments, grid_segments(8, 8))
    assert len(np.unique(segments)) == 64
    grid = grid_segments(20, 30, cells=4)
    assert grid.shape == (20, 30) and len(np.unique(grid)) == 16
    assert np.all(np.diff(grid[:, 0]) >= 0) and np.all(np.diff(grid[0]) >= 0)
    textured = np.random.default_rng(0).uniform(0, 1, (32, 32, 1)).astype("float32")
    assert len(np.unique(default_segments(textured))) >= MIN_SUPERPIXELS


@pytest.mark.parametrize("distance_mode", ["euclidean", "cosine"])
@pytest.mark.parametrize("modality", ["images", "time_series", "tabular"])
def test_similarity_from_segment_sums_equals_the_distance_to_the_perturbed_copy(
        distance_mode, modality):
    """The default weights are computed from per-segment sums; they must equal
    `exp(-d^2 / width^2)` for the distance `d` between each input and its perturbed copy."""
    from xplique.attributions.lime import ExponentialSimilarity
    from xplique.commons.masks import broadcast_to_input, cell_shape, expand_segments

    rng = np.random.default_rng(0)
    inputs = tf.constant(make_inputs(modality, 3))
    cells = cell_shape(inputs.shape[1:])
    width = 5
    maps = tf.constant(rng.integers(0, width, size=(3,) + cells).astype("int32"))
    reference = tf.constant(rng.uniform(size=inputs.shape[1:]).astype("float32"))
    coalitions = tf.constant((rng.uniform(size=(3, width)) < 0.5).astype("float32"))
    kept = broadcast_to_input(expand_segments(coalitions, maps), inputs.shape.rank)
    perturbed = reference + kept * (inputs - reference)

    similarity = ExponentialSimilarity(distance_mode, kernel_width=3.0)
    statistics = similarity.statistics(inputs, reference, maps, width)
    weights = similarity(inputs, coalitions, perturbed, statistics).numpy()

    flat_x = inputs.numpy().reshape(3, -1).astype("float64")
    flat_p = perturbed.numpy().reshape(3, -1).astype("float64")
    if distance_mode == "euclidean":
        distance = np.linalg.norm(flat_x - flat_p, axis=1)
    else:
        cosine = (flat_x * flat_p).sum(1) / (np.linalg.norm(flat_x, axis=1)
                                              * np.linalg.norm(flat_p, axis=1))
        distance = 1.0 - cosine
    np.testing.assert_allclose(weights, np.exp(-distance**2 / 9.0), rtol=1e-5, atol=1e-6)


def test_non_binary_perturbation_function_is_refused():
    explainer = Lime(_linear, pertub_func=lambda features, samples: np.full(
        (samples, features), 0.5), nb_samples=4)
    with pytest.raises(ValueError, match="binary"):
        explainer(np.ones((1, 6), "float32"), np.zeros(1, int))


@pytest.mark.parametrize("with_designs", [False, True])
def test_a_new_number_of_features_does_not_trace_again(with_designs):
    """The design width follows the inputs' segment counts; it must not cause a trace."""
    rows = np.concatenate([np.eye(6), np.zeros((1, 6))])
    kwargs = dict(pertub_func=lambda f, n: rows[np.arange(n) % (f + 1), :f]) \
        if with_designs else {}
    explainer = Lime(_linear, nb_samples=8, seed=0, **kwargs)
    x = np.ones((2, 6), "float32")
    explainer.map_to_interpret_space = np.array([[0, 0, 1, 1, 2, 2]] * 2)
    explainer(x, np.zeros(2, int))
    traces = explainer.tracing_count
    explainer.map_to_interpret_space = np.array([[0, 1, 2, 3, 4, 5]] * 2)
    explainer(x, np.zeros(2, int))
    assert explainer.tracing_count == traces
