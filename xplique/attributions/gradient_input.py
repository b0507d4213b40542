"""Gradient x Input."""

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.all_targets import target_gradients_of
from xplique.commons.batching import batched


class GradientInput(WhiteBoxExplainer):
    """Gradient x Input: the elementwise product of the score gradient and the input.

    Ref. Shrikumar et al., Not Just a Black Box: Learning Important Features Through
    Propagating Activation Differences (2016), https://arxiv.org/abs/1605.01713

    GradientInput has no parameter of its own; the shared ones (model, output_layer,
    batch_size, operator, reducer) are described in :class:`WhiteBoxExplainer`. Its
    `batch_size` defaults to 64, Xplique's default for this method.
    """

    def __init__(self, model, output_layer=None, batch_size=64, operator=None, reducer="mean",
                 *, strategy=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer, strategy=strategy)
        self._target_gradients = target_gradients_of(self._scored_model)

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._gradients, [inputs, targets], self.batch_size) * inputs

    def _explain_group_targets(self, inputs, indices, first_input):
        gradients = batched(self._target_gradients, [inputs, indices], self.batch_size)
        return gradients * inputs[:, None]
