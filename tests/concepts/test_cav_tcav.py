"""Cav and Tcav: planted concept directions, closed forms, the significance test, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique.concepts import Cav, Tcav, TcavSignificance

DIM = 8


def planted_model(seed=0):
    """Inputs -> "latent" (identity Dense, so activations = inputs) -> ReLU-free "logits"."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((DIM,))
    latent = keras.layers.Dense(DIM, use_bias=False, kernel_initializer="identity",
                                name="latent")(inputs)
    hidden = keras.layers.Dense(6, activation="tanh", name="hidden")(latent)
    logits = keras.layers.Dense(3, name="logits")(hidden)
    return keras.Model(inputs, logits)


def planted_direction():
    direction = np.zeros(DIM, np.float32)
    direction[[1, 4, 6]] = [1.0, -0.5, 0.8]
    return direction / np.linalg.norm(direction)


def concept_sets(n=120, shift=4.0, seed=0):
    rng = np.random.default_rng(seed)
    negatives = rng.normal(size=(n, DIM)).astype("float32")
    positives = rng.normal(size=(n, DIM)).astype("float32") + shift * planted_direction()
    return positives, negatives


def cosine(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


class Probe:
    """A user classifier: least squares on +-1 labels (fit/score/coef_)."""

    def fit(self, x, y):
        design = np.c_[x, np.ones(len(x))]
        solution = np.linalg.lstsq(design, 2.0 * y - 1.0, rcond=None)[0]
        self.coef_, self.intercept_ = solution[None, :-1], solution[-1]
        return self

    def score(self, x, y):
        return float(((x @ self.coef_[0] + self.intercept_ > 0) == (y == 1)).mean())


@pytest.mark.parametrize("classifier", ["SGD", "SVC", "mean", Probe()],
                         ids=["sgd", "svc", "mean", "object"])
def test_cav_recovers_planted_direction(classifier):
    model = planted_model()
    positives, negatives = concept_sets()
    cav = Cav(model, "latent", classifier=classifier, seed=0)
    vector = cav(positives, negatives)
    assert vector.dtype == tf.float32 and tuple(vector.shape) == (DIM,)
    assert np.isclose(np.abs(vector.numpy()).sum(), 1.0, atol=1e-5)
    assert cosine(vector, planted_direction()) > 0.9
    assert cav.accuracy is not None and cav.accuracy > 0.9


def test_fastcav_equals_mean_difference_formula_and_is_batch_size_invariant():
    model = planted_model()
    positives, negatives = concept_sets(n=50)
    results = []
    for batch_size in (1, 7, 64):
        cav = Cav(model, "latent", classifier="mean", test_fraction=0.0, batch_size=batch_size)
        results.append(cav(positives, negatives).numpy())
    difference = positives.mean(0) - negatives.mean(0)  # the layer is the identity
    expected = difference / np.abs(difference).sum()
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


def test_fastcav_held_out_split_and_accuracy_follow_the_formula():
    model = planted_model()
    positives, negatives = concept_sets(n=60, shift=1.0)
    cav = Cav(model, "latent", classifier="mean", test_fraction=0.3, seed=3)
    vector = cav(tf.data.Dataset.from_tensor_slices(positives).batch(16),
                 tf.data.Dataset.from_tensor_slices(negatives))
    # The same split through the sklearn-path helper on materialised activations.
    from xplique.commons.random import pair_uniform
    test_p = (pair_uniform(3, 0, 60, (), stream=0) < 0.3).numpy()
    test_n = (pair_uniform(3, 0, 60, (), stream=1) < 0.3).numpy()
    mean_p, mean_n = positives[~test_p].mean(0), negatives[~test_n].mean(0)
    difference = mean_p - mean_n
    np.testing.assert_allclose(vector.numpy(), difference / np.abs(difference).sum(), atol=1e-5)
    midpoint = (mean_p + mean_n) / 2
    right = ((positives[test_p] - midpoint) @ difference > 0).sum()
    right += ((negatives[test_n] - midpoint) @ difference <= 0).sum()
    assert cav.accuracy == pytest.approx(right / (test_p.sum() + test_n.sum()))


def test_cav_layer_by_index_equals_by_name_and_model_untouched():
    model = planted_model()
    weights = [w.copy() for w in model.get_weights()]
    positives, negatives = concept_sets(n=40)
    kept = positives.copy()
    by_name = Cav(model, "latent", classifier="SGD", seed=1)(positives, negatives)
    index = [layer.name for layer in model.layers].index("latent")
    by_index = Cav(model, index, classifier="SGD", seed=1)(positives, negatives)
    np.testing.assert_allclose(by_name.numpy(), by_index.numpy())
    np.testing.assert_array_equal(positives, kept)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_cav_keeps_the_layer_shape_of_conv_maps():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    maps = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(maps)))
    rng = np.random.default_rng(0)
    positives = rng.uniform(size=(30, 6, 6, 1)).astype("float32")
    positives[:, :3] += 1.0
    negatives = rng.uniform(size=(30, 6, 6, 1)).astype("float32")
    vector = Cav(model, "conv", classifier="mean", test_fraction=0.0)(positives, negatives)
    assert tuple(vector.shape) == (6, 6, 2)
    activations = keras.Model(inputs, maps)
    difference = (activations(positives).numpy().mean(0)
                  - activations(negatives).numpy().mean(0))
    np.testing.assert_allclose(vector.numpy(), difference / np.abs(difference).sum(), atol=1e-5)


