"""LayerCAM."""

import tensorflow as tf

from xplique.attributions._gradient_cam import _GradientCAM


class LayerCAM(_GradientCAM):
    """LayerCAM: feature maps weighted position by position by their positive gradients,
    `ReLU(sum_k ReLU(dS/dA_k(i, j)) A_k(i, j))`, upsampled to the input. Unlike Grad-CAM, the
    weights are not averaged over space, so the map stays sharp on shallow layers.

    Ref. Jiang et al., LayerCAM: Exploring Hierarchical Class Activation Maps for Localization
    (2021), https://doi.org/10.1109/TIP.2021.3089943

    Parameters are those of :class:`~xplique.attributions.GradCAM`.

    Notes
    -----
    The paper fuses the maps of several layers by hand; here one layer is explained per
    explainer (combine several LayerCAMs to fuse). Maps are upsampled with bilinear
    interpolation. Images only; returns (N, H, W, 1).
    """

    @staticmethod
    def _weights(activations, gradients):
        """One weight per position and channel: the positive part of the gradient."""
        return tf.nn.relu(gradients)
