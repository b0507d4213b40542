"""Score-CAM."""

import functools

import tensorflow as tf

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.batching import batched, evaluations_per_pass
from xplique.commons.compiled import Compiled
from xplique.commons.distribution import Rows
from xplique.commons.feature_maps import weighted_feature_map
from xplique.commons.model_surgery import find_conv_layer, run_model, truncate_at
from xplique.commons.perturbation import inputs_per_block, perturbed_scores_of, reduce_perturbed
from xplique.commons.statistics import Collect


class ScoreCAM(WhiteBoxExplainer):
    """Score-CAM: feature maps weighted by the score of the input masked by each of them.

    Each channel `A_k` of the layer is upsampled to the input size and min-max normalised into
    a mask `M_k`; the score of `x * M_k` rates the channel, the ratings go through a softmax
    over channels and the map is `ReLU(sum_k softmax(scores)_k A_k)`, upsampled. It needs no
    gradient: `K` forward passes per input, `batch_size` masked inputs per pass.

    Ref. Wang et al., Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural
    Networks (2020), https://arxiv.org/abs/1910.01279

    Parameters are those of :class:`~xplique.attributions.GradCAM`.

    Notes
    -----
    The paper rates a channel by the increase of the score over a baseline input; the baseline
    score is the same for every channel, so it cancels in the softmax and is not computed. The
    rating is the operator's score (a probability for a model ending with a softmax, as in the
    paper; set `output_layer` to rate logits). Masked forward passes run through the shared
    perturbation kernel (:mod:`xplique.commons.perturbation`), packing the masks of several
    inputs in one pass. Maps and masks are upsampled with bilinear interpolation. Images only;
    returns (N, H, W, 1).
    """

    def __init__(self, model, output_layer=None, batch_size=32, operator=None,
                 conv_layer=None, *, strategy=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer=None,
                              strategy=strategy)
        self.conv_layer = find_conv_layer(model, conv_layer)
        features = truncate_at(model, self.conv_layer)
        self._features = Compiled(functools.partial(run_model, features), split=Rows())
        self._kernels = {}

    def _masked_scores(self, channels: int):
        """The perturbation kernel for `channels` masks per input (built once per count)."""
        if channels not in self._kernels:
            self._kernels[channels] = perturbed_scores_of(
                self._scored_model, self.operator, channels, _masked_by_channel,
                Collect(channels), values_of=_scores_only,
            )
        return self._kernels[channels]

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._explain_block, [inputs, targets], self._block_size(inputs))

    def _block_size(self, inputs):
        channels = _static_channels(self.conv_layer)
        if channels is None:  # subclassed model: read the channel count from one input
            channels = int(self._features(inputs[:1]).shape[-1])
        block = inputs_per_block(channels, self.batch_size)
        # whole batches of maps, whole batches of masks
        return block * -(-evaluations_per_pass(self.batch_size) // block)

    def _explain_block(self, inputs, targets):
        features = batched(self._features, [inputs], self.batch_size)
        channels = int(features.shape[-1])
        statistic = Collect(channels)
        scores = reduce_perturbed(
            self._masked_scores(channels), [inputs, targets, features], channels,
            self.batch_size, statistic,
        )
        weights = tf.nn.softmax(scores, axis=-1)[:, tf.newaxis, tf.newaxis, :]
        return weighted_feature_map(features, weights, inputs.shape[1:3])

    @property
    def tracing_count(self) -> int:
        """Number of graph traces made by this explainer's compiled kernels so far."""
        return self._features.tracing_count + sum(
            kernel.tracing_count for kernel in self._kernels.values()
        )


def _static_channels(layer):
    try:
        return int(layer.output.shape[-1])
    except (AttributeError, ValueError, TypeError):
        return None


def _masked_by_channel(pair_inputs, channel, first_pair, pair_features):
    """Each pair's input times the normalised, upsampled map of its channel."""
    maps = tf.gather(pair_features, channel, axis=3, batch_dims=1)[..., tf.newaxis]
    maps = tf.image.resize(maps, pair_inputs.shape[1:3], method="bilinear")
    low = tf.reduce_min(maps, axis=(1, 2, 3), keepdims=True)
    high = tf.reduce_max(maps, axis=(1, 2, 3), keepdims=True)
    masks = tf.math.divide_no_nan(maps - low, high - low)
    return pair_inputs * tf.cast(masks, pair_inputs.dtype), None


def _scores_only(scores, aux, *pair_tensors):
    return scores
