"""The plots of CRAFT and Holistic CRAFT, called by their plotting and display methods
(``xplique.concepts`` itself never imports matplotlib)."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LinearSegmentedColormap

from xplique.concepts.craft.base import DisplayImportancesOrder


def _sensitivity(craft):
    if craft.sensitivity is None:
        raise ValueError(
            "Concept importances are not estimated: call estimate_importance() first"
        )
    return craft.sensitivity


def _top(order, count):
    order = np.asarray(order)
    return order if count is None else order[:count]


def _colour(craft, concept):
    return craft.sensitivity.cmaps[concept]


def _normalised(image):
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[-1] not in (1, 3):  # not displayable: channel mean
        image = image.mean(axis=-1, keepdims=True)
    low, high = image.min(), image.max()
    image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image[..., 0] if image.shape[-1] == 1 else image


def _show(ax, image):
    image = _normalised(image)
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    ax.axis("off")


def concepts_importances(craft, importances, display_importance_order,
                         nb_most_important_concepts, verbose):
    """Bar plot of concept importances, most important first."""
    if importances is None:
        importances = _sensitivity(craft).importances
    importances = np.asarray(importances)
    order = _top(np.argsort(importances)[::-1], nb_most_important_concepts)
    if verbose:
        for concept in order:
            print(f"Concept {concept} has an importance value of {importances[concept]:.2f}")
    colours = [_colour(craft, c) if craft.sensitivity is not None else "C0" for c in order]
    plt.bar(range(len(order)), importances[order], color=colours)
    plt.xticks(range(len(order)), [str(c) for c in order])
    plt.xlabel("concept")
    plt.ylabel("Sobol total index")
    plt.title(f"Concept importances ({display_importance_order})")
    return plt.gcf()


def concepts_crops(craft, nb_crops, nb_most_important_concepts, verbose):
    """A row of the best crops per concept, most important concepts first."""
    factorization = craft._fitted()  # pylint: disable=protected-access
    order = _top(_sensitivity(craft).most_important_concepts, nb_most_important_concepts)
    crops = craft._images_channels_last(factorization.crops)  # pylint: disable=W0212
    figure, axes = plt.subplots(len(order), nb_crops, squeeze=False,
                                figsize=(nb_crops * 1.2, len(order) * 1.3))
    for row, concept in enumerate(order):
        best = np.argsort(factorization.crops_u[:, concept])[::-1][:nb_crops]
        if verbose:
            print(f"Concept {concept}: crops {best.tolist()}")
        for column in range(nb_crops):
            axis = axes[row, column]
            axis.axis("off")
            if column < len(best):
                _show(axis, crops[best[column]])
        axes[row, 0].set_title(f"concept {concept}", fontsize=9, loc="left")
    return figure


def concept_attribution_legend(craft, nb_most_important_concepts, border_width):
    """The best crop of each important concept, framed in the concept's colour."""
    factorization = craft._fitted()  # pylint: disable=protected-access
    order = _top(_sensitivity(craft).most_important_concepts, nb_most_important_concepts)
    crops = craft._images_channels_last(factorization.crops)  # pylint: disable=W0212
    figure, axes = plt.subplots(1, len(order), squeeze=False, figsize=(1.5 * len(order), 1.8))
    for axis, concept in zip(axes[0], order):
        best = int(np.argmax(factorization.crops_u[:, concept]))
        _show(axis, crops[best])
        axis.axis("on")
        axis.set_xticks([])
        axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_edgecolor(_colour(craft, concept))
            spine.set_linewidth(border_width)
        axis.set_title(f"concept {concept}", fontsize=9)
    return figure


