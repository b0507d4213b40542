"""The abstract base of meta-explainers: an explainer wrapped, with the same interface."""

import abc
from typing import Optional

import tensorflow as tf

from xplique.commons.distribution import Distributed
from xplique.types import InputsLike, TargetsLike


class MetaExplainer(Distributed, abc.ABC):
    """Base of the explainers that wrap another one (`self.explainer`) and post-process or
    average its explanations. Concrete wrappers define `__init__` (storing the wrapped
    explainer with :func:`ensure_explainer`, and the keyword-only `strategy` with
    :func:`~xplique.commons.distribution.ensure_strategy`) and :meth:`explain`, which runs on
    that strategy, the wrapped explainer included when its own `strategy` is None."""

    explainer: object
    distributed_methods = ("__init__", "explain")

    @abc.abstractmethod
    def explain(self, inputs: InputsLike, targets: TargetsLike = None, *,
                top_k: Optional[int] = None) -> tf.Tensor:
        """The explanations of `inputs` for `targets` (or `targets="all"`, `top_k=K`, as the
        wrapped explainer takes them), from the wrapped explainer's."""

    def __call__(self, inputs: InputsLike, targets: TargetsLike = None, *,
                 top_k: Optional[int] = None) -> tf.Tensor:
        """Alias of :meth:`explain`."""
        return self.explain(inputs, targets, top_k=top_k)

    @property
    def model(self):
        """The wrapped explainer's model."""
        return getattr(self.explainer, "model", None)

    @property
    def tracing_count(self) -> int:
        """Traces made by the wrapped explainer's compiled kernels."""
        return getattr(self.explainer, "tracing_count", 0)


def ensure_explainer(explainer):
    """Return `explainer` if it has an `explain` method, else raise a TypeError."""
    if not callable(getattr(explainer, "explain", None)):
        raise TypeError(
            "`explainer` must have an `explain(inputs, targets)` method (an attribution "
            f"method instance). Received: {explainer!r}"
        )
    return explainer
