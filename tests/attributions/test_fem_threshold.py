"""FEM keeps the positions exactly at the K-sigma threshold (`A >= mean + k std`, Xplique's
formula), which decides the map for binary and constant feature maps."""

import keras
import numpy as np

from xplique.attributions import FEM


def _identity_conv_model(height=4, width=5, channels=2):
    inputs = keras.Input((height, width, channels))
    features = keras.layers.Conv2D(channels, 1, use_bias=False, name="conv")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(features))
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([np.eye(channels, dtype="float32")[None, None]])
    return model


def test_fem_keeps_positions_at_the_threshold():
    # channel 0: half ones, so mean 0.5, std 0.5 and with k=1 the threshold is exactly 1.0;
    # channel 1: constant 0.25 (std 0), every position is at the threshold.
    maps = np.zeros((1, 4, 5, 2), np.float32)
    maps[0, :2, :, 0] = 1.0
    maps[0, :, :, 1] = 0.25
    explanation = FEM(_identity_conv_model(), k=1.0)(maps).numpy()[0, ..., 0]
    expected = 0.5 * (maps[0, ..., 0] >= 1.0) + 0.25
    np.testing.assert_allclose(explanation, expected, atol=1e-6)
    # with a strict `>` channel 0 would be dropped and the map would be flat
    assert explanation.max() - explanation.min() > 0.4
