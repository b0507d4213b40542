"""Feature-impact plots for tabular explanations `(N, W)`."""

from typing import Optional

import matplotlib.pyplot as plt
import numpy as np

from xplique.commons.validation import ensure_optional_positive_int
from xplique.plots.common import feature_names, to_numpy

_POSITIVE, _NEGATIVE = "#ff0051", "#008bfb"


def _shown(order: np.ndarray, max_display: Optional[int]) -> np.ndarray:
    max_display = ensure_optional_positive_int(max_display, "max_display")
    return order if max_display is None else order[:max_display]


def _tabular(values, name: str, rank: int) -> np.ndarray:
    """One tabular explanation `(W,)` (rank 1) or a batch of them `(N, W)` (rank 2)."""
    values = to_numpy(values, name)
    if values.ndim != rank:
        expected = "one tabular explanation (W,)" if rank == 1 else "tabular explanations (N, W)"
        raise ValueError(f"`{name}` must be {expected}. Received: {name}.shape={values.shape}")
    return values


def plot_feature_impact(explanation, features_name=None, features_value=None,
                        max_display: Optional[int] = None):
    """Horizontal bars of one explanation's feature impacts, largest `|impact|` on top.

    Parameters
    ----------
    explanation
        One tabular explanation `(W,)`.
    features_name
        Names of the W features (default "feature i").
    features_value
        The explained input's values `(W,)`, shown next to the names.
    max_display
        Show only the `max_display` most impactful features.

    Returns
    -------
    The matplotlib figure.
    """
    impact = _tabular(explanation, "explanation", rank=1)
    names = feature_names(features_name, impact.size)
    if features_value is not None:
        values = _tabular(features_value, "features_value", rank=1)
        if values.size != impact.size:
            raise ValueError(f"`features_value` must hold {impact.size} values. Received "
                             f"{values.size}")
        names = [f"{name} = {value:.3g}" for name, value in zip(names, values)]
    order = _shown(np.argsort(-np.abs(impact), kind="stable"), max_display)[::-1]
    figure, axes = plt.subplots(figsize=(6.0, 0.4 * len(order) + 1.0))
    colors = [_POSITIVE if impact[i] > 0 else _NEGATIVE for i in order]
    axes.barh(np.arange(len(order)), impact[order], color=colors)
    axes.set_yticks(np.arange(len(order)), [names[i] for i in order])
    axes.axvline(0.0, color="#999999", linewidth=0.8)
    axes.set_xlabel("feature impact")
    figure.tight_layout()
    return figure


def plot_mean_feature_impact(explanations, features_name=None,
                             max_display: Optional[int] = None):
    """Horizontal bars of the mean absolute impact of each feature over explanations `(N, W)`.

    Parameters
    ----------
    explanations
        Tabular explanations `(N, W)`.
    features_name, max_display
        As in :func:`plot_feature_impact`.

    Returns
    -------
    The matplotlib figure.
    """
    impacts = _tabular(explanations, "explanations", rank=2)
    mean_impact = np.abs(impacts).mean(axis=0)
    names = feature_names(features_name, mean_impact.size)
    order = _shown(np.argsort(-mean_impact, kind="stable"), max_display)[::-1]
    figure, axes = plt.subplots(figsize=(6.0, 0.4 * len(order) + 1.0))
    axes.barh(np.arange(len(order)), mean_impact[order], color=_NEGATIVE)
    axes.set_yticks(np.arange(len(order)), [names[i] for i in order])
    axes.set_xlabel("mean |feature impact|")
    figure.tight_layout()
    return figure


def summary_plot_tabular(explanations, features_values=None, features_name=None,
                         max_display: Optional[int] = None, cmap: str = "viridis",
                         clip_percentile: float = 1, alpha: float = 1, plot_size=None):
    """One row of dots per feature: each dot is one sample's impact, coloured by the sample's
    value of that feature (a summary of every explanation at once).

    Parameters
    ----------
    explanations
        Tabular explanations `(N, W)`.
    features_values
        The explained inputs `(N, W)`; without them the dots are not coloured.
    features_name, max_display
        As in :func:`plot_feature_impact`.
    cmap
        Colormap of the feature values.
    clip_percentile
        Feature values are clipped to their `[p, 100 - p]` percentiles before colouring.
    alpha
        Opacity of the dots.
    plot_size
        Figure size `(width, height)` in inches (default from the number of features).

    Returns
    -------
    The matplotlib figure.
    """
    impacts = _tabular(explanations, "explanations", rank=2)
    names = feature_names(features_name, impacts.shape[1])
    order = _shown(np.argsort(-np.abs(impacts).mean(axis=0), kind="stable"), max_display)[::-1]
    if plot_size is None:
        plot_size = (7.0, 0.5 * len(order) + 1.5)
    figure, axes = plt.subplots(figsize=plot_size)
    colours = None
    if features_values is not None:
        values = _tabular(features_values, "features_values", rank=2)
        if values.shape != impacts.shape:
            raise ValueError(f"`features_values` must have the explanations' shape "
                             f"{impacts.shape}. Received: {values.shape}")
        low, high = np.percentile(values, [clip_percentile, 100 - clip_percentile], axis=0)
        span = np.where(high > low, high - low, 1.0)
        colours = (np.clip(values, low, high) - low) / span
    jitter = np.random.default_rng(0).uniform(-0.25, 0.25, impacts.shape[0])
    scatter = None
    for row, feature in enumerate(order):
        colouring = {} if colours is None else dict(c=colours[:, feature], cmap=cmap,
                                                    vmin=0.0, vmax=1.0)
        scatter = axes.scatter(impacts[:, feature], row + jitter, s=12, alpha=alpha,
                               **colouring)
    axes.set_yticks(np.arange(len(order)), [names[i] for i in order])
    axes.axvline(0.0, color="#999999", linewidth=0.8)
    axes.set_xlabel("feature impact")
    if colours is not None and scatter is not None:
        bar = figure.colorbar(scatter, ax=axes, ticks=[0.0, 1.0])
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("feature value")
    figure.tight_layout()
    return figure
