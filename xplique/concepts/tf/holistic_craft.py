"""Xplique's public path of :class:`~xplique.concepts.craft.holistic.HolisticCraftTf`."""

from xplique.concepts.craft.holistic import HolisticCraftTf

__all__ = ["HolisticCraftTf"]
