"""Plots of explanations and metric results. The only part of xplique importing matplotlib.

Image heatmaps (:func:`plot_attributions`, :func:`plot_attribution`, :func:`generate_heatmap`),
tabular feature impacts (:func:`plot_feature_impact`, :func:`plot_mean_feature_impact`,
:func:`summary_plot_tabular`), time-series heatmaps (:func:`plot_timeseries_attributions`)
and metric results (:func:`barplot`, :func:`fidelity_curves`). Image maps of shape (H, W),
(H, W, 1) and (H, W, C) are accepted (channels are averaged).
"""

from xplique.plots.examples import plot_examples
from xplique.plots.image import generate_heatmap, plot_attribution, plot_attributions
from xplique.plots.maco import plot_feature_visualizations, plot_maco
from xplique.plots.metrics import barplot, fidelity_curves
from xplique.plots.object_detection import plot_image_detections, plot_images_detections
from xplique.plots.relevance import plot_relevance
from xplique.plots.tabular import (
    plot_feature_impact,
    plot_mean_feature_impact,
    summary_plot_tabular,
)
from xplique.plots.timeseries import plot_timeseries_attributions

__all__ = [
    "plot_examples",
    "plot_attributions",
    "plot_attribution",
    "generate_heatmap",
    "plot_feature_impact",
    "plot_mean_feature_impact",
    "summary_plot_tabular",
    "plot_timeseries_attributions",
    "barplot",
    "fidelity_curves",
    "plot_relevance",
    "plot_image_detections",
    "plot_images_detections",
    "plot_maco",
    "plot_feature_visualizations",
]
