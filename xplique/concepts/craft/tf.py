"""CRAFT for Keras models."""

import keras
import numpy as np
import tensorflow as tf

from xplique.commons.batching import batched, pairs_in, reduce_over_samples
from xplique.commons.compiled import Compiled
from xplique.commons.data import to_tensor
from xplique.commons.model_surgery import run_model
from xplique.commons.statistics import Collect
from xplique.commons.validation import ensure_choice
from xplique.concepts.craft.base import BaseCraft
from xplique.concepts.craft.nmf import TfNMF


def check_images(images: tf.Tensor, patch_size: int, name: str = "inputs") -> None:
    """Raise a ValueError unless `images` is `(N, H, W, C)` with `H, W >= patch_size`."""
    if images.shape.rank != 4 or images.shape[0] == 0:
        raise ValueError(
            f"`{name}` must be a non-empty batch of images (N, H, W, C). Received: "
            f"{name}.shape={tuple(images.shape)}"
        )
    if min(images.shape[1], images.shape[2]) < patch_size:
        raise ValueError(
            f"`patch_size` must not exceed the image size {tuple(images.shape[1:3])}. "
            f"Received: patch_size={patch_size}"
        )


class CraftTf(BaseCraft):
    """CRAFT on a Keras model cut in two parts (see :class:`~.base.BaseCraft` for the method,
    its parameters and notes).

    Parameters
    ----------
    input_to_latent_model
        Keras model `g`: images `(N, H, W, C)` to non-negative latents.
    latent_to_logit_model
        Keras model `h`: latents to logits.
    number_of_concepts, batch_size, patch_size
        See :class:`~.base.BaseCraft`.
    nmf
        Keyword-only. "sklearn" (scikit-learn's NMF, the default) or "tf": the same objective
        solved on the device by multiplicative updates (:class:`~.nmf.TfNMF`), faster on
        large crop sets.
    """

    def __init__(self, input_to_latent_model, latent_to_logit_model, number_of_concepts=20,
                 batch_size=64, patch_size=64, *, nmf="sklearn"):
        for model, name in ((input_to_latent_model, "input_to_latent_model"),
                            (latent_to_logit_model, "latent_to_logit_model")):
            if not isinstance(model, keras.Model):
                raise TypeError(f"`{name}` must be a keras.Model. Received: {type(model).__name__}")
        self._setup(input_to_latent_model, latent_to_logit_model, number_of_concepts,
                    batch_size, patch_size)
        self.nmf = ensure_choice(nmf, "nmf", ("sklearn", "tf"))
        self._encode = Compiled(lambda x: tf.cast(run_model(input_to_latent_model, x),
                                                  tf.float32))
        self._cut = Compiled(self._resized_patches)
        self._scores = Compiled(self._perturbed_logits)

    def _new_reducer(self):
        if self.nmf == "tf":
            return TfNMF(self.number_of_concepts, alpha_W=1e-2)
        return super()._new_reducer()

    def _resized_patches(self, images):
        size, stride = self.patch_size, int(0.8 * self.patch_size)
        patches = tf.image.extract_patches(
            images, sizes=[1, size, size, 1], strides=[1, stride, stride, 1],
            rates=[1, 1, 1, 1], padding="VALID",
        )
        patches = tf.reshape(patches, [-1, size, size, images.shape[-1]])
        return tf.image.resize(patches, images.shape[1:3], method="bicubic")

    def _crops(self, inputs):
        images = to_tensor(inputs, "inputs")
        check_images(images, self.patch_size)
        return batched(self._cut, [images], self.batch_size).numpy()

    def _latents(self, inputs):
        images = to_tensor(inputs, "inputs")
        return batched(self._encode, [images], self.batch_size).numpy()

    def _channels_last_latents(self, activations):
        return np.asarray(activations, np.float32)

    def _perturbed_logits(self, coeffs, start, stop, offset, masks, bank, class_id):
        """Logit `class_id` of `h((U * m) W)` for the pairs `[start, stop)` (image-major)."""
        pairs = pairs_in(start, stop, tf.cast(tf.shape(masks)[0], tf.int64))
        mask = tf.gather(masks, pairs.sample)
        mask = tf.reshape(mask, tf.concat(
            [tf.shape(mask)[:1], tf.ones([coeffs.shape.rank - 2], tf.int32), [-1]], 0))
        perturbed = tf.gather(coeffs, pairs.owner) * mask
        latents = tf.tensordot(perturbed, bank, axes=[[-1], [0]])
        logits = run_model(self.latent_to_logit_model, latents)
        return (tf.gather(tf.cast(logits, tf.float32), class_id, axis=-1),)

    def _design_scores(self, coeffs_u, masks, bank, class_id):
        nb_masks = int(masks.shape[0])
        return reduce_over_samples(
            self._scores, [tf.constant(coeffs_u)], nb_masks, self.batch_size, Collect(nb_masks),
            extras=(tf.constant(masks), tf.constant(bank), tf.constant(class_id, tf.int32)),
        )

    def _images_channels_last(self, images):
        return np.asarray(images, np.float32)
