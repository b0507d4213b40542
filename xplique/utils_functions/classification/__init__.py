"""Xplique's path of the classifier prediction type (`classification.tf.TfClassifierTensor`)."""

from xplique.utils_functions.classification import tf

__all__ = ["tf"]
