"""The two models Holistic CRAFT builds from its latent extractor and concept bank `W`:
:class:`ConceptDecoder`, concept coefficients to model outputs (`u -> h(u W)`, the model the
attribution methods explain), and :class:`ConceptLocalizer`, images to one score per concept."""

import tensorflow as tf

from xplique.concepts.craft.latent_extractor import LatentExtractor
from xplique.concepts.craft.nnls import nonnegative_coefficients

#: Concept-map reductions of the concept localizer.
LOCALIZER_REDUCERS = {"mean": tf.reduce_mean, "sum": tf.reduce_sum, "max": tf.reduce_max}


class ConceptDecoder(tf.Module):
    """`u -> h(u W)`: concept coefficients to model outputs (the model of the explainers)."""

    def __init__(self, extractor: LatentExtractor, bank):
        super().__init__()
        self._extractor = extractor
        self.bank = tf.constant(bank, tf.float32)

    def __call__(self, coeffs):
        latents = tf.tensordot(tf.cast(coeffs, tf.float32), self.bank, axes=[[-1], [0]])
        return self._extractor.logit_graph(latents)


class ConceptLocalizer(tf.Module):
    """Channels-last images to one score per concept `(n, R)`: the concept map of each image
    (coefficients of `g(x)` on the bank, by :func:`~.nnls.nonnegative_coefficients`) reduced
    over its positions."""

    def __init__(self, extractor: LatentExtractor, bank, penalty: float, reducer):
        super().__init__()
        self._extractor = extractor
        self.bank = tf.constant(bank, tf.float32)
        self.penalty = float(penalty)
        self._reducer = reducer

    def coefficients(self, images):
        """Concept maps `(n, ..., R)` of channels-last images."""
        return self.latent_coefficients(self._extractor.latent_graph(tf.cast(images,
                                                                           tf.float32)))

    def latent_coefficients(self, latents):
        """Concept maps `(n, ..., R)` of channels-last latents `(n, ..., c)`."""
        flat = tf.reshape(latents, [-1, tf.shape(latents)[-1]])
        coeffs = nonnegative_coefficients(flat, self.bank, self.penalty)
        return tf.reshape(coeffs, tf.concat([tf.shape(latents)[:-1], [-1]], 0))

    def __call__(self, images):
        coeffs = self.coefficients(images)
        if callable(self._reducer) and self._reducer not in LOCALIZER_REDUCERS.values():
            return tf.cast(self._reducer(coeffs), tf.float32)
        axes = list(range(1, coeffs.shape.rank - 1))
        return self._reducer(coeffs, axis=axes) if axes else coeffs
