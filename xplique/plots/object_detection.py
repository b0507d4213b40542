"""Images with their detected boxes, optionally over an explanation heatmap.

Xplique's `plot_image_detections` / `plot_images_detections` at the same path and with the same
parameters. Detections are the rows the detection operator reads, `(nb_boxes, 4 + 1 +
nb_classes)` = `[box, score, class scores...]` (all-zero rows are padding and are skipped), with
the box written as `box_type`; an object with `boxes()`, `scores()` and `probas()` methods
(Xplique's multi-box tensors) works too.
"""

from typing import Dict, List, Optional, Sequence

import matplotlib.patches as mpatches
import matplotlib.pyplot as plt
import numpy as np

from xplique.commons.boxes import BoxType, convert_boxes
from xplique.commons.validation import ensure_float
from xplique.plots.common import as_map, displayable_image, grid_shape, to_numpy

_PIXEL_XYXY = BoxType("xyxy", "pixel")
_FONT_SIZE = 9


def _detections(multibox_results, name: str = "multibox_results"):
    """`(boxes (B, 4), scores (B,), probas (B, C))` as numpy, padding rows removed."""
    if all(callable(getattr(multibox_results, attr, None))
           for attr in ("boxes", "scores", "probas")):
        boxes = to_numpy(multibox_results.boxes(), name)[..., :4].reshape(-1, 4)
        scores = to_numpy(multibox_results.scores(), name).reshape(-1)
        probas = to_numpy(multibox_results.probas(), name).reshape(len(boxes), -1)
        return boxes, scores, probas
    rows = to_numpy(multibox_results, name)
    if rows.ndim == 1:
        rows = rows[None]
    if rows.ndim != 2 or rows.shape[-1] < 4:
        raise ValueError(
            f"`{name}` must be detection rows (nb_boxes, 4 + 1 + nb_classes) or an object with "
            f"boxes(), scores() and probas(). Received: {name}.shape={rows.shape}"
        )
    rows = rows[np.any(rows != 0, axis=-1)]
    scores = rows[:, 4] if rows.shape[-1] > 4 else np.ones(len(rows))
    probas = rows[:, 5:] if rows.shape[-1] > 5 else np.ones((len(rows), 1))
    return rows[:, :4], scores, probas


def _draw_detections(ax, image, multibox_results, classes_labels: Sequence[str],
                     label_to_color: Dict[str, str], box_type, heatmap, cmap, alpha, title,
                     verbose: bool):
    picture = displayable_image(image)
    height, width = picture.shape[:2]
    ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None)
    if heatmap is not None:
        ax.imshow(as_map(heatmap, "heatmap"), cmap=cmap, alpha=ensure_float(alpha, "alpha"),
                  extent=(-0.5, width - 0.5, height - 0.5, -0.5))
    boxes, scores, probas = _detections(multibox_results)
    if len(boxes):
        boxes = convert_boxes(boxes.astype(np.float32), box_type, _PIXEL_XYXY,
                              (height, width)).numpy()
    found = []
    for (x1, y1, x2, y2), score, proba in zip(boxes, scores, probas):
        class_id = int(np.argmax(proba))
        label = classes_labels[class_id] if class_id < len(classes_labels) else str(class_id)
        color = label_to_color.get(label, "black")
        if verbose:
            print(f"{label} (class {class_id}, score {score:.2f}): box ({x1:.1f}, {y1:.1f}, "
                  f"{x2:.1f}, {y2:.1f}), colour {color}")
        ax.add_patch(mpatches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                        edgecolor=color, linewidth=2))
        ax.text(x1, y1, f"{score:.2f}", color="white", fontsize=_FONT_SIZE, va="bottom",
                bbox={"facecolor": color, "alpha": 0.8, "pad": 1, "edgecolor": "none"})
        if label not in found:
            found.append(label)
    if found:
        ax.legend(handles=[mpatches.Patch(color=label_to_color.get(label, "black"), label=label)
                           for label in found], fontsize=_FONT_SIZE, loc="upper right")
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.axis("off")
    if title is not None:
        ax.set_title(title, fontsize=_FONT_SIZE + 1)


def plot_image_detections(image, multibox_results, classes_labels: List[str],
                          label_to_color: Dict[str, str], box_type: BoxType = _PIXEL_XYXY,
                          heatmap=None, cmap: Optional[str] = "viridis",
                          alpha: Optional[float] = 0.5, title: Optional[str] = None, ax=None,
                          verbose: bool = False):
    """Draw one image with its boxes (and an optional heatmap under them).

    Parameters
    ----------
    image
        Image `(H, W)`, `(H, W, 1)` or `(H, W, 3)` (array, tensor or PIL image).
    multibox_results
        Detection rows `(nb_boxes, 4 + 1 + nb_classes)`: box (as `box_type`), score, class
        scores (the box is labelled with the argmax class); all-zero rows are skipped. Or an
        object with `boxes()`, `scores()` and `probas()`.
    classes_labels
        Name of each class index.
    label_to_color
        Colour of each class name (black for a name it lacks).
    box_type
        Layout of the boxes (:class:`~xplique.commons.boxes.BoxType`; default pixel xyxy);
        relative boxes are scaled to the image size.
    heatmap
        Optional explanation `(H', W')` or `(H', W', C)`, stretched over the image.
    cmap, alpha
        Colormap and opacity of the heatmap.
    title
        Title of the panel.
    ax
        Axes to draw on (default: a new figure).
    verbose
        Print each drawn box.

    Returns
    -------
    The matplotlib figure.
    """
    if ax is None:
        figure, ax = plt.subplots(figsize=(5, 5))
    else:
        figure = ax.figure
    _draw_detections(ax, image, multibox_results, classes_labels, label_to_color, box_type,
                     heatmap, cmap, alpha, title, verbose)
    return figure


def plot_images_detections(images, multibox_results_list, classes_labels: List[str],
                           label_to_color: Dict[str, str], box_type: BoxType = _PIXEL_XYXY,
                           heatmaps=None, cmap: Optional[str] = "viridis",
                           alpha: Optional[float] = 0.5, titles: Optional[List[str]] = None,
                           num_cols: int = 5, verbose: bool = False):
    """A grid of images with their boxes, as :func:`plot_image_detections` draws each one.

    Parameters
    ----------
    images
        Images (a batch `(N, H, W[, C])` or a list).
    multibox_results_list
        One set of detections per image.
    heatmaps
        Optional explanation per image.
    titles
        Optional title per image.
    num_cols
        Columns of the grid.

    Other parameters are those of :func:`plot_image_detections`. Returns the figure.
    """
    count = len(images)
    for name, values in (("multibox_results_list", multibox_results_list),
                         ("heatmaps", heatmaps), ("titles", titles)):
        if values is not None and len(values) != count:
            raise ValueError(f"`{name}` must hold one entry per image ({count}). Received "
                             f"{len(values)}")
    if count == 0:
        raise ValueError("`images` is empty: there is nothing to plot")
    rows, cols = grid_shape(count, num_cols)
    figure, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), squeeze=False)
    axes = axes.ravel()
    for index in range(count):
        _draw_detections(axes[index], images[index], multibox_results_list[index],
                         classes_labels, label_to_color, box_type,
                         None if heatmaps is None else heatmaps[index], cmap, alpha,
                         None if titles is None else titles[index], verbose)
    for ax in axes[count:]:
        ax.axis("off")
    figure.tight_layout()
    return figure


__all__ = ["plot_image_detections", "plot_images_detections"]
