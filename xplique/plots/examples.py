"""Example-based explanations: each input followed by its examples, one row per input."""


import matplotlib.pyplot as plt
import numpy as np

from xplique.commons.validation import ensure_float
from xplique.plots.common import displayable_image, to_numpy


def _label(value) -> str:
    value = np.asarray(value)
    if value.ndim and value.size > 1:  # one-hot or scores
        value = value.argmax()
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:.2g}"


def plot_examples(examples, distances=None, labels=None, test_labels=None,
                  predicted_labels=None, img_size: float = 2.0):
    """Plot the output of an example-based method: one row per explained input, the input
    first, then its `k` examples.

    Parameters
    ----------
    examples
        `(n, k + 1, ...)`: the inputs followed by their examples (an `explain` output with
        `case_returns` including "include_inputs"); images `(H, W)`, `(H, W, 1)` or
        `(H, W, 3)` per example.
    distances
        `(n, k)` distances of the examples to their input, shown in the titles.
    labels
        `(n, k)` labels of the examples (indices or one-hot rows).
    test_labels
        `(n,)` true labels of the inputs.
    predicted_labels
        `(n,)` predicted labels of the inputs.
    img_size
        Size in inches of each image.

    Returns
    -------
    The matplotlib figure.
    """
    img_size = ensure_float(img_size, "img_size", minimum=0.1)
    values = to_numpy(examples, "examples")
    if values.ndim < 3:
        raise ValueError("`examples` must have shape (n, k + 1, ...) with the inputs first. "
                         f"Received: examples.shape={values.shape}")
    rows, cols = values.shape[:2]
    arrays = {name: None if value is None else to_numpy(value, name)
              for name, value in (("distances", distances), ("labels", labels),
                                  ("test_labels", test_labels),
                                  ("predicted_labels", predicted_labels))}
    for name in ("distances", "labels"):
        if arrays[name] is not None and arrays[name].shape[:2] != (rows, cols - 1):
            raise ValueError(f"`{name}` must have shape ({rows}, {cols - 1}) for these examples."
                             f" Received: {name}.shape={arrays[name].shape}")
    figure, axes = plt.subplots(rows, cols, figsize=(img_size * cols, img_size * rows * 1.15),
                                squeeze=False)
    for row in range(rows):
        for col in range(cols):
            axis = axes[row, col]
            image = values[row, col]
            if not np.isnan(image).all():
                axis.imshow(displayable_image(np.nan_to_num(image)), cmap="gray")
            axis.set_xticks([])
            axis.set_yticks([])
            title = []
            if col == 0:
                title.append("input")
                if arrays["test_labels"] is not None:
                    title.append(f"label {_label(arrays['test_labels'][row])}")
                if arrays["predicted_labels"] is not None:
                    title.append(f"pred {_label(arrays['predicted_labels'][row])}")
            else:
                if arrays["labels"] is not None:
                    title.append(f"label {_label(arrays['labels'][row, col - 1])}")
                if arrays["distances"] is not None:
                    title.append(f"d={arrays['distances'][row, col - 1]:.3g}")
            axis.set_title("\n".join(title), fontsize=8)
    figure.tight_layout()
    return figure
