"""The batched perturbation kernel: model calls, packing, batch-size invariance, statistics."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.linear_model import LinearRegression

from tests.conftest import CountingModel
from xplique.commons.model_adapters import CallableModel, black_box_model
from xplique.commons.operators import predictions_operator
from xplique.commons.perturbation import (
    inputs_per_block,
    perturbed_scores_of,
    reduce_perturbed,
)
from xplique.commons.random import pair_uniform
from xplique.commons.statistics import Collect, Mean, Sum

SEED = tf.constant(3, tf.int64)


def _linear_model(width=4):
    weights = tf.constant(np.arange(1.0, width + 1.0, dtype="float32")[:, None])
    return lambda x: tf.matmul(x, weights)


def _random_masks(pair_inputs, sample_index, first_pair, seed):
    noise = pair_uniform(seed, first_pair, tf.shape(pair_inputs)[0], pair_inputs.shape[1:])
    masks = tf.cast(noise < 0.5, pair_inputs.dtype)
    return pair_inputs * masks, masks


def _run(model, n=5, nb_samples=7, batch_size=4, statistic=None, **kwargs):
    statistic = Sum() if statistic is None else statistic
    kernel = perturbed_scores_of(model, predictions_operator, nb_samples, _random_masks,
                                 statistic, **kwargs)
    inputs = tf.constant(np.random.default_rng(0).uniform(size=(n, 4)), tf.float32)
    targets = tf.ones((n, 1))
    return reduce_perturbed(kernel, [inputs, targets], nb_samples, batch_size, statistic,
                            extras=(SEED,))


@pytest.mark.parametrize("n, nb_samples, batch_size", [(5, 7, 4), (6, 3, 8), (1, 10, 10),
                                                        (3, 2, 1), (4, 9, 100)])
def test_exact_model_calls_and_largest_batch(n, nb_samples, batch_size):
    """N inputs with nb_samples masks each take exactly ceil(N nb / batch) calls, none larger
    than batch_size, several inputs packed per call when masks are fewer than batch_size."""
    model = CountingModel(_linear_model())
    _run(model, n, nb_samples, batch_size)
    assert int(model.calls.numpy()) == math.ceil(n * nb_samples / batch_size)
    assert int(model.max_batch.numpy()) == min(batch_size, n * nb_samples)
    assert int(model.total.numpy()) == n * nb_samples


def test_result_does_not_depend_on_batch_size():
    results = [_run(_linear_model(), batch_size=b).numpy() for b in (1, 3, 5, 64)]
    for result in results[1:]:
        np.testing.assert_allclose(result, results[0], rtol=1e-5, atol=1e-5)


def test_weighted_masks_match_a_slow_oracle():
    """Sum of score-weighted masks equals the same sum computed one sample at a time."""
    n, nb_samples = 3, 6
    inputs = tf.constant(np.random.default_rng(0).uniform(size=(n, 4)), tf.float32)
    weights = np.arange(1.0, 5.0)
    expected = np.zeros((n, 4))
    for i in range(n):
        for k in range(nb_samples):
            pair = i * nb_samples + k
            mask = (pair_uniform(SEED, pair, 1, (4,)).numpy()[0] < 0.5).astype(float)
            expected[i] += (inputs.numpy()[i] * mask) @ weights * mask
    result = _run(_linear_model(), n, nb_samples, batch_size=4)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-5)


def test_collect_keeps_every_score_at_its_place_in_blocks():
    """Collected scores equal one-by-one evaluations, whatever the blocks and batch size."""
    n, nb_samples = 5, 3
    statistic = Collect(nb_samples)
    model = _linear_model()

    def only_scores(pair_scores, aux):
        return pair_scores

    kernel = perturbed_scores_of(model, predictions_operator, nb_samples, _random_masks,
                                 statistic, values_of=only_scores)
    inputs = tf.constant(np.random.default_rng(1).uniform(size=(n, 4)), tf.float32)
    targets = tf.ones((n, 1))
    expected = np.array([
        [float(model(inputs[i:i + 1] * tf.cast(
            pair_uniform(SEED, i * nb_samples + k, 1, (4,)) < 0.5, tf.float32))[0, 0])
         for k in range(nb_samples)] for i in range(n)
    ])
    for block in (None, 1, 2):
        for batch_size in (1, 2, 7):
            collected = reduce_perturbed(kernel, [inputs, targets], nb_samples, batch_size,
                                         statistic, extras=(SEED,), inputs_per_block=block)
            np.testing.assert_allclose(collected.numpy(), expected, rtol=1e-5)


def test_per_input_tensors_reach_each_pair_and_groups_agree():
    """Per-input tensors are gathered per pair; splitting the inputs in groups (first_input)
    draws the same masks as one group."""
    n, nb_samples = 4, 5
    offsets = tf.constant([10.0, 20.0, 30.0, 40.0])

    def values_of(pair_scores, masks, pair_offsets):
        return pair_scores + pair_offsets

    def make_perturbed(pair_inputs, sample_index, first_pair, seed, pair_offsets):
        return _random_masks(pair_inputs, sample_index, first_pair, seed)

    kernel = perturbed_scores_of(_linear_model(), predictions_operator, nb_samples,
                                 make_perturbed, Mean(), values_of=values_of)
    inputs = tf.constant(np.random.default_rng(2).uniform(size=(n, 4)), tf.float32)
    targets = tf.ones((n, 1))
    whole = reduce_perturbed(kernel, [inputs, targets, offsets], nb_samples, 3, Mean(),
                             extras=(SEED,))
    parts = [reduce_perturbed(kernel, [inputs[a:b], targets[a:b], offsets[a:b]], nb_samples, 3,
                              Mean(), first_input=a, extras=(SEED,)) for a, b in ((0, 1), (1, 4))]
    np.testing.assert_allclose(tf.concat(parts, 0).numpy(), whole.numpy(), rtol=1e-6)
    plain = reduce_perturbed(kernel, [inputs, targets, tf.zeros(n)], nb_samples, 3, Mean(),
                             extras=(SEED,))
    np.testing.assert_allclose((whole - plain).numpy(), offsets.numpy(), rtol=1e-5)


def test_sample_count_may_depend_on_the_input_shape_and_traces_once():
    statistic = Sum()
    kernel = perturbed_scores_of(_linear_model(), predictions_operator,
                                 lambda shape: shape[0] + 1, _random_masks, statistic)
    for n in (2, 5, 9):
        inputs, targets = tf.ones((n, 4)), tf.ones((n, 1))
        reduce_perturbed(kernel, [inputs, targets], 5, 4, statistic, extras=(SEED,))
    assert kernel.tracing_count == 1


def test_blocks_keep_the_minimal_number_of_calls():
    assert inputs_per_block(6, 4) * 6 % 4 == 0
    assert inputs_per_block(2000, 256, values_per_sample=10, budget=10**5) == 5
    model = CountingModel(_linear_model())
    statistic = Collect(6)
    kernel = perturbed_scores_of(model, predictions_operator, 6, _random_masks, statistic,
                                 values_of=lambda s, aux: s)
    inputs, targets = tf.ones((7, 4)), tf.ones((7, 1))
    reduce_perturbed(kernel, [inputs, targets], 6, 4, statistic, extras=(SEED,),
                     inputs_per_block=inputs_per_block(6, 4))
    assert int(model.calls.numpy()) == math.ceil(7 * 6 / 4)


def test_host_models_run_inside_the_kernel():
    """A numpy callable (and a scikit-learn estimator) evaluated through tf.py_function gives
    the same result as the equivalent TensorFlow model."""
    weights = np.arange(1.0, 5.0, dtype="float32")
    host = black_box_model(lambda batch: np.asarray(batch) @ weights)  # numpy only: untraceable
    np.testing.assert_allclose(_run(host).numpy(), _run(_linear_model()).numpy(), rtol=1e-5)
    assert isinstance(host, CallableModel) and not host.traces(tf.ones((2, 4)))


def test_black_box_model_rejects_what_cannot_score():
    with pytest.raises(TypeError, match="model"):
        black_box_model(42)


def test_verbose_shows_a_progress_bar_over_the_evaluations(capsys):
    statistic = Sum()
    kernel = perturbed_scores_of(_linear_model(), predictions_operator, 6, _random_masks,
                                 statistic)
    inputs, targets = tf.ones((3, 4)), tf.ones((3, 1))
    quiet = reduce_perturbed(kernel, [inputs, targets], 6, 4, statistic, extras=(SEED,))
    assert capsys.readouterr().err == ""
    loud = reduce_perturbed(kernel, [inputs, targets], 6, 4, statistic, extras=(SEED,),
                            verbose=True, description="Demo")
    err = capsys.readouterr().err
    assert "Demo" in err and "18/18" in err
    np.testing.assert_array_equal(quiet.numpy(), loud.numpy())


class SubclassedLinear(keras.Model):
    def __init__(self, weights):
        super().__init__()
        self.dense = keras.layers.Dense(3, use_bias=False)
        self.dense.build((None, 6))
        self.dense.set_weights([weights])

    def call(self, inputs):
        return self.dense(inputs)


class ModuleLinear(tf.Module):
    def __init__(self, weights):
        super().__init__()
        self.weights = tf.Variable(weights)

    def __call__(self, inputs):
        return tf.matmul(inputs, self.weights)


def _models_computing(weights):
    """The same linear map x -> x W as every kind of black-box model."""
    dense = keras.layers.Dense(3, use_bias=False)
    sequential = keras.Sequential([keras.Input((6,)), dense])
    dense.set_weights([weights])
    inputs = keras.Input((6,))
    functional_dense = keras.layers.Dense(3, use_bias=False)
    functional = keras.Model(inputs, functional_dense(inputs))
    functional_dense.set_weights([weights])
    train = np.random.default_rng(0).uniform(size=(40, 6))
    regressor = LinearRegression(fit_intercept=False).fit(train, train @ weights)
    return {
        "sequential": sequential,
        "functional": functional,
        "subclassed": SubclassedLinear(weights),
        "tf.Module": ModuleLinear(weights),
        "numpy callable": lambda batch: batch @ weights,
        "scikit-learn": regressor,
    }


def test_every_kind_of_black_box_model_gives_the_same_explanations():
    from xplique.attributions import Rise

    weights = np.random.default_rng(1).normal(size=(6, 3)).astype("float32")
    x = np.random.default_rng(2).uniform(size=(4, 6)).astype("float32")
    targets = np.array([0, 1, 2, 0])
    results = {name: Rise(model, nb_samples=20, batch_size=7, seed=0)(x, targets).numpy()
               for name, model in _models_computing(weights).items()}
    for name, result in results.items():
        np.testing.assert_allclose(result, results["functional"], rtol=1e-4, atol=1e-5,
                                   err_msg=name)
