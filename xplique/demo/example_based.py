"""Demo panel: each explained digit with its nearest training digits and a counterfactual.

The search runs in the CNN's pooled latent space ("pool"): the three training digits nearest
to each explained digit (SimilarExamples), then the nearest training digit the model
classifies differently (NaiveCounterFactuals).
"""

import time

import numpy as np

TITLE = "Example-based: nearest training digits and a counterfactual"

#: Training digits shown per explained digit.
NEIGHBOURS = 3
#: Explained digits shown at most.
MAX_DIGITS = 6


def panel(context) -> dict:
    """Figure and summary of the example-based panel (see the module docstring)."""
    import tensorflow as tf
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from xplique.commons.batching import batched
    from xplique.commons.gradients import outputs_of
    from xplique.example_based import NaiveCounterFactuals, SimilarExamples
    from xplique.example_based.projections import LatentSpaceProjection

    start = time.perf_counter()
    inputs = np.asarray(context.inputs, "float32")[:MAX_DIGITS]
    labels = np.asarray(context.labels)[:MAX_DIGITS]
    predicted = np.asarray(context.predicted)[:MAX_DIGITS]
    x_train, y_train = np.asarray(context.x_train, "float32"), np.asarray(context.y_train)
    projection = LatentSpaceProjection(context.model, "pool")
    train_predicted = np.asarray(batched(outputs_of(context.model), [tf.constant(x_train)], 512)
                                 ).argmax(-1)
    # An untrained model may predict one class everywhere: counterfactual classes then come
    # from the true labels.
    classes_source = "predictions" if len(np.unique(train_predicted)) > 1 else "labels"
    if classes_source == "labels":
        train_predicted = y_train
    similar = SimilarExamples(x_train, y_train, k=NEIGHBOURS, projection=projection,
                              case_returns=["examples", "labels", "distances", "indices"],
                              batch_size=512)(inputs)
    counter = NaiveCounterFactuals(x_train, train_predicted, y_train, k=1, projection=projection,
                                   case_returns=["examples", "labels", "distances", "indices"],
                                   batch_size=512)(inputs, predicted)

    rows, cols = len(inputs), NEIGHBOURS + 2
    # constrained layout keeps each two-line title clear of the row above
    figure = Figure(figsize=(1.6 * cols, 1.9 * rows + 0.4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False)
    for row in range(rows):
        cells = [(inputs[row], f"input {labels[row]}\npred {predicted[row]}")]
        for j in range(NEIGHBOURS):
            cells.append((similar["examples"][row, j].numpy(),
                          f"near #{j + 1}, label {int(similar['labels'][row, j])}\n"
                          f"d={float(similar['distances'][row, j]):.2f}"))
        other = int(train_predicted[int(counter["indices"][row, 0])])
        cells.append((counter["examples"][row, 0].numpy(), f"counterfactual, pred {other}\n"
                      f"d={float(counter['distances'][row, 0]):.2f}"))
        for col, (image, title) in enumerate(cells):
            axis = axes[row, col]
            axis.imshow(np.nan_to_num(image[..., 0]), cmap="gray", vmin=0, vmax=1)
            axis.set_title(title, fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
    figure.suptitle(TITLE + " (latent space: 'pool')", fontsize=10)
    summary = {
        "latent_layer": "pool",
        "counterfactual_classes_from": classes_source,
        "digits": [
            {
                "label": int(labels[row]),
                "predicted": int(predicted[row]),
                "neighbours": similar["indices"][row].numpy().tolist(),
                "neighbour_labels": similar["labels"][row].numpy().astype(int).tolist(),
                "counterfactual": int(counter["indices"][row, 0]),
                "counterfactual_predicted": int(
                    train_predicted[int(counter["indices"][row, 0])]),
            }
            for row in range(rows)
        ],
        "neighbours_with_the_same_label": float(np.mean(
            similar["labels"].numpy() == labels[:, None])),
        "seconds": round(time.perf_counter() - start, 3),
    }
    return {"figure": figure, "summary": summary}
