"""DeconvNet and Guided Backpropagation: one input gradient, two ReLU backward rules."""

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.all_targets import target_gradients_of
from xplique.commons.batching import batched
from xplique.commons.model_surgery import portable_layer_ref
from xplique.commons.relu_policies import relu_gradient_policy
from xplique.commons.validation import ensure_callable


class _ReluPolicyGradients(WhiteBoxExplainer):
    """The input gradient of the score where every ReLU backpropagates by `policy` (a key of
    :data:`~xplique.commons.relu_policies.RELU_POLICIES`), computed on a rewired copy of the
    model made by :func:`~xplique.commons.relu_policies.relu_gradient_policy` (its docstring
    says which ReLUs are rewired and how subclassed models are handled). Concrete presets only
    choose the policy."""

    policy: str

    def __init__(self, model, output_layer=None, batch_size=32, operator=None, reducer="mean",
                 *, strategy=None):
        ensure_callable(model, "model")
        output_layer = portable_layer_ref(model, output_layer)
        rewired = relu_gradient_policy(model, self.policy)
        self._setup_white_box(rewired, output_layer, batch_size, operator, reducer,
                              strategy=strategy)
        self.model = model  # the user's model; gradients run on the rewired copy
        self._target_gradients = target_gradients_of(self._scored_model)

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._gradients, [inputs, targets], self.batch_size)

    def _explain_group_targets(self, inputs, indices, first_input):
        return batched(self._target_gradients, [inputs, indices], self.batch_size)
