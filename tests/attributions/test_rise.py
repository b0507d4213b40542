"""RISE: known answers, a slow oracle with the same masks, model calls, seeds."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import CountingModel, make_inputs, make_model, one_hot
from xplique.attributions import Rise
from xplique.commons.masks import rise_grid_shape, rise_masks
from xplique.commons.random import pair_uniform


class RegionModel(tf.Module):
    """Score = mean of the image over rows 2..4 and columns 3..5 (all channels)."""

    def __call__(self, x):
        return tf.reduce_mean(x[:, 2:5, 3:6, :], axis=(1, 2, 3))[:, None]


def test_a_region_that_drives_the_score_ranks_first():
    x = np.ones((2, 8, 10, 3), "float32")
    maps = Rise(RegionModel(), nb_samples=400, grid_size=4, seed=0)(x, one_hot([0, 0], 1))
    maps = maps.numpy()[..., 0]
    inside = np.zeros((8, 10), bool)
    inside[2:5, 3:6] = True
    for saliency in maps:
        assert saliency[inside].mean() > saliency[~inside].mean() + 0.05
        assert saliency[inside].min() > np.quantile(saliency[~inside], 0.5)


def test_time_series_feature_that_drives_the_score_ranks_first():
    x = np.ones((2, 8, 3), "float32")
    model = lambda batch: batch[:, :, 1].sum(1)
    maps = Rise(model, nb_samples=300, grid_size=3, seed=1)(x, np.zeros(2, int)).numpy()
    assert maps.shape == (2, 8, 3)
    assert np.all(maps[:, :, 1].mean(1) > maps[:, :, [0, 2]].mean((1, 2)))


@pytest.mark.parametrize("modality", ["images", "time_series", "tabular"])
def test_matches_a_slow_oracle_with_the_same_masks(modality):
    """Sum of score-weighted masks over coverage, computed one mask at a time in numpy."""
    model = make_model(modality)
    x, targets = make_inputs(modality, 3), np.array([0, 2, 1])
    nb_samples, grid, p, value, seed = 6, 3, 0.6, 0.2, 4
    shape = x.shape[1:]
    expected = []
    for i in range(3):
        weighted, coverage = 0.0, 0.0
        for k in range(nb_samples):
            pair = i * nb_samples + k
            grid_noise = pair_uniform(seed, pair, 1, rise_grid_shape(shape, grid), stream=0)
            shift_noise = pair_uniform(seed, pair, 1, (2,), stream=1)
            mask = rise_masks(grid_noise, shift_noise, shape, p).numpy()[0]
            full = mask[..., None] if modality == "images" else mask
            score = model((x[i] * full + (1 - full) * value)[None]).numpy()[0, targets[i]]
            weighted, coverage = weighted + score * mask, coverage + mask
        expected.append(weighted / (coverage + 1e-4))
    explainer = Rise(model, batch_size=4, nb_samples=nb_samples, grid_size=grid,
                     preservation_probability=p, mask_value=value, seed=seed)
    result = explainer(x, targets).numpy()
    if modality == "images":
        result = result[..., 0]
    np.testing.assert_allclose(result, np.array(expected), rtol=1e-4, atol=1e-5)


def test_masks_are_smooth_shifted_grids_with_the_right_density():
    noise = pair_uniform(0, 0, 2000, (4, 4))
    shift = pair_uniform(0, 0, 2000, (2,), stream=1)
    masks = rise_masks(noise, shift, (13, 9, 3), 0.3).numpy()
    assert masks.shape == (2000, 13, 9)
    assert masks.min() >= 0.0 and masks.max() <= 1.0
    assert abs(masks.mean() - 0.3) < 0.02
    assert len(np.unique(masks.round(3))) > 2  # bilinear, not binary


def test_exact_model_calls_and_largest_batch():
    model = CountingModel(make_model("images"))
    Rise(model, batch_size=16, nb_samples=10, seed=0)(make_inputs("images", 5), one_hot([0] * 5))
    assert int(model.calls.numpy()) == math.ceil(5 * 10 / 16)
    assert int(model.max_batch.numpy()) == 16
    assert int(model.total.numpy()) == 50


def test_same_seed_same_output_and_seeds_differ():
    x, y = make_inputs("images", 2), one_hot([1, 2])
    model = make_model("images")
    first = Rise(model, nb_samples=20, seed=3)(x, y).numpy()
    np.testing.assert_array_equal(first, Rise(model, nb_samples=20, seed=3)(x, y).numpy())
    assert not np.allclose(first, Rise(model, nb_samples=20, seed=4)(x, y).numpy())


def test_bad_parameters_fail_early():
    with pytest.raises(ValueError, match="preservation_probability"):
        Rise(RegionModel(), preservation_probability=1.5)
    with pytest.raises(ValueError, match="nb_samples"):
        Rise(RegionModel(), nb_samples=0)
    with pytest.raises(TypeError, match="seed"):
        Rise(RegionModel(), seed="a")


def test_time_series_masks_grid_time_and_keep_features_apart():
    """A (g, W) grid: upsampled along time only, each feature column on its own."""
    grid_noise = np.tile(np.array([[0.9, 0.1, 0.9]], "float32"), (3, 1))[None]  # keep feature 1
    shift = tf.constant([[0.7, 0.7]])
    masks = rise_masks(tf.constant(grid_noise), shift, (8, 3), 0.5).numpy()[0]
    assert masks.shape == (8, 3)
    np.testing.assert_allclose(masks[:, 1], 1.0)
    np.testing.assert_allclose(masks[:, [0, 2]], 0.0)
