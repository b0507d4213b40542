"""Grad-CAM."""

import tensorflow as tf

from xplique.attributions._gradient_cam import _GradientCAM


class GradCAM(_GradientCAM):
    """Grad-CAM: the feature maps of a convolution weighted by the spatial mean of the score's
    gradient with respect to them, `ReLU(sum_k mean_ij(dg/dA_k) A_k)`, upsampled to the input.

    Ref. Selvaraju et al., Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
    Localization (2017), https://arxiv.org/abs/1610.02391

    Parameters
    ----------
    conv_layer
        Layer (name or index) giving the feature maps `A` (N, h, w, K); by default the last
        convolution with a 4-D output.

    Notes
    -----
    Maps are upsampled from (h, w) to the input size with bilinear interpolation, as in the
    paper (Xplique uses bicubic, which can overshoot below zero). Unlike Xplique, `operator`
    and `output_layer` take effect. Images only; returns (N, H, W, 1).
    """

    @staticmethod
    def _weights(activations, gradients):
        """One weight per channel: the spatial mean of its gradient."""
        return tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
