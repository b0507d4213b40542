"""Projections of example-based methods: the space in which cases are searched."""

from xplique.example_based.projections.attributions import AttributionProjection
from xplique.example_based.projections.base import Projection
from xplique.example_based.projections.hadamard import HadamardProjection
from xplique.example_based.projections.latent_space import LatentSpaceProjection

__all__ = ["Projection", "LatentSpaceProjection", "AttributionProjection", "HadamardProjection"]
