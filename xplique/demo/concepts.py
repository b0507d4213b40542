"""Demo panel: CRAFT concepts of one digit class, with their importances and best crops."""

import numpy as np

TITLE = "CRAFT concepts of one digit class"

#: Settings that keep the panel within a few seconds on two CPU cores.
NUMBER_OF_CONCEPTS = 5
PATCH_SIZE = 4
NB_DESIGN = 16
MAX_IMAGES = 120
NB_CROPS = 5
SHOWN_CONCEPTS = 3


def _parts(model):
    """`g`: the digit to the last ReLU maps ("conv3"); `h`: those maps to the logits."""
    import keras  # pylint: disable=import-outside-toplevel

    g = keras.Model(model.inputs, model.get_layer("conv3").output)
    latent = keras.Input(tuple(g.output.shape[1:]))
    h = keras.Model(latent, model.get_layer("logits")(model.get_layer("pool")(latent)))
    return g, h


def panel(context) -> dict:
    """CRAFT on the training digits of the class predicted for the first explained digit."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=C0415
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel

    from xplique.concepts import CraftTf  # pylint: disable=import-outside-toplevel

    class_id = int(np.asarray(context.predicted)[0])
    images = np.asarray(context.x_train)[np.asarray(context.y_train) == class_id][:MAX_IMAGES]
    g, h = _parts(context.model)
    craft = CraftTf(g, h, number_of_concepts=NUMBER_OF_CONCEPTS, batch_size=256,
                    patch_size=PATCH_SIZE)
    crops, crops_u, _ = craft.fit(images, class_id=class_id)
    importances = craft.estimate_importance(nb_design=NB_DESIGN, seed=context.seed)
    order = craft.sensitivity.most_important_concepts

    figure = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(SHOWN_CONCEPTS, 2 + NB_CROPS, wspace=0.3, hspace=0.5)
    bars = figure.add_subplot(grid[:, :2])
    bars.bar(range(len(order)), importances[order], color="tab:blue")
    bars.set_xticks(range(len(order)), [str(c) for c in order])
    bars.set_xlabel("concept", fontsize=9)
    bars.set_ylabel("Sobol total index", fontsize=9)
    bars.set_title(f"Concept importances, class {class_id}", fontsize=10)
    bars.tick_params(labelsize=8)
    for row, concept in enumerate(order[:SHOWN_CONCEPTS]):
        best = np.argsort(crops_u[:, concept])[::-1][:NB_CROPS]
        for column, crop in enumerate(best):
            axis = figure.add_subplot(grid[row, 2 + column])
            axis.imshow(crops[crop][..., 0], cmap="gray", vmin=0.0, vmax=1.0)
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_title(f"concept {concept}: {importances[concept]:.2f}", fontsize=8,
                               loc="left")
    figure.suptitle(f"CRAFT on {len(images)} training digits '{class_id}' "
                    f"({len(crops)} crops of {PATCH_SIZE}x{PATCH_SIZE})", fontsize=10)
    summary = {
        "class_id": class_id,
        "nb_images": int(len(images)),
        "nb_crops": int(len(crops)),
        "number_of_concepts": NUMBER_OF_CONCEPTS,
        "importances": [round(float(v), 4) for v in importances],
        "most_important_concepts": [int(c) for c in order],
    }
    return {"figure": figure, "summary": summary}