def _concept_maps(craft, image, concepts, clip_percentile):
    """The coefficient maps of `concepts` on `image`, upsampled to the image size, each in
    [0, 1]: `(len(concepts), H, W)`."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    coeffs = craft.transform(np.asarray(image)[None])[0]
    if coeffs.ndim == 1:  # vector latents: constant maps
        coeffs = coeffs[None, None, :]
    height, width = craft._images_channels_last(np.asarray(image)[None]).shape[1:3]  # noqa
    concepts = list(concepts)
    heatmaps = tf.image.resize(coeffs[..., concepts], (height, width),
                               method="bicubic").numpy()
    maps = []
    for index in range(len(concepts)):
        heatmap = heatmaps[..., index]
        if clip_percentile:
            heatmap = np.clip(heatmap, np.percentile(heatmap, clip_percentile),
                              np.percentile(heatmap, 100 - clip_percentile))
        low, high = heatmap.min(), heatmap.max()
        maps.append((heatmap - low) / (high - low) if high > low else np.zeros_like(heatmap))
    return np.stack(maps) if maps else np.zeros((0, height, width))


def concept_attribution_map(craft, image, most_important_concepts,
                            nb_most_important_concepts, filter_percentile, clip_percentile,
                            alpha, **plot_kwargs):
    """On the current axes: the image, then each concept's map where it exceeds its
    `filter_percentile`, in the concept's colour."""
    _sensitivity(craft)
    axis = plt.gca()
    _show(axis, craft._images_channels_last(np.asarray(image)[None])[0])  # noqa: W0212
    concepts = list(most_important_concepts)[:nb_most_important_concepts][::-1]
    for concept, heatmap in zip(concepts, _concept_maps(craft, image, concepts,
                                                        clip_percentile)):
        heatmap = np.where(heatmap >= np.percentile(heatmap, filter_percentile), heatmap, 0.0)
        cmap = LinearSegmentedColormap.from_list(
            f"concept{concept}", [(1, 1, 1, 0), tuple(_colour(craft, concept)) + (1,)])
        axis.imshow(heatmap, cmap=cmap, alpha=alpha, **plot_kwargs)
    return axis


