"""Known answers for MuFidelity, Deletion and Insertion, and their model-call counts."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import (
    INPUT_SHAPES,
    CountingModel,
    make_inputs,
    make_model,
    make_targets,
    one_hot,
)
from tests.metrics.models import (
    SumModel,
    ThresholdModel,
    feature_map,
    ones_targets,
    positive_inputs,
)
from xplique.metrics import Deletion, Insertion, MuFidelity


@pytest.mark.parametrize("grid_size", [None, 3])
def test_mufidelity_is_plus_and_minus_one_on_a_sum_model(modality, grid_size):
    """For f = sum(x) and a 0 baseline, the score drop of a subset equals the sum of x over
    it, so phi = x correlates perfectly (+1) and phi = -x anti-correlates (-1)."""
    x = positive_inputs(INPUT_SHAPES[modality], n=3)
    metric = MuFidelity(SumModel(), x, ones_targets(3), batch_size=16, grid_size=grid_size,
                        nb_samples=12, seed=3)
    phi = feature_map(x)
    assert metric(phi) == pytest.approx(1.0, abs=1e-6)
    assert metric(-phi) == pytest.approx(-1.0, abs=1e-6)


def test_mufidelity_same_seed_same_score_whatever_the_batch_size():
    x, y = make_inputs("images", 3), make_targets(3)
    model = make_model("images")
    phi = np.random.default_rng(1).normal(size=x.shape[:3])
    small = MuFidelity(model, x, y, batch_size=1, nb_samples=8, seed=5)(phi)
    large = MuFidelity(model, x, y, batch_size=64, nb_samples=8, seed=5)(phi)
    assert small == pytest.approx(large, abs=1e-5)


def _numpy_curve(model, x, phi, steps, inserting, baseline=0.0):
    """Slow oracle: for each step copy every input and flip its top-k features."""
    maps = feature_map(phi) if phi.ndim == 4 else phi
    flat_maps = maps.reshape(len(x), -1)
    nb_features = flat_maps.shape[1]
    counts = [step * nb_features // steps for step in range(steps + 1)]  # truncated
    curve = []
    for count in counts:
        perturbed = []
        for sample, ranking in zip(x, flat_maps):
            top = np.zeros(nb_features, bool)
            top[np.argsort(-ranking, kind="stable")[:count]] = True
            top = top.reshape(maps.shape[1:])
            if x.ndim == 4:
                top = top[..., None]
            if inserting:
                perturbed.append(np.where(top, sample, baseline))
            else:
                perturbed.append(np.where(top, baseline, sample))
        curve.append(model(np.stack(perturbed).astype("float32")).numpy().mean())
    return np.array(curve)


@pytest.mark.parametrize("metric_cls", [Deletion, Insertion])
def test_causal_steps_truncate_the_number_of_flipped_features(metric_cls):
    """6 features in 4 steps: 1.5 and 4.5 features truncate to 1 and 4 (Xplique's
    `np.linspace(..., dtype=int32)`); rounding would give 2 and 4."""
    x = positive_inputs((6,), n=2)
    metric = metric_cls(SumModel(), x, ones_targets(2), steps=4)
    curve = metric.detailed_evaluate(np.tile(np.arange(6.0)[::-1], (2, 1)))
    assert list(curve) == [0, 1, 3, 4, 6]  # keyed by features flipped, as in Xplique
    # the score after one step is the input minus (deletion) / only (insertion) its top feature
    top = x[:, 0].mean()
    expected = top if metric_cls is Insertion else x.sum(axis=1).mean() - top
    assert list(curve.values())[1] == pytest.approx(expected, rel=1e-5)
    # the same for a 2-D feature grid cut by max_percentage_perturbed
    images = positive_inputs((3, 3, 1), n=1)
    partial = metric_cls(SumModel(), images, ones_targets(1), steps=3,
                         max_percentage_perturbed=0.5)  # int(4.5) = 4 features, 4/3 per step
    assert list(partial.detailed_evaluate(images[..., 0])) == [0, 1, 2, 4]


@pytest.mark.parametrize("metric_cls", [Deletion, Insertion])
def test_causal_curves_match_a_numpy_oracle(metric_cls, modality):
    x = positive_inputs(INPUT_SHAPES[modality], n=3)
    phi = np.random.default_rng(2).normal(size=x.shape).astype("float32")
    metric = metric_cls(SumModel(), x, ones_targets(3), batch_size=5, steps=4)
    expected = _numpy_curve(SumModel(), x, phi, 4, metric_cls is Insertion)
    curve = metric.detailed_evaluate(phi)
    np.testing.assert_allclose(list(curve.values()), expected, rtol=1e-5)
    auc = np.mean((expected[1:] + expected[:-1]) / 2)
    assert metric(phi) == pytest.approx(auc, rel=1e-5)
    assert list(curve)[0] == 0 and list(curve)[-1] == metric.nb_features


def test_deletion_lower_and_insertion_higher_for_the_true_attribution(modality):
    x = positive_inputs(INPUT_SHAPES[modality], n=4)
    phi, model, y = feature_map(x), SumModel(), ones_targets(4)
    deletion = Deletion(model, x, y, steps=6)
    insertion = Insertion(model, x, y, steps=6)
    assert deletion(phi) < deletion(-phi)
    assert insertion(phi) > insertion(-phi)


def test_threshold_models_give_the_extreme_curves():
    """A model needing every feature drops to 0 after the first deletion step; a model needing
    one feature reaches 1 after the first insertion step. The areas follow in closed form."""
    x = positive_inputs(INPUT_SHAPES["images"], n=3)
    phi, y, steps = feature_map(x), ones_targets(3), 8
    deletion = Deletion(ThresholdModel(), x, y, steps=steps)
    insertion = Insertion(ThresholdModel(count=1), x, y, steps=steps)
    deletion_curve = list(deletion.detailed_evaluate(phi).values())
    insertion_curve = list(insertion.detailed_evaluate(phi).values())
    assert deletion_curve == [1.0] + [0.0] * steps
    assert insertion_curve == [0.0] + [1.0] * steps
    assert deletion(phi) == pytest.approx(0.5 / steps)
    assert insertion(phi) == pytest.approx(1.0 - 0.5 / steps)


def test_steps_minus_one_flips_one_feature_per_step():
    x = positive_inputs((5,), n=2)
    metric = Deletion(SumModel(), x, ones_targets(2), steps=-1)
    curve = metric.detailed_evaluate(x)
    assert len(curve) == 6
    ordered = -np.sort(-x, axis=1)
    expected = x.sum(1).mean() - np.concatenate([[0.0], np.cumsum(ordered, 1).mean(0)])
    np.testing.assert_allclose(list(curve.values()), expected, rtol=1e-5)


def test_callable_baseline_and_max_percentage():
    x = positive_inputs((10,), n=2)
    metric = Deletion(SumModel(), x, ones_targets(2), steps=2, max_percentage_perturbed=0.4,
                      baseline_mode=lambda inputs: inputs * 0.5)
    curve = list(metric.detailed_evaluate(x).values())
    top = -np.sort(-x, axis=1)
    np.testing.assert_allclose(curve, [x.sum(1).mean(), x.sum(1).mean() - top[:, :2].sum(1).mean()
                                       * 0.5, x.sum(1).mean() - top[:, :4].sum(1).mean() * 0.5],
                               rtol=1e-5)
    assert list(metric.detailed_evaluate(x)) == [0, 2, 4]  # int(0.4 * 10) features at the end


def test_exact_model_calls_and_batch_bound():
    """13 inputs x 11 steps = 143 evaluations: ceil(143 / 8) = 18 passes of at most 8."""
    x = positive_inputs((6,), n=13)
    counting = CountingModel(SumModel())
    metric = Deletion(counting, x, ones_targets(13), batch_size=8, steps=10)
    assert int(counting.calls.numpy()) == 0
    metric(x)
    assert int(counting.calls.numpy()) == 18
    assert int(counting.max_batch.numpy()) == 8
    assert int(counting.total.numpy()) == 143
    metric(-x)
    assert metric._kernel.tracing_count == 1


def test_mufidelity_calls_include_the_base_predictions():
    x = positive_inputs((6,), n=5)
    counting = CountingModel(SumModel())
    metric = MuFidelity(counting, x, ones_targets(5), batch_size=4, nb_samples=6, seed=0)
    assert int(counting.calls.numpy()) == 2  # base scores: ceil(5 / 4)
    metric(x)
    assert int(counting.calls.numpy()) == 2 + 8  # ceil(5 * 6 / 4)
    assert int(counting.max_batch.numpy()) == 4


@pytest.mark.parametrize("metric_cls, params", [
    (MuFidelity, dict(nb_samples=6, seed=1)), (Deletion, dict(steps=4)),
    (Insertion, dict(steps=4)),
])
def test_integer_and_one_hot_targets_agree(metric_cls, params):
    x, y = make_inputs("images", 3), make_targets(3)
    model = make_model("images", softmax=True)
    phi = np.random.default_rng(0).normal(size=x.shape)
    by_index = metric_cls(model, x, y, **params)(phi)
    by_one_hot = metric_cls(model, x, one_hot(y), **params)(phi)
    assert by_index == pytest.approx(by_one_hot, abs=1e-6)


def test_activation_is_applied_before_scoring():
    x, y = make_inputs("tabular", 3), make_targets(3)
    model = make_model("tabular")
    curve = Deletion(model, x, y, steps=2, activation="softmax").detailed_evaluate(x)
    probabilities = tf.nn.softmax(model(x)).numpy()
    assert curve[0.0] == pytest.approx(probabilities[np.arange(3), y].mean(), abs=1e-6)


def test_bad_arguments_fail_early():
    x = positive_inputs((4,), n=2)
    with pytest.raises(ValueError, match="activation"):
        Deletion(SumModel(), x, ones_targets(2), activation="relu")
    with pytest.raises(ValueError, match="explanations"):
        Deletion(SumModel(), x, ones_targets(2))(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="subset_percent"):
        MuFidelity(SumModel(), x, ones_targets(2), subset_percent=2.0)
    with pytest.raises(ValueError, match="targets"):
        Deletion(SumModel(), x, ones_targets(3))
    with pytest.raises(TypeError, match="inputs"):
        Deletion(SumModel(), tf.data.Dataset.from_tensor_slices(x), ones_targets(2))
