"""Xplique's path of :class:`~xplique.commons.prediction_types.TfMultiBoxTensor`."""

from xplique.commons.prediction_types import TfMultiBoxTensor

__all__ = ["TfMultiBoxTensor"]
