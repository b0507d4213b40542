"""Xplique's public path of the layer-cut extractor builder and of its latent records."""

from xplique.concepts.craft.latent_data import LayeredLatentData
from xplique.concepts.craft.latent_extractor import LayeredModelExtractorBuilder

__all__ = ["LayeredLatentData", "LayeredModelExtractorBuilder"]
