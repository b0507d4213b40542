"""Xplique's public paths of the TensorFlow Holistic CRAFT pieces (the code lives in
:mod:`xplique.concepts.craft`)."""

from xplique.concepts.tf.holistic_craft import HolisticCraftTf
from xplique.concepts.tf.latent_extractor import TfLatentExtractor

__all__ = ["HolisticCraftTf", "TfLatentExtractor"]
