"""Pointing game and relevance mass on hand-made maps and masks."""

import numpy as np
import pytest

from xplique.metrics import PointingGame, RelevanceMass


def test_pointing_game_hits_misses_and_tolerance():
    masks = np.zeros((3, 6, 6))
    masks[:, 1:3, 1:3] = 1
    maps = np.zeros((3, 6, 6, 3))
    maps[0, 2, 2] = 1.0  # inside
    maps[1, 5, 5] = 1.0  # far outside: distance sqrt(18) from (2, 2)
    maps[2, 2, 4] = 1.0  # two pixels to the right of the region
    assert PointingGame(masks).detailed_evaluate(maps).tolist() == [1.0, 0.0, 0.0]
    assert PointingGame(masks, tolerance=2).detailed_evaluate(maps).tolist() == [1.0, 0.0, 1.0]
    assert PointingGame(masks[..., None], tolerance=4.3)(maps) == pytest.approx(1.0)


def test_pointing_game_on_tabular_maps():
    masks = np.array([[0, 1, 0, 0], [1, 0, 0, 0]])
    maps = np.array([[0.1, 0.9, 0.2, 0.0], [0.0, 0.1, 3.0, 0.0]])
    assert PointingGame(masks).detailed_evaluate(maps).tolist() == [1.0, 0.0]


def test_relevance_mass_is_the_positive_share_inside():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(4, 5, 7))
    masks = rng.uniform(size=(4, 5, 7)) < 0.3
    positive = np.maximum(maps, 0)
    expected = (positive * masks).sum((1, 2)) / positive.sum((1, 2))
    np.testing.assert_allclose(RelevanceMass(masks, batch_size=3).detailed_evaluate(maps),
                               expected, rtol=1e-5)
    assert RelevanceMass(masks)(-np.abs(maps)) == 0.0


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match="explanations"):
        RelevanceMass(np.ones((2, 4, 4)))(np.ones((2, 5, 4)))
    with pytest.raises(ValueError, match="masks"):
        PointingGame(np.ones(3))
