"""Demo panel: LRP relevance maps (EpsilonPlus, EpsilonGammaBox) and DeepLIFT of a few digits."""

import numpy as np

TITLE = "LRP and DeepLIFT relevance maps"

#: Digits shown (rows).
SHOWN = 4


def panel(context) -> dict:
    """Relevance of the predicted class of the first explained digits, red for, blue against,
    each map scaled symmetrically around zero, and how much of the logit each map conserves."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=C0415
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel

    from xplique.attributions import LRP, DeepLift  # pylint: disable=import-outside-toplevel
    from xplique.attributions.lrp import (  # pylint: disable=import-outside-toplevel
        EpsilonGammaBox,
        EpsilonPlus,
    )
    from xplique.plots.relevance import relevance_map  # pylint: disable=C0415

    inputs = np.asarray(context.inputs)[:SHOWN]
    targets = np.asarray(context.predicted)[:SHOWN]
    methods = {
        "LRP EpsilonPlus": LRP(context.model, EpsilonPlus(), output_layer="logits"),
        "LRP EpsilonGammaBox": LRP(context.model, EpsilonGammaBox(0.0, 1.0),
                                   output_layer="logits"),
        "DeepLIFT (baseline 0)": DeepLift(context.model, output_layer="logits"),
    }
    maps = {name: explainer(inputs, targets).numpy() for name, explainer in methods.items()}
    logits = methods["LRP EpsilonPlus"]._scored_model(inputs).numpy()  # pylint: disable=W0212
    scores = logits[np.arange(len(inputs)), targets]

    figure = Figure(figsize=(2.4 * len(maps) + 2.0, 2.0 * len(inputs)), dpi=100,
                    layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(inputs), len(maps) + 1, squeeze=False)
    for row, image in enumerate(inputs):
        axes[row, 0].imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
        axes[row, 0].set_title(f"digit, predicted {targets[row]}", fontsize=9)
        for column, (name, values) in enumerate(maps.items(), start=1):
            heatmap, limit = relevance_map(values[row])
            shown = axes[row, column].imshow(heatmap, cmap="seismic", vmin=-limit, vmax=limit)
            bar = figure.colorbar(shown, ax=axes[row, column], fraction=0.046, pad=0.03)
            bar.ax.tick_params(labelsize=8)  # the scale of each panel, symmetric around 0
            axes[row, column].set_title(f"{name}\nsum {heatmap.sum():.2f}", fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    summary = {
        "targets": targets.tolist(),
        "logits": np.round(scores, 4).tolist(),
        "relevance_sums": {name: np.round(values.reshape(len(inputs), -1).sum(1), 4).tolist()
                           for name, values in maps.items()},
    }
    return {"figure": figure, "summary": summary}
