"""Grad-CAM, Grad-CAM++ and LayerCAM: one gradient-weighted feature-map mechanism, three
weightings."""

import abc

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.batching import batched
from xplique.commons.feature_maps import gradient_cam_kernel, gradient_cam_targets_kernel


class _GradientCAM(WhiteBoxExplainer):
    """`ReLU(sum_k W_k A_k)` upsampled to the input, where `A` are the feature maps of
    `conv_layer` and the weights `W = _weights(A, dS/dA)` come from the score's gradient with
    respect to them (:func:`~xplique.commons.feature_maps.gradient_cam_kernel`). Concrete
    presets only choose the weighting."""

    def __init__(self, model, output_layer=None, batch_size=32, operator=None,
                 conv_layer=None, *, strategy=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer=None,
                              strategy=strategy)
        self.conv_layer, self._maps = gradient_cam_kernel(
            model, conv_layer, output_layer, self.operator, self._weights
        )
        self._target_maps = gradient_cam_targets_kernel(
            model, self.conv_layer, output_layer, self._weights
        )

    @staticmethod
    @abc.abstractmethod
    def _weights(activations, gradients):
        """The weights `W`, broadcastable against the feature maps `A` `(N, h, w, K)`."""

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._maps, [inputs, targets], self.batch_size)

    def _explain_group_targets(self, inputs, indices, first_input):
        return batched(self._target_maps, [inputs, indices], self.batch_size)
