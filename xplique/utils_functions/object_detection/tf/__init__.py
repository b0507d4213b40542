"""Xplique's path of the detector prediction type, :class:`TfMultiBoxTensor`."""

from xplique.utils_functions.object_detection.tf.multi_box_tensor import TfMultiBoxTensor

__all__ = ["TfMultiBoxTensor"]
