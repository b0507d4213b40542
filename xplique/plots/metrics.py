"""Plots of metric results: bar charts of scores and deletion/insertion curves."""

from typing import Dict, Mapping, Optional, Union

import matplotlib.pyplot as plt
import numpy as np


def _colors(methods, methods_colors) -> Dict[str, object]:
    """A colour per method from a dict, a colormap name, or the default colour cycle."""
    if isinstance(methods_colors, Mapping):
        missing = [method for method in methods if method not in methods_colors]
        if missing:
            raise ValueError(f"`methods_colors` has no colour for the methods {missing}")
        return dict(methods_colors)
    name = methods_colors if isinstance(methods_colors, str) else "tab10"
    if methods_colors is not None and not isinstance(methods_colors, str):
        raise TypeError("`methods_colors` must be None, a dict {method: colour} or a colormap "
                        f"name. Received: {methods_colors!r}")
    colormap = plt.get_cmap(name)
    count = max(len(methods), 1)
    positions = np.arange(count) % 10 / 10 if name == "tab10" else np.linspace(0, 1, count)
    return {method: colormap(position) for method, position in zip(methods, positions)}


def _normalised_auc(steps: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid area under the curve divided by the x span (the mean height)."""
    if steps.size < 2 or steps[-1] == steps[0]:
        return float(values.mean())
    areas = (values[1:] + values[:-1]) / 2.0 * np.diff(steps)
    return float(areas.sum() / (steps[-1] - steps[0]))


def _finish(figure, title: str, filepath: Optional[str]):
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if filepath is not None:
        figure.savefig(filepath)
    return figure


def barplot(scores: Dict[str, Dict[str, float]], sort_metric: Optional[str] = None,
            ascending: bool = False, title: str = "", filepath: Optional[str] = None,
            methods_colors: Optional[Union[Dict[str, object], str]] = None):
    """One bar chart per metric, one bar per method.

    Parameters
    ----------
    scores
        `{metric name: {method name: score}}`.
    sort_metric
        Order the methods by their score on this metric (default: the order of the dicts).
    ascending
        Sort from the lowest score up.
    title
        Title of the figure.
    filepath
        Save the figure there when given.
    methods_colors
        `{method: colour}`, or a colormap name (default "tab10").

    Returns
    -------
    The matplotlib figure.
    """
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError("`scores` must be a non-empty dict {metric: {method: score}}. "
                         f"Received: {scores!r}")
    methods = list(dict.fromkeys(m for per_method in scores.values() for m in per_method))
    if sort_metric is not None:
        if sort_metric not in scores:
            raise ValueError(f"`sort_metric` must be one of {list(scores)}. Received: "
                             f"sort_metric={sort_metric!r}")
        reference = scores[sort_metric]
        methods.sort(key=lambda m: reference.get(m, np.nan), reverse=not ascending)
    colors = _colors(methods, methods_colors)
    width = max(3.0, 0.6 * len(methods) + 1.5)
    figure, axes = plt.subplots(1, len(scores), figsize=(width * len(scores), 4.0),
                                squeeze=False)
    for axis, (metric, per_method) in zip(axes[0], scores.items()):
        shown = [method for method in methods if method in per_method]
        axis.bar(np.arange(len(shown)), [per_method[m] for m in shown],
                 color=[colors[m] for m in shown])
        axis.set_xticks(np.arange(len(shown)), shown, rotation=45, ha="right")
        axis.set_title(metric)
    return _finish(figure, title, filepath)


def fidelity_curves(detailed_scores: Dict[str, Dict[float, float]], title: str = "",
                    filepath: Optional[str] = None,
                    methods_colors: Optional[Union[Dict[str, object], str]] = None):
    """Deletion / insertion curves of several methods on one plot, the AUC in the legend.

    Parameters
    ----------
    detailed_scores
        `{method name: curve}` where a curve is the `{features perturbed: mean score}` dict
        returned by `Deletion.detailed_evaluate` or `Insertion` (a number of features) or
        `ROAD` (a fraction). The AUC is divided by the span of the keys, so both give the
        mean height of the curve.
    title, filepath, methods_colors
        As in :func:`barplot`.

    Returns
    -------
    The matplotlib figure.
    """
    if not isinstance(detailed_scores, Mapping) or not detailed_scores:
        raise ValueError("`detailed_scores` must be a non-empty dict {method: {step: score}}. "
                         f"Received: {detailed_scores!r}")
    colors = _colors(list(detailed_scores), methods_colors)
    figure, axis = plt.subplots(figsize=(6.0, 4.0))
    for method, curve in detailed_scores.items():
        steps = np.asarray(list(curve), dtype=np.float64)
        values = np.asarray(list(curve.values()), dtype=np.float64)
        auc = _normalised_auc(steps, values)
        axis.plot(steps, values, color=colors[method], label=f"{method} (AUC {auc:.3f})")
    axis.set_xlabel("features perturbed")
    axis.set_ylabel("score")
    axis.legend()
    return _finish(figure, title, filepath)