def concept_attribution_maps(craft, images, importances, nb_most_important_concepts,
                             filter_percentile, clip_percentile, alpha, **plot_kwargs):
    """A grid of images with their concept maps (concepts ordered by `importances`)."""
    importances = _sensitivity(craft).importances if importances is None else importances
    order = np.argsort(np.asarray(importances))[::-1]
    columns = min(5, len(images))
    rows = -(-len(images) // columns)
    figure = plt.figure(figsize=(2.2 * columns, 2.2 * rows))
    for index, image in enumerate(images):
        plt.subplot(rows, columns, index + 1)
        concept_attribution_map(craft, image, order, nb_most_important_concepts,
                                filter_percentile, clip_percentile, alpha, **plot_kwargs)
    return figure


def image_concepts(craft, img, display_importance_order, nb_most_important_concepts,
                   filter_percentile, clip_percentile, alpha, filepath, **plot_kwargs):
    """The image with its concept maps, then for each concept its importance and best
    crops."""
    sensitivity = _sensitivity(craft)
    if not isinstance(display_importance_order, DisplayImportancesOrder):
        raise TypeError(
            "`display_importance_order` must be a DisplayImportancesOrder. Received: "
            f"{display_importance_order!r}"
        )
    if display_importance_order is DisplayImportancesOrder.LOCAL:
        importances = craft.estimate_importance(np.asarray(img)[None], seed=0)
    else:
        importances = sensitivity.importances
    order = np.argsort(importances)[::-1][:nb_most_important_concepts]
    factorization = craft._fitted()  # pylint: disable=protected-access
    crops = craft._images_channels_last(factorization.crops)  # pylint: disable=W0212
    nb_crops = 4
    figure = plt.figure(figsize=(3 + 1.2 * nb_crops, max(3.0, 1.3 * len(order))))
    grid = figure.add_gridspec(len(order), 2 + nb_crops)
    plt.subplot(grid[:, :2])
    concept_attribution_map(craft, img, order, nb_most_important_concepts, filter_percentile,
                            clip_percentile, alpha, **plot_kwargs)
    plt.title(f"class {factorization.class_id} ({display_importance_order} order)", fontsize=9)
    for row, concept in enumerate(order):
        best = np.argsort(factorization.crops_u[:, concept])[::-1][:nb_crops]
        for column, crop in enumerate(best):
            axis = figure.add_subplot(grid[row, 2 + column])
            _show(axis, crops[crop])
            if column == 0:
                axis.set_title(f"concept {concept}: {importances[concept]:.2f}", fontsize=8,
                               loc="left", color=_colour(craft, concept))
    if filepath is not None:
        figure.savefig(filepath)
    return figure


# -- Holistic CRAFT -----------------------------------------------------------------------------


def _overlay(heatmap, height, width, filter_percentile, clip_percentile):
    """A concept map as an overlay for an image of `(height, width)`: magnitudes, clipped
    between the `clip_percentile` and `100 - clip_percentile` percentiles, upsampled
    (bilinear), scaled to [0, 1] and zero below the `filter_percentile`."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    heatmap = np.abs(np.asarray(heatmap, np.float32))
    if heatmap.ndim == 3:
        heatmap = heatmap[..., 0]
    if heatmap.ndim == 1:  # token maps: a square grid when they form one
        side = int(round(np.sqrt(heatmap.size)))
        heatmap = heatmap.reshape(side, side) if side * side == heatmap.size else heatmap[None]
    if clip_percentile:
        heatmap = np.clip(heatmap, np.percentile(heatmap, clip_percentile),
                          np.percentile(heatmap, 100 - clip_percentile))
    if heatmap.shape != (height, width):
        heatmap = tf.image.resize(heatmap[..., None], (height, width),
                                  method="bilinear").numpy()[..., 0]
    low, high = heatmap.min(), heatmap.max()
    heatmap = (heatmap - low) / (high - low) if high > low else np.zeros_like(heatmap)
    return np.where(heatmap >= np.percentile(heatmap, filter_percentile), heatmap, 0.0)


def holistic_concept_heatmap(craft, image, concept_heatmap, concept_idx, ax,
                             filter_percentile=80, clip_percentile=5):
    """Draw `image` (channels last) on `ax` with the map of concept `concept_idx` over it, in
    the concept's colour."""
    image = np.asarray(image, np.float32)
    _show(ax, image)
    overlay = _overlay(concept_heatmap, image.shape[0], image.shape[1], filter_percentile,
                       clip_percentile)
    colour = tuple(craft.cmaps[int(concept_idx) % len(craft.cmaps)])
    cmap = LinearSegmentedColormap.from_list(f"concept{concept_idx}",
                                             [(1, 1, 1, 0), colour + (1,)])
    ax.imshow(overlay, cmap=cmap, alpha=0.65)
    return ax


def _maps_and_order(craft, images, coeffs_u, order, concept_maps):
    """Channels-last images, the maps to overlay `(N, ..., R)` and the concepts shown."""
    pictures = craft._display_images(images)  # pylint: disable=protected-access
    coeffs = craft.transform(images) if coeffs_u is None else np.asarray(coeffs_u)
    maps = coeffs if concept_maps is None else np.asarray(concept_maps, np.float32)
    if len(maps) != len(pictures):
        raise ValueError(
            f"The concept maps must hold one map per image ({len(pictures)}). Received "
            f"{len(maps)}"
        )
    finite = [k for k in range(maps.shape[-1]) if np.all(np.isfinite(maps[..., k]))]
    if concept_maps is not None:
        for k in range(maps.shape[-1]):
            channel = maps[..., k]
            if k not in finite and not np.all(np.isnan(channel)):
                raise ValueError(
                    f"`concept_maps` channel {k} must be entirely finite or entirely NaN"
                )
    order = finite if order is None else [int(k) for k in order]
    return pictures, coeffs, maps, order


def holistic_images_per_concept(craft, images, coeffs_u, filter_percentile, clip_percentile,
                                order, concept_maps):
    """One row per image, one column per concept in `order`."""
    pictures, _, maps, order = _maps_and_order(craft, images, coeffs_u, order, concept_maps)
    figure, axes = plt.subplots(len(pictures), len(order), squeeze=False,
                                figsize=(1.8 * len(order), 1.8 * len(pictures)))
    for row, picture in enumerate(pictures):
        for column, concept in enumerate(order):
            holistic_concept_heatmap(craft, picture, maps[row, ..., concept], concept,
                                     axes[row, column], filter_percentile, clip_percentile)
            if row == 0:
                axes[row, column].set_title(f"concept {concept}", fontsize=9)
    return figure


def holistic_top_images_per_concept(craft, images, topk, filter_percentile, clip_percentile,
                                    order, coeffs_u, concept_maps):
    """One column per concept in `order`: its `topk` images (by mean coefficient), with the
    concept map over them."""
    pictures, coeffs, maps, order = _maps_and_order(craft, images, coeffs_u, order,
                                                    concept_maps)
    top = craft.get_topk_images_per_concept(coeffs, topk)
    figure, axes = plt.subplots(top.shape[1], len(order), squeeze=False,
                                figsize=(1.8 * len(order), 1.8 * top.shape[1]))
    for column, concept in enumerate(order):
        for row, index in enumerate(top[concept]):
            holistic_concept_heatmap(craft, pictures[index], maps[index, ..., concept],
                                     concept, axes[row, column], filter_percentile,
                                     clip_percentile)
        axes[0, column].set_title(f"concept {concept}", fontsize=9)
    return figure
