"""FORGrad as a meta-explainer: any explainer's maps, low-pass filtered."""

from typing import Optional

import tensorflow as tf

from xplique.attributions.meta.base import MetaExplainer, ensure_explainer
from xplique.commons.distribution import ensure_strategy
from xplique.commons.forgrad import forgrad
from xplique.commons.validation import ensure_float
from xplique.types import InputsLike, TargetsLike


class FORGrad(MetaExplainer):
    """Wrap an explainer so that its explanations are low-pass filtered by
    :func:`xplique.commons.forgrad` (the paper's FORGrad applied to any method).

    Ref. Muzellec et al., Gradient strikes back: How filtering out high frequencies improves
    explanations (2023), https://arxiv.org/abs/2307.09591

    Parameters
    ----------
    explainer
        Any object with `explain(inputs, targets)` returning image maps (N, H, W, C).
    sigma
        Cut-off radius in cycles per map side (see :func:`xplique.commons.forgrad`).

    Examples
    --------
    >>> import numpy as np, keras
    >>> from xplique.attributions import Saliency
    >>> model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(2)])
    >>> FORGrad(Saliency(model), sigma=2)(np.ones((3, 6, 6, 1), "float32"), [0, 1, 0]).shape
    TensorShape([3, 6, 6, 1])
    """

    def __init__(self, explainer, sigma: float = 15, *, strategy=None):
        self.explainer = ensure_explainer(explainer)
        self.strategy = ensure_strategy(strategy)
        self.sigma = ensure_float(sigma, "sigma")
        if not self.sigma > 0:
            raise ValueError(f"`sigma` must be > 0. Received: sigma={sigma!r}")

    def explain(self, inputs: InputsLike, targets: TargetsLike = None, *,
                top_k: Optional[int] = None) -> tf.Tensor:
        """The wrapped explainer's explanations, filtered (same shape). With
        `targets="all"` or `top_k`, each of the `(N, K, ...)` maps is filtered on its own."""
        if top_k is None and not (isinstance(targets, str) and targets == "all"):
            return forgrad(self.explainer.explain(inputs, targets), self.sigma)
        maps = self.explainer.explain(inputs, targets, top_k=top_k)
        merged = tf.reshape(maps, tf.concat([[-1], tf.shape(maps)[2:]], 0))
        return tf.reshape(forgrad(merged, self.sigma), tf.shape(maps))
