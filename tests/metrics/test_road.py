"""ROAD: the imputation against a sparse direct solve, and the ranking of explanations."""

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
import tensorflow as tf

from tests.conftest import make_inputs, make_model, make_targets, one_hot
from tests.metrics.models import SumModel, feature_map, ones_targets, positive_inputs
from xplique.metrics import ROAD
from xplique.metrics.road import _RIDGE, _STENCIL, linear_imputation


def _direct_solve(image, removed):
    """Slow oracle: assemble the imputation system pixel by pixel and solve it directly."""
    height, width = image.shape
    unknown = np.argwhere(removed)
    index = -np.ones(image.shape, int)
    index[removed] = np.arange(len(unknown))
    known_mean = image[~removed].mean()
    matrix = scipy.sparse.lil_matrix((len(unknown), len(unknown)))
    rhs = np.zeros(len(unknown))
    for row, (i, j) in enumerate(unknown):
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                weight, ii, jj = _STENCIL[di + 1][dj + 1], i + di, j + dj
                if weight == 0 or not (0 <= ii < height and 0 <= jj < width):
                    continue
                matrix[row, row] += weight
                if removed[ii, jj]:
                    matrix[row, index[ii, jj]] -= weight
                else:
                    rhs[row] += weight * image[ii, jj]
        matrix[row, row] += _RIDGE
        rhs[row] += _RIDGE * known_mean
    result = image.copy()
    result[removed] = scipy.sparse.linalg.spsolve(matrix.tocsr(), rhs)
    return result


def test_imputation_solves_the_neighbour_average_system():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(2, 9, 7, 2))
    removed = rng.uniform(size=(2, 9, 7)) < 0.6
    imputed = linear_imputation(tf.constant(images), tf.constant(removed[..., None], tf.float64),
                                tolerance=1e-12).numpy()
    for n in range(2):
        for channel in range(2):
            np.testing.assert_allclose(imputed[n, :, :, channel],
                                       _direct_solve(images[n, :, :, channel], removed[n]),
                                       atol=1e-9)


def test_imputation_of_a_smooth_image_is_nearly_exact():
    """A linear ramp is its own neighbour average away from the border."""
    ramp = np.add.outer(np.arange(12.0), np.arange(12.0))[None, :, :, None] / 24.0
    removed = np.zeros_like(ramp)
    removed[0, 4:8, 4:8, 0] = 1.0
    imputed = linear_imputation(tf.constant(ramp), tf.constant(removed)).numpy()
    np.testing.assert_allclose(imputed, ramp, atol=1e-3)


@pytest.mark.parametrize("shape", [(12, 12, 1), (16, 2)])
def test_road_ranks_the_true_attribution_above_random(shape):
    """On f = sum(x), removing the largest values first (MoRF) lowers the score more than a
    random order, and removing the smallest first (LeRF) keeps it higher."""
    x = positive_inputs(shape, n=4)
    phi = feature_map(x)
    random_phi = np.random.default_rng(9).normal(size=phi.shape)
    y = ones_targets(4)
    morf = ROAD(SumModel(), x, y, order="morf", seed=0)
    lerf = ROAD(SumModel(), x, y, order="lerf", seed=0)
    assert morf(phi) < morf(random_phi)
    assert lerf(phi) > lerf(random_phi)
    curve = morf.detailed_evaluate(phi)
    assert list(curve) == pytest.approx([0.1 * k for k in range(1, 10)])
    assert np.all(np.diff(list(curve.values())) < 0)


def test_road_is_seeded_and_batch_size_invariant():
    x, y = make_inputs("images", 3), make_targets(3)
    model = make_model("images", softmax=True)
    phi = np.random.default_rng(0).normal(size=x.shape)
    small = ROAD(model, x, y, batch_size=1, percentages=(0.2, 0.5), seed=4)(phi)
    large = ROAD(model, x, one_hot(y), batch_size=64, percentages=(0.2, 0.5), seed=4)(phi)
    assert small == pytest.approx(large, abs=1e-5)


def test_road_refuses_tabular_data_and_bad_orders():
    with pytest.raises(ValueError, match="tabular"):
        ROAD(SumModel(), positive_inputs((5,)), ones_targets(4))
    with pytest.raises(ValueError, match="order"):
        ROAD(SumModel(), positive_inputs((5, 2)), ones_targets(4), order="random")
