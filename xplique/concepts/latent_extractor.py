"""Xplique's public path of the latent-extractor interface and of `encode`'s records
(the code lives in :mod:`xplique.concepts.craft`)."""

from xplique.concepts.craft.latent_data import EncodedData, LatentData
from xplique.concepts.craft.latent_extractor import LatentExtractor

__all__ = ["EncodedData", "LatentData", "LatentExtractor"]
