"""AverageStability: zero for a constant explanation, the noise norm for the identity."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import make_inputs, make_model, make_targets, one_hot
from xplique.attributions import Saliency
from xplique.commons.random import pair_uniform
from xplique.metrics import AverageStability


def test_saliency_of_a_linear_model_is_perfectly_stable():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    x, y = make_inputs("tabular", 5), make_targets(5)
    metric = AverageStability(model, x, y, nb_samples=4, seed=0)
    assert metric(Saliency(model)) == 0.0


def test_identity_explanation_moves_by_the_noise():
    """With phi(x) = x the distance to a neighbour is the norm of the noise it added."""
    x, y = make_inputs("time_series", 3), make_targets(3)
    model = make_model("time_series")
    radius, nb_samples, seed = 0.2, 5, 11
    noise = radius * (2.0 * pair_uniform(seed, 0, 3 * nb_samples, x.shape[1:]).numpy() - 1.0)
    flat = noise.reshape(3 * nb_samples, -1)
    for distance, norm in (("l2", np.linalg.norm(flat, axis=1)),
                           ("l1", np.abs(flat).sum(axis=1))):
        metric = AverageStability(model, x, y, batch_size=4, radius=radius, distance=distance,
                                  nb_samples=nb_samples, seed=seed)
        assert metric(lambda inputs, targets: inputs) == pytest.approx(norm.mean(), rel=1e-5)


def test_stability_is_batch_size_invariant_and_accepts_base_explanations():
    x, y = make_inputs("images", 3), make_targets(3)
    model = make_model("images")
    explainer = Saliency(model)
    small = AverageStability(model, x, y, batch_size=1, nb_samples=3, seed=2)
    large = AverageStability(model, x, one_hot(y), batch_size=64, nb_samples=3, seed=2)
    base = explainer(x, y)
    assert small(explainer) == pytest.approx(large.evaluate(explainer, base), rel=1e-5)
    custom = AverageStability(model, x, y, nb_samples=3, seed=2,
                              distance=lambda a, b: tf.reduce_max(tf.abs(a - b), axis=-1))
    assert custom(explainer) > 0.0


def test_bad_distance():
    with pytest.raises(ValueError, match="distance"):
        AverageStability(make_model("tabular"), make_inputs("tabular", 2), make_targets(2),
                         distance="cosine")
