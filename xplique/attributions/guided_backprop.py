"""Guided Backpropagation."""

from xplique.attributions._relu_policy import _ReluPolicyGradients


class GuidedBackprop(_ReluPolicyGradients):
    """Guided Backpropagation: the input gradient of the score where every ReLU lets a gradient
    through only where both its forward input and the incoming gradient are positive.

    Ref. Springenberg et al., Striving for Simplicity: The All Convolutional Net (2014),
    https://arxiv.org/abs/1412.6806

    GuidedBackprop has no parameter of its own; its ReLUs must be layers (see Notes).

    Notes
    -----
    The rule is applied on a clone of the model (same weights), so the user's model is never
    changed; it covers ReLUs held by layers (`activation="relu"`, `ReLU()`,
    `Activation("relu")`), not plain functions inside a custom `call`. See
    :func:`~xplique.commons.relu_policies.relu_gradient_policy` for subclassed models.
    """

    policy = "guided"
