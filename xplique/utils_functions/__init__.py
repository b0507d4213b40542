"""Xplique's public paths for the task helpers, kept stable over our own modules.

- :mod:`xplique.utils_functions.segmentation`: segmentation targets (class and connected zones,
  borders), over :mod:`xplique.commons.segmentation`;
- :mod:`xplique.utils_functions.object_detection`: box types and conversions, IoU and the
  detection operators, over :mod:`xplique.commons.boxes` and :mod:`xplique.commons.operators`,
  and (`.tf`) the detector prediction type of :mod:`xplique.commons.prediction_types`;
- :mod:`xplique.utils_functions.classification`: (`.tf`) the classifier prediction type.
"""

from xplique.utils_functions import classification, object_detection, segmentation

__all__ = ["segmentation", "object_detection", "classification"]
