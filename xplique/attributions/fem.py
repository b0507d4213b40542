"""FEM, the Feature Explanation Method."""

import functools

import tensorflow as tf

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.distribution import Rows
from xplique.commons.feature_maps import weighted_feature_map
from xplique.commons.model_surgery import find_conv_layer, run_model, truncate_at
from xplique.commons.validation import ensure_float


class FEM(WhiteBoxExplainer):
    """FEM: a gradient-free map of where the feature maps of a convolution fire strongly.

    Each channel `A_k` is thresholded at `mean + k * std` of its own values (the K-sigma rule),
    and the binary masks are summed with the channel means as weights:
    `sum_k mean(A_k) [A_k >= mean(A_k) + k std(A_k)]`, upsampled to the input size.

    Ref. Fuad et al., Features Understanding in 3D CNNs for Actions Recognition in Video
    (2020), https://doi.org/10.1109/IPTA50016.2020.9286629

    Parameters
    ----------
    conv_layer
        Layer of the feature maps `A` (N, h, w, K), as in :class:`~xplique.attributions.GradCAM`.
    k
        Number of standard deviations above the mean a position must reach to count.

    Notes
    -----
    FEM reads no score: it explains what the layer detects, whatever the class, so it takes no
    `operator` nor `output_layer` and ignores `targets` (they are still validated; with
    `targets=None` no extra forward pass is made). Maps are upsampled with bilinear
    interpolation (Xplique: bicubic). A position exactly at the threshold counts (`>=`, Xplique's
    formula), so a constant channel is selected whole and weighted by its mean. Images only;
    returns (N, H, W, 1).
    """

    def __init__(self, model, batch_size=32, conv_layer=None, k=2.0, *, strategy=None):
        self._setup_white_box(model, None, batch_size, None, reducer=None, strategy=strategy)
        self.conv_layer = find_conv_layer(model, conv_layer)
        self.k = ensure_float(k, "k")
        features = truncate_at(model, self.conv_layer)
        self._maps = Compiled(functools.partial(_fem, features, self.k), split=Rows())

    def _targets_for(self, inputs, targets):
        if targets is None:  # FEM is class-agnostic: no forward pass to find the top class
            return tf.zeros((inputs.shape[0], 0))
        return super()._targets_for(inputs, targets)

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._maps, [inputs], self.batch_size)


def _fem(features, k, inputs):
    activations = run_model(features, inputs)
    mean, variance = tf.nn.moments(activations, axes=(1, 2), keepdims=True)
    masks = tf.cast(activations >= mean + k * tf.sqrt(variance), activations.dtype)
    return weighted_feature_map(masks, mean, inputs.shape[1:3], rectify=False)