def test_cav_verbose_reports_accuracy(capsys):
    positives, negatives = concept_sets(n=30)
    Cav(planted_model(), "latent", classifier="mean", verbose=True, seed=0)(positives, negatives)
    assert "held-out accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, error", [
    (dict(target_layer="nope"), ValueError),
    (dict(target_layer=99), ValueError),
    (dict(classifier="forest"), ValueError),
    (dict(classifier=object()), ValueError),
    (dict(test_fraction=1.0), ValueError),
    (dict(batch_size=0), ValueError),
])
def test_cav_bad_parameters(kwargs, error):
    arguments = dict(target_layer="latent")
    arguments.update(kwargs)
    with pytest.raises(error):
        Cav(planted_model(), **arguments)


def test_cav_bad_inputs_name_the_set():
    positives, negatives = concept_sets(n=10)
    cav = Cav(planted_model(), "latent", classifier="mean")
    with pytest.raises(ValueError, match="negative_dataset"):
        cav(positives, np.zeros((0, DIM), np.float32))
    with pytest.raises(ValueError, match="positive_dataset"):
        cav(np.zeros((5, DIM + 1), np.float32), negatives)
    with pytest.raises(ValueError, match="same activations"):
        Cav(planted_model(), "latent", classifier="mean", test_fraction=0.0)(negatives, negatives)


# -- Tcav ------------------------------------------------------------------------------------


