"""Grad-CAM++."""

import tensorflow as tf

from xplique.attributions._gradient_cam import _GradientCAM


class GradCAMPP(_GradientCAM):
    """Grad-CAM++: Grad-CAM whose channel weights sum the positive gradients with per-position
    coefficients, so that several instances of a class all count.

    With `g = dS/dA_k(i, j)`:
    `alpha_k(i, j) = g^2 / (2 g^2 + sum_ab A_k(a, b) g^3)`,
    `w_k = sum_ij alpha_k(i, j) ReLU(g)` and the map is `ReLU(sum_k w_k A_k)`, upsampled.

    Ref. Chattopadhay et al., Grad-CAM++: Improved Visual Explanations for Deep Convolutional
    Networks (2018), https://arxiv.org/abs/1710.11063

    Parameters are those of :class:`~xplique.attributions.GradCAM`.

    Notes
    -----
    The higher derivatives use the paper's closed form for an exponentiated score (powers of
    the first derivative). As in the paper, the denominator holds the spatial *sum* of the
    activations and `w_k` is a sum over positions; Xplique uses spatial means for both, which
    rescales the map and changes the alphas. Where the denominator is zero, alpha is zero.
    Maps are upsampled with bilinear interpolation. Images only; returns (N, H, W, 1).
    """

    @staticmethod
    def _weights(activations, gradients):
        """One weight per channel: `w_k = sum_ij alpha_k(i, j) ReLU(g)`."""
        squared = tf.square(gradients)
        totals = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
        alphas = tf.math.divide_no_nan(squared, 2.0 * squared + totals * squared * gradients)
        return tf.reduce_sum(alphas * tf.nn.relu(gradients), axis=(1, 2), keepdims=True)
