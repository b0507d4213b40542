"""Xplique's path of :class:`~xplique.commons.prediction_types.TfClassifierTensor`."""

from xplique.commons.prediction_types import TfClassifierTensor

__all__ = ["TfClassifierTensor"]