def linear_head_model():
    """latent (identity) -> logits = latent @ K: the class gradient is the column K[:, c]."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((DIM,))
    latent = keras.layers.Dense(DIM, use_bias=False, kernel_initializer="identity",
                                name="latent")(inputs)
    logits = keras.layers.Dense(3, name="logits")(latent)
    return keras.Model(inputs, logits)


def test_tcav_is_one_along_the_class_gradient_and_zero_against_it():
    model = linear_head_model()
    gradient = model.get_layer("logits").kernel.numpy()[:, 2]
    inputs = np.random.default_rng(0).normal(size=(20, DIM)).astype("float32")
    tcav = Tcav(model, "latent", batch_size=7)
    assert tcav(inputs, 2, gradient) == 1.0
    assert tcav.score(inputs, 2, -gradient) == 0.0


def test_tcav_counts_inputs_with_a_positive_directional_derivative():
    model = planted_model()
    inputs = np.random.default_rng(1).normal(size=(33, DIM)).astype("float32")
    cav = planted_direction()
    split = keras.Model(model.inputs, [model.get_layer("latent").output, model.outputs[0]])
    x = tf.constant(inputs)
    with tf.GradientTape() as tape:
        latent, logits = split(x)
        score = tf.reduce_sum(logits[:, 1])
    expected = float(np.mean(tape.gradient(score, latent).numpy() @ cav > 0))
    assert 0.0 < expected < 1.0  # a nonlinear head: a real fraction
    for batch_size in (1, 5, 64):
        tcav = Tcav(model, "latent", batch_size=batch_size)
        assert tcav(inputs, 1, cav) == pytest.approx(expected)
        assert tcav(tf.data.Dataset.from_tensor_slices(inputs), 1, cav) == pytest.approx(expected)
        # one-hot label row and an explicit operator give the same score
        assert tcav(inputs, np.eye(3, dtype="float32")[1], cav) == pytest.approx(expected)
    with_operator = Tcav(model, "latent", operator="classification")
    assert with_operator(inputs, 1, cav) == pytest.approx(expected)


def test_tcav_compiles_once_per_signature():
    model = planted_model()
    tcav = Tcav(model, "latent", batch_size=4)
    inputs = np.random.default_rng(2).normal(size=(10, DIM)).astype("float32")
    for count in (10, 3, 7):
        tcav(inputs[:count], 0, planted_direction())
    # full chunks of 4 run the static-batch kernel, the ragged last ones the relaxed kernel
    assert tcav._full_derivatives.tracing_count == 1  # pylint: disable=protected-access
    assert tcav._derivatives.tracing_count == 1  # pylint: disable=protected-access


def test_tcav_static_and_relaxed_kernels_agree_with_a_tape_reference():
    # full chunks run with the batch size pinned (the graph optimiser may then drop forward
    # work the gradient does not read); the result must equal a plain eager tape reference
    model = planted_model()
    inputs = np.random.default_rng(3).normal(size=(11, DIM)).astype("float32")
    cavs = np.stack([planted_direction(), -planted_direction(),
                     np.random.default_rng(4).normal(size=DIM).astype("float32")])
    latent = model.get_layer("latent")
    head = keras.Model(latent.output, model.outputs[0])
    bottom = keras.Model(model.inputs, latent.output)
    activations = tf.constant(bottom([inputs]))
    with tf.GradientTape() as tape:
        tape.watch(activations)
        score = tf.reduce_sum(head(activations)[:, 1])
    expected = tape.gradient(score, activations).numpy().reshape(11, -1) @ cavs.T
    for batch_size in (11, 4, 3):
        tcav = Tcav(model, "latent", batch_size=batch_size)
        np.testing.assert_allclose(tcav.directional_derivatives(inputs, 1, cavs), expected,
                                   rtol=1e-5, atol=1e-6)


def test_tcav_custom_operator_takes_effect():
    model = linear_head_model()
    kernel = model.get_layer("logits").kernel.numpy()

    def difference(model_fn, inputs, targets):  # logit 0 minus logit 1
        outputs = model_fn(inputs)
        return outputs[:, 0] - outputs[:, 1]

    tcav = Tcav(model, "latent", operator=difference)
    inputs = np.ones((4, DIM), np.float32)
    direction = kernel[:, 0] - kernel[:, 1]
    assert tcav(inputs, 0, direction) == 1.0 and tcav(inputs, 0, -direction) == 0.0


def test_tcav_bad_cav_and_label():
    tcav = Tcav(planted_model(), "latent")
    inputs = np.zeros((3, DIM), np.float32)
    with pytest.raises(ValueError, match="cav"):
        tcav(inputs, 0, np.ones(DIM + 1))
    with pytest.raises(ValueError, match="targets"):
        tcav(inputs, 5, np.ones(DIM))
    with pytest.raises(TypeError, match="label"):
        tcav(inputs, True, np.ones(DIM))
    with pytest.raises(ValueError, match="No layer"):
        Tcav(planted_model(), "missing")


def test_significance_planted_concept_vs_random_concept():
    model = planted_model()
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(200, DIM)).astype("float32")
    inputs = rng.normal(size=(40, DIM)).astype("float32")
    split = keras.Model(model.inputs, [model.get_layer("latent").output, model.outputs[0]])
    with tf.GradientTape() as tape:
        latent, logits = split(tf.constant(inputs))
        score = tf.reduce_sum(logits[:, 0])
    gradient = tape.gradient(score, latent).numpy().mean(0)
    direction = gradient / np.linalg.norm(gradient)
    planted = rng.normal(size=(40, DIM)).astype("float32") + 3.0 * direction
    tcav = Tcav(model, "latent")
    result = tcav.significance(inputs, 0, planted, pool, nb_runs=10, classifier="mean", seed=0)
    assert isinstance(result, TcavSignificance)
    assert result.p_value < 0.05 and result.significant
    assert result.score > 0.8 and result.scores.shape == (10,)
    random_concept = rng.normal(size=(40, DIM)).astype("float32")
    null = tcav.significance(inputs, 0, random_concept, pool, nb_runs=10, classifier="mean",
                             seed=0)
    assert null.p_value > 0.05 and not null.significant
    # Bonferroni: the threshold is alpha / nb_tests
    corrected = tcav.significance(inputs, 0, planted, pool, nb_runs=10, classifier="mean",
                                  seed=0, nb_tests=1000)
    assert corrected.threshold == pytest.approx(0.05 / 1000)
    assert corrected.p_value == pytest.approx(result.p_value)
    again = tcav.significance(inputs, 0, planted, pool, nb_runs=10, classifier="mean", seed=0)
    np.testing.assert_array_equal(again.random_scores, result.random_scores)


def test_significance_bad_arguments():
    tcav = Tcav(planted_model(), "latent")
    data = np.zeros((4, DIM), np.float32)
    with pytest.raises(ValueError, match="random_examples"):
        tcav.significance(data, 0, data, data[:1], nb_runs=3)
    with pytest.raises(ValueError, match="nb_runs"):
        tcav.significance(data, 0, data, data, nb_runs=1)
    with pytest.raises(ValueError, match="classifier"):
        tcav.significance(data, 0, data, data, classifier="forest")


class SubclassedPlanted(keras.Model):
    """The planted model as a subclassed Keras model (its layers' outputs are captured)."""

    def __init__(self, functional):
        super().__init__()
        self.latent = keras.layers.Dense(DIM, use_bias=False, name="latent")
        self.hidden = keras.layers.Dense(6, activation="tanh", name="hidden")
        self.head = keras.layers.Dense(3, name="logits")
        self(np.zeros((1, DIM), np.float32))
        for mine, theirs in zip((self.latent, self.hidden, self.head),
                                [functional.get_layer(n) for n in ("latent", "hidden", "logits")]):
            mine.set_weights(theirs.get_weights())

    def call(self, inputs):
        return self.head(self.hidden(self.latent(inputs)))


def test_subclassed_model_gives_the_functional_answers():
    functional = planted_model()
    subclassed = SubclassedPlanted(functional)
    positives, negatives = concept_sets(n=40)
    inputs = np.random.default_rng(4).normal(size=(25, DIM)).astype("float32")
    for classifier in ("mean", "SGD"):
        expected = Cav(functional, "latent", classifier=classifier, seed=2)(positives, negatives)
        received = Cav(subclassed, "latent", classifier=classifier, seed=2)(positives, negatives)
        np.testing.assert_allclose(received.numpy(), expected.numpy(), atol=1e-5)
    cav = planted_direction()
    assert Tcav(subclassed, "latent", batch_size=8)(inputs, 1, cav) == pytest.approx(
        Tcav(functional, "latent")(inputs, 1, cav))


def test_cav_seed_fixes_the_split_and_the_classifier():
    model = planted_model()
    positives, negatives = concept_sets(n=60, shift=1.0)
    first = Cav(model, "latent", classifier="SGD", seed=5)
    second = Cav(model, "latent", classifier="SGD", seed=5)
    np.testing.assert_array_equal(first(positives, negatives).numpy(),
                                  second(positives, negatives).numpy())
    assert first.accuracy == second.accuracy
    other = Cav(model, "latent", classifier="mean", seed=6)
    same = Cav(model, "latent", classifier="mean", seed=5)
    assert not np.allclose(other(positives, negatives).numpy(), same(positives, negatives).numpy())
