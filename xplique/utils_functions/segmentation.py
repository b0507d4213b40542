"""Targets for semantic segmentation, at Xplique's path `xplique.utils_functions.segmentation`.

A thin public module over :mod:`xplique.commons.segmentation`, where the helpers are written
and documented (8-neighbour borders and connected zones, as in Xplique).
"""

from xplique.commons.segmentation import (
    get_class_zone,
    get_common_border,
    get_connected_zone,
    get_in_out_border,
    list_class_connected_zones,
)

__all__ = [
    "get_class_zone",
    "get_connected_zone",
    "list_class_connected_zones",
    "get_in_out_border",
    "get_common_border",
]
