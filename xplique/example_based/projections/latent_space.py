"""Projection into a model's latent space."""

from typing import Optional

from xplique.commons.compiled import Compiled
from xplique.commons.model_surgery import find_conv_layer, run_model, truncate_at
from xplique.example_based.projections.base import Projection
from xplique.types import LayerRef


def latent_model(model, latent_layer: Optional[LayerRef]):
    """`model` up to `latent_layer`: None is the whole model, "last_conv" its last
    convolution, otherwise a layer name or index."""
    if latent_layer is None:
        return lambda inputs: run_model(model, inputs)
    if isinstance(latent_layer, str) and latent_layer == "last_conv":
        latent_layer = find_conv_layer(model).name
    truncated = truncate_at(model, latent_layer)
    return lambda inputs: run_model(truncated, inputs)


class LatentSpaceProjection(Projection):
    """Projection `x -> f_l(x)`: the output of the model's layer `latent_layer`.

    Parameters
    ----------
    model
        The Keras model whose latent space is searched (never modified).
    latent_layer
        None (the model's output), "last_conv" (the last convolution), a layer name or index.
    device, mappable
        Accepted for compatibility with Xplique.

    Examples
    --------
    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    >>> LatentSpaceProjection(model, "d")(np.ones((4, 3), "float32")).shape
    TensorShape([4, 2])
    """

    def __init__(self, model, latent_layer: Optional[LayerRef] = None,
                 device: Optional[str] = None, mappable: bool = True):
        self.model = model
        self.latent_layer = latent_layer
        super().__init__(get_weights=None, space_projection=Compiled(
            latent_model(model, latent_layer)), device=device, mappable=mappable)
