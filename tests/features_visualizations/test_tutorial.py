"""The feature-visualization tutorial runs, and what it computes holds up."""

import numpy as np

from tests.helpers import run_tutorial


def test_feature_visualization_tutorial():
    namespace = run_tutorial("feature_visualization.ipynb")
    assert namespace["accuracy"] > 0.85
    assert namespace["class_images"].shape == (10, 24, 24, 1)
    # most class images are classified as the class they were optimised for
    assert np.sum(namespace["own_class"] > 0.5) >= 6
    assert namespace["names"] == ["Neuron#logits#3 & Channel#conv2#0",
                                  "Neuron#logits#3 & Channel#conv2#1",
                                  "Neuron#logits#8 & Channel#conv2#0",
                                  "Neuron#logits#8 & Channel#conv2#1"]
    assert namespace["transparency"].shape == namespace["image"].shape == (32, 32, 1)
