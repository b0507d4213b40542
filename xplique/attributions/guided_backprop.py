"""Guided Backpropagation."""

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.batching import batched
from xplique.commons.model_surgery import portable_layer_ref, relu_gradient_policy
from xplique.commons.validation import ensure_callable


class GuidedBackprop(WhiteBoxExplainer):
    """Guided Backpropagation: the input gradient of the score where every ReLU lets a gradient
    through only where both its forward input and the incoming gradient are positive.

    Ref. Springenberg et al., Striving for Simplicity: The All Convolutional Net (2014),
    https://arxiv.org/abs/1412.6806

    Parameters
    ----------
    model
        Keras model to explain (its ReLUs must be layers, see Notes).
    output_layer
        Layer (name or index) whose output is scored instead of the model's output.
    reducer
        Channel reduction of image maps ("mean", "min", "max", "sum" or None).

    Notes
    -----
    The rule is applied on a clone of Sequential and functional models (same weights): the
    user's model is never changed. It covers `activation="relu"` inside layers and standalone
    `ReLU()` / `Activation("relu")` layers; ReLUs applied as plain functions inside a custom
    `call` keep their ordinary gradient. Subclassed models cannot be cloned: their ReLU layers
    are rewired only while the explainer runs them (compiled kernels keep the graph they traced)
    and restored right after.
    """

    def __init__(self, model, output_layer=None, batch_size=32, operator=None, reducer="mean"):
        ensure_callable(model, "model")
        output_layer = portable_layer_ref(model, output_layer)
        guided = relu_gradient_policy(model, "guided")
        self._setup_white_box(guided, output_layer, batch_size, operator, reducer)
        self.model = model  # the user's model; gradients run on the rewired copy

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._gradients, [inputs, targets], self.batch_size)
