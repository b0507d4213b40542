"""Metrics of a run, evaluated on each shard as it is explained.

A metric is named (`"Deletion"`, any case), given as a class of :mod:`xplique.metrics`, or as a
`(name or class, {parameter: value})` pair. Metrics that score explanations against the model
(:class:`~xplique.metrics.ExplanationMetric`: Deletion, Insertion, MuFidelity, ...) are built
on each shard's inputs and targets; complexity metrics (:class:`~xplique.metrics.Complexity`,
Sparseness) need no model and are built once. Each shard's value is recorded in the manifest
and the run's value is the mean over the shards weighted by their sizes: for metrics that
average over the inputs (all of these) it is the value on the whole array.
"""

import inspect
import re
from typing import Dict, List, Tuple

MetricSpec = Tuple[str, type, Dict]


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def resolve_metrics(metrics) -> List[MetricSpec]:
    """`[(name, class, parameters)]` for the `metrics` argument of `explain_dataset`."""
    from xplique import metrics as library  # pylint: disable=import-outside-toplevel

    usable = (library.ExplanationMetric, library.BaseComplexityMetric)
    known = {name: getattr(library, name) for name in library.__all__
             if inspect.isclass(getattr(library, name))
             and issubclass(getattr(library, name), usable)
             and not inspect.isabstract(getattr(library, name))}
    if isinstance(metrics, (str, type)):
        metrics = [metrics]
    specs = []
    for metric in metrics:
        params = {}
        if isinstance(metric, (tuple, list)) and len(metric) == 2 and isinstance(metric[1], dict):
            metric, params = metric
        if isinstance(metric, str):
            matches = [cls for key, cls in known.items() if _normalise(key) == _normalise(metric)]
            if not matches:
                raise ValueError(f"`metrics` names an unknown metric {metric!r}; metrics that "
                                 f"score explanations: {', '.join(known)}")
            metric = matches[0]
        if not (inspect.isclass(metric) and issubclass(metric, usable)):
            raise TypeError(
                "`metrics` must hold metric names, classes of xplique.metrics that score "
                "explanations, or (name, parameters) pairs. Received: "
                f"{metric!r}"
            )
        specs.append((metric.__name__, metric, dict(params)))
    names = [name for name, _, _ in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"`metrics` must name each metric once. Received: {names}")
    return specs


class ShardMetrics:
    """Evaluates the metrics of a run on one shard at a time."""

    def __init__(self, specs: List[MetricSpec], explainer):
        from xplique.metrics import BaseComplexityMetric  # pylint: disable=C0415
        from xplique.runs.settings import base_explainer  # pylint: disable=C0415

        self.specs = specs
        self.model = base_explainer(explainer).model
        self.operator = getattr(base_explainer(explainer), "operator", None)
        self._once = {name: cls(**params) for name, cls, params in specs
                      if issubclass(cls, BaseComplexityMetric)}

    def evaluate(self, inputs, targets, explanations) -> Dict[str, float]:
        """`{name: value}` of every metric on one shard."""
        values = {}
        for name, cls, params in self.specs:
            metric = self._once.get(name)
            if metric is None:
                params = dict(params)
                if self.operator is not None and "operator" in inspect.signature(cls).parameters:
                    params.setdefault("operator", self.operator)
                metric = cls(self.model, inputs, targets, **params)
            values[name] = float(metric.evaluate(explanations))
        return values


def aggregate(shards: List[Dict]) -> Dict[str, float]:
    """Mean of each metric over `shards` (manifest entries), weighted by the shard sizes."""
    totals, sizes = {}, {}
    for entry in shards:
        size = entry["stop"] - entry["start"]
        for name, value in entry.get("metrics", {}).items():
            totals[name] = totals.get(name, 0.0) + value * size
            sizes[name] = sizes.get(name, 0) + size
    return {name: totals[name] / sizes[name] for name in totals}
