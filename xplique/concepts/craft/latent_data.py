"""What Holistic CRAFT's `encode` returns: latents and the concept coefficients on them.

:class:`LatentData` is the interface of a batch of latents (Xplique's name and methods);
:class:`LayeredLatentData` holds the channels-last activations of a model cut at a layer;
:class:`EncodedData` pairs one batch of latents with its coefficients `U` (`A ~ U W`).
"""

import abc
from typing import Any, NamedTuple, Union

import numpy as np
import tensorflow as tf


class LatentData(abc.ABC):
    """A batch of latents between the two halves `g` and `h` of a model.

    Subclasses store the activations and give them back as numpy arrays or tensors,
    channels last `(n, ..., c)`.
    """

    @abc.abstractmethod
    def get_activations(self, as_numpy: bool = True, keep_gradients: bool = False):
        """The activations `(n, ..., c)`: a numpy array when `as_numpy`, else a tensor
        (`keep_gradients` keeps the tensor that gradients flow through)."""

    @abc.abstractmethod
    def set_activations(self, values) -> None:
        """Replace the activations by `values` (numpy array or tensor, same layout)."""


class LayeredLatentData(LatentData):
    """The output of the layer a model is cut at, for a batch of inputs.

    Parameters
    ----------
    activations
        Channels-last activations `(n, ..., c)` (tensor or numpy array).
    """

    def __init__(self, activations):
        self.activations = activations if isinstance(activations, tf.Tensor) else \
            tf.convert_to_tensor(activations, tf.float32)

    def __len__(self) -> int:
        return int(self.activations.shape[0])

    def __getitem__(self, indices) -> "LayeredLatentData":
        return LayeredLatentData(self.activations[indices])

    def get_activations(self, as_numpy: bool = True, keep_gradients: bool = False
                        ) -> Union[np.ndarray, tf.Tensor]:
        if as_numpy:
            return self.activations.numpy()
        return self.activations if keep_gradients else tf.stop_gradient(self.activations)

    def set_activations(self, values) -> None:
        self.activations = values if isinstance(values, tf.Tensor) else \
            tf.convert_to_tensor(values, tf.float32)


class EncodedData(NamedTuple):
    """One batch encoded by `HolisticCraft.encode`.

    Attributes
    ----------
    latent_data
        The batch's latents (a :class:`LatentData`).
    coeffs_u
        Its concept coefficients `(n, ..., R)`: a numpy array, or a `tf.Tensor` that gradients
        flow through when encoded with `differentiable=True`.
    """

    latent_data: LatentData
    coeffs_u: Union[np.ndarray, Any]
