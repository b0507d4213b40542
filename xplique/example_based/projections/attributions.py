"""Attribution projection: features weighted by an attribution method's explanations."""

from typing import Optional

import keras
import tensorflow as tf

from xplique.attributions import Saliency
from xplique.commons.model_surgery import find_conv_layer, find_layer, is_graph_model
from xplique.example_based.projections.base import Projection
from xplique.example_based.projections.latent_space import latent_model
from xplique.types import LayerRef


def head_model(model, latent_layer: LayerRef) -> keras.Model:
    """The layers of `model` after `latent_layer`, as a model taking the latent features.

    Needs a graph model whose layers after `latent_layer` form a chain (each takes the
    previous one's output), as in Sequential models and most classifiers' heads.
    """
    if not is_graph_model(model):
        raise TypeError("`latent_layer` with an attribution method needs a Sequential or "
                        f"functional Keras model. Received: {type(model).__name__}")
    layer = find_layer(model, latent_layer)
    layers = list(model.layers)
    position = next(i for i, candidate in enumerate(layers) if candidate is layer)
    inputs = keras.Input(tuple(layer.output.shape[1:]))
    hidden = inputs
    for following in layers[position + 1:]:
        try:
            hidden = following(hidden)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"The layers after {layer.name!r} do not form a chain, so the model cannot be "
                "split there for an attribution method; choose another `latent_layer`"
            ) from error
    return keras.Model(inputs, hidden, name=f"{model.name}_after_{layer.name}")


class AttributionProjection(Projection):
    """Projection `x -> f_l(x) * a(h, f_l(x), y)`: the latent features (the input when
    `latent_layer` is None) weighted by the explanations `a` of an attribution method run on
    the rest of the model `h`.

    Parameters
    ----------
    model
        The Keras model (never modified).
    attribution_method
        An attribution method class of :mod:`xplique.attributions` (Saliency by default).
    latent_layer
        None (input space), "last_conv", or a layer name or index.
    **attribution_kwargs
        Passed to the attribution method's constructor (e.g. `batch_size`, `steps`).

    Notes
    -----
    Targets None use the predicted class (our explainers' `targets=None`), the target-free
    operator of Xplique. Image explanations `(N, H, W, 1)` broadcast over the channels.
    """

    def __init__(self, model, attribution_method=Saliency, latent_layer: Optional[LayerRef] = None,
                 **attribution_kwargs):
        self.model = model
        self.latent_layer = latent_layer
        if isinstance(latent_layer, str) and latent_layer == "last_conv":
            latent_layer = find_conv_layer(model).name
        explained = model if latent_layer is None else head_model(model, latent_layer)
        self.explainer = attribution_method(explained, **attribution_kwargs)
        space = None if latent_layer is None else latent_model(model, latent_layer)
        super().__init__(get_weights=None, space_projection=space, requires_targets=True)

    def project(self, inputs, targets=None) -> tf.Tensor:
        inputs = tf.cast(tf.convert_to_tensor(inputs), tf.float32)
        features = inputs if self.space_projection is None else self.space_projection(inputs)
        weights = self.explainer.explain(features, targets)
        return tf.cast(features, tf.float32) * tf.cast(weights, tf.float32)
