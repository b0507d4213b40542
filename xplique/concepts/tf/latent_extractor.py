"""Xplique's public path of the Keras latent extractor: Xplique's `TfLatentExtractor` is our
:class:`~xplique.concepts.craft.latent_extractor.LatentExtractor` (same parameters)."""

from xplique.concepts.craft.latent_extractor import LatentExtractor

#: Xplique's name of the Keras latent extractor.
TfLatentExtractor = LatentExtractor

__all__ = ["TfLatentExtractor"]
