"""Demo panel: what each digit class of the demo CNN responds to.

One image per class, optimised to maximise that class's logit with the Fourier
parameterisation (Olah et al., 2017), all ten classes in one batch, with light transformation
robustness (jitter, scale) suited to 8x8 digits. The images are `SHAPE` pixels (resized to
the model's 8x8 input at every step); the run takes about 1.5 s on two cores.
"""

import time

TITLE = "Feature visualization (Fourier, one image per class)"

#: Size of the optimised images and number of steps (demo-friendly settings).
SHAPE, STEPS = (24, 24), 96


def class_visualizations(model, seed: int = 0):
    """`(images (10, H, W, 1), names, seconds)`: one image per logit of `model`."""
    from xplique.features_visualizations import (
        Objective,
        optimize,
        random_jitter,
        random_scale,
    )

    start = time.perf_counter()
    nb_classes = int(model.get_layer("logits").output.shape[-1])
    objective = Objective.neuron(model, "logits", list(range(nb_classes)),
                                 names=[f"class {label}" for label in range(nb_classes)])
    transformations = [random_jitter(2), random_scale((0.9, 1.05)), random_jitter(1)]
    images, names = optimize(objective, nb_steps=STEPS, custom_shape=SHAPE,
                             transformations=transformations, seed=seed)
    return images[-1].numpy(), names, time.perf_counter() - start


def panel(context) -> dict:
    """The figure (one image per class, titled with the model's probability for that class on
    it) and a summary (settings, seconds, those probabilities)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images, names, seconds = class_visualizations(context.model, context.seed)
    probabilities = context.model(tf.image.resize(images, (8, 8)), training=False).numpy()
    own = [float(probabilities[label, label]) for label in range(len(images))]

    figure = Figure(figsize=(1.3 * len(images), 2.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(images), squeeze=False)[0]
    for label, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{names[label]}\np={own[label]:.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(TITLE, fontsize=10)
    figure.tight_layout()
    summary = {
        "method": "optimize (Fourier parameterisation)",
        "objective": "Objective.neuron(model, 'logits', range(10))",
        "custom_shape": list(SHAPE),
        "nb_steps": STEPS,
        "seconds": round(seconds, 3),
        "probability_of_own_class": [round(p, 3) for p in own],
    }
    return {"figure": figure, "summary": summary}
