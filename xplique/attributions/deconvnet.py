"""DeconvNet."""

from xplique.attributions._relu_policy import _ReluPolicyGradients


class DeconvNet(_ReluPolicyGradients):
    """DeconvNet: the input gradient of the score where every ReLU backpropagates the ReLU of
    the incoming gradient, whatever the sign of its forward input.

    Ref. Zeiler and Fergus, Visualizing and Understanding Convolutional Networks (2014),
    https://arxiv.org/abs/1311.2901

    DeconvNet has no parameter of its own; its ReLUs must be layers (see Notes).

    Notes
    -----
    The paper reconstructs features through transposed filters with switches for max pooling;
    for ReLU networks this equals the gradient with the rule above (Simonyan et al., 2013),
    which is what is computed. The rule is applied on a clone of the model (same weights), so
    the user's model is never changed; it covers ReLUs held by layers (`activation="relu"`,
    `ReLU()`, `Activation("relu")`), not plain functions inside a custom `call`. See
    :func:`~xplique.commons.relu_policies.relu_gradient_policy` for subclassed models.
    """

    policy = "deconv"
