"""Holistic CRAFT's records, Xplique's interface of `encode` and `decode`: the latents and
coefficients of the encoded images as one :class:`~.latent_data.EncodedData` per `batch_size`
images, the checks `decode` makes of the batch it is given, and the decoder's raw outputs as a
structured prediction.

The task is read from the decoder's outputs: scores `(n, n_classes)` are a classifier, boxes
`(n, nb_boxes, 4 + 1 + n_classes)` a detector in the layout of docs/tasks.md.
"""

from typing import List

import tensorflow as tf

from xplique.commons.data import to_tensor
from xplique.commons.prediction_types import (
    StructuredPrediction,
    TfClassifierTensor,
    TfMultiBoxTensor,
)
from xplique.concepts.craft.latent_data import EncodedData, LatentData, LayeredLatentData


def is_detector(outputs: tf.Tensor) -> bool:
    """True for the boxes of a detector, False for the scores of a classifier, else a
    ValueError."""
    if outputs.shape.rank in (2, 3):
        return outputs.shape.rank == 3
    raise ValueError(
        "The latent-to-logit model must output (N, n_classes) scores or (N, nb_boxes, "
        f"4 + 1 + n_classes) boxes. Received outputs of shape {tuple(outputs.shape)}"
    )


def encoded_batches(latents: tf.Tensor, coeffs_u, batch_size: int) -> List[EncodedData]:
    """One :class:`EncodedData` per `batch_size` inputs, in order: a :class:`LayeredLatentData`
    of the channels-last `latents` and the coefficients `coeffs_u` of those inputs."""
    return [EncodedData(LayeredLatentData(latents[start:start + batch_size]),
                        coeffs_u[start:start + batch_size])
            for start in range(0, int(latents.shape[0]), batch_size)]


def checked_coefficients(latent_data, coeffs_u, number_of_concepts: int) -> tf.Tensor:
    """`coeffs_u` as a tensor, or an error unless `latent_data` is a :class:`LatentData` and
    `coeffs_u` holds `number_of_concepts` coefficients for each of its inputs."""
    if not isinstance(latent_data, LatentData):
        raise TypeError(
            "`latent_data` must be the LatentData of one encoded batch (encode(...)[i]"
            f".latent_data). Received: {type(latent_data).__name__}"
        )
    coeffs = to_tensor(coeffs_u, "coeffs_u")
    activations = latent_data.get_activations(as_numpy=False)
    if coeffs.shape.rank == 0 or coeffs.shape[0] != activations.shape[0] or \
            coeffs.shape[-1] != number_of_concepts:
        raise ValueError(
            f"`coeffs_u` must hold the {number_of_concepts} coefficients of each of the"
            f" {activations.shape[0]} inputs of `latent_data`. Received: coeffs_u.shape="
            f"{tuple(coeffs.shape)}"
        )
    return coeffs


def decoded_prediction(outputs: tf.Tensor, output_formatter=None) -> StructuredPrediction:
    """The decoder's raw `outputs` as a structured prediction: `output_formatter(outputs)`
    (its only element when it returns one), else a :class:`TfClassifierTensor` of the scores
    or a :class:`TfMultiBoxTensor` of the boxes (`(B, 4 + 1 + C)` for one image)."""
    if output_formatter is not None:
        formatted = output_formatter(outputs)
        if isinstance(formatted, (list, tuple)) and len(formatted) == 1:
            return formatted[0]
        return formatted
    if is_detector(outputs):
        return TfMultiBoxTensor(outputs[0] if outputs.shape[0] == 1 else outputs)
    return TfClassifierTensor(outputs)
