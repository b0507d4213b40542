"""Occlusion: known answers, a slow oracle, model calls, black-box model kinds."""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

from tests.conftest import CountingModel, make_inputs, make_model, one_hot
from xplique.attributions import Occlusion


class RegionModel(tf.Module):
    """Score = sum of the image over rows 2..4 and columns 3..5 (all channels)."""

    def __call__(self, x):
        return tf.reduce_sum(x[:, 2:5, 3:6, :], axis=(1, 2, 3))[:, None]


def _slow_occlusion(score, x, size, stride, value):
    """Oracle: occlude each patch of each input one at a time and add the score drops."""
    cells = x.shape[1:3] if x.ndim == 4 else x.shape[1:]
    anchors = [range(0, max(1, math.ceil((n - s + 1) / t)) * t, t)
               for n, s, t in zip(cells, size, stride)]
    out = np.zeros((len(x),) + tuple(cells))
    for i in range(len(x)):
        base = score(x[i:i + 1])
        for corner in itertools.product(*anchors):
            window = tuple(slice(c, c + s) for c, s in zip(corner, size))
            occluded = x[i:i + 1].copy()
            occluded[(slice(None),) + window] = value
            out[(i,) + window] += base - score(occluded)
    return out


def test_region_model_is_nonzero_exactly_on_the_region():
    x = make_inputs("images", 3)
    explanations = Occlusion(RegionModel(), patch_size=1, patch_stride=1)(x, np.zeros(3, int))
    maps = explanations.numpy()[..., 0]
    assert explanations.shape == (3, 8, 10, 1)
    inside = np.zeros((8, 10), bool)
    inside[2:5, 3:6] = True
    np.testing.assert_allclose(maps[:, inside], x[:, inside].sum(-1), rtol=1e-5)
    assert np.all(maps[:, ~inside] == 0)


@pytest.mark.parametrize("modality, size, stride", [
    ("images", (3, 2), (1, 2)), ("images", (2, 2), (3, 3)), ("time_series", (3, 2), (2, 1)),
    ("tabular", (2,), (1,)),
])
def test_matches_a_slow_oracle_on_a_nonlinear_model(modality, size, stride):
    model = make_model(modality)
    x = make_inputs(modality, 3)
    targets = np.array([0, 1, 2])

    def score(batch):
        return float(np.sum(model(batch).numpy()[0] * np.eye(3)[targets[i_current[0]]]))

    i_current = [0]
    expected = []
    for i in range(3):
        i_current[0] = i
        expected.append(_slow_occlusion(score, x[i:i + 1], size, stride, 0.3)[0])
    explainer = Occlusion(model, patch_size=size if len(size) > 1 else size[0],
                          patch_stride=stride if len(stride) > 1 else stride[0],
                          occlusion_value=0.3, batch_size=7)
    result = explainer(x, targets).numpy()
    if modality == "images":
        result = result[..., 0]
    np.testing.assert_allclose(result, np.array(expected), rtol=1e-4, atol=1e-5)


def test_exact_model_calls_and_largest_batch():
    """5 images of 8x10 with 2x2 patches at stride 2 have 4 x 5 = 20 patches each: the
    unoccluded scores take ceil(5 / 8) calls and the 100 occlusions ceil(100 / 8)."""
    model = CountingModel(make_model("images"))
    Occlusion(model, batch_size=8, patch_size=2, patch_stride=2)(
        make_inputs("images", 5), one_hot(np.zeros(5, int)))
    assert int(model.calls.numpy()) == math.ceil(5 / 8) + math.ceil(100 / 8)
    assert int(model.max_batch.numpy()) == 8
    assert int(model.total.numpy()) == 5 + 100


def test_scikit_learn_and_plain_callable_models():
    rng = np.random.default_rng(0)
    train = rng.uniform(size=(60, 6))
    classifier = LogisticRegression().fit(train, (train[:, 0] > train[:, 1]).astype(int))
    x = make_inputs("tabular", 4)
    targets = np.ones(4, int)
    expected = _slow_occlusion(lambda b: classifier.predict_proba(b)[0, 1], x, (1,), (1,), 0.0)
    result = Occlusion(classifier, patch_size=1, patch_stride=1)(x, targets).numpy()
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-6)
    weights = np.arange(6.0)
    linear = Occlusion(lambda batch: batch @ weights, patch_size=1, patch_stride=1)
    np.testing.assert_allclose(linear(x, np.zeros(4, int)).numpy(), x * weights, rtol=1e-5)


def test_bad_patches_fail_early():
    with pytest.raises(ValueError, match="patch_size"):
        Occlusion(RegionModel(), patch_size=(1, 2, 3))
    with pytest.raises(ValueError, match="patch_stride"):
        Occlusion(RegionModel(), patch_stride=0)
    with pytest.raises(ValueError, match="patch_size"):
        Occlusion(make_model("tabular"), patch_size=(2, 2))(make_inputs("tabular", 2))
