"""Saliency maps."""

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.all_targets import target_gradients_of
from xplique.commons.batching import batched


class Saliency(WhiteBoxExplainer):
    """Saliency: the absolute gradient of the score with respect to the input, `|d g / d x|`.

    Ref. Simonyan et al., Deep Inside Convolutional Networks: Visualising Image Classification
    Models and Saliency Maps (2013), https://arxiv.org/abs/1312.6034

    Saliency has no parameter of its own; the shared ones (model, output_layer, batch_size,
    operator, reducer) are described in :class:`WhiteBoxExplainer`.

    Notes
    -----
    The paper takes the maximum of the absolute gradient over colour channels, which is the
    default `reducer="max"` applied to `|gradient|`.

    Examples
    --------
    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, use_bias=False)])
    >>> Saliency(model)(np.ones((4, 3), "float32"), np.array([0, 1, 0, 1])).shape
    TensorShape([4, 3])
    """

    def __init__(self, model, output_layer=None, batch_size=32, operator=None, reducer="max",
                 *, strategy=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer, strategy=strategy)
        self._target_gradients = target_gradients_of(self._scored_model)

    def _explain_group(self, inputs, targets, first_input):
        return abs(batched(self._gradients, [inputs, targets], self.batch_size))

    def _explain_group_targets(self, inputs, indices, first_input):
        return abs(batched(self._target_gradients, [inputs, indices], self.batch_size))
