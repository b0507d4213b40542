"""plot_examples draws the rows asked; the demo panel and the tutorial run."""

import time
import types

import numpy as np

from tests.helpers import run_tutorial
from xplique.example_based import SimilarExamples


def test_plot_examples_one_row_per_input():
    import matplotlib

    matplotlib.use("Agg")
    from xplique.plots import plot_examples

    rng = np.random.default_rng(0)
    cases = rng.uniform(size=(20, 6, 6, 1)).astype("float32")
    explainer = SimilarExamples(cases, np.arange(20) % 3, k=3, case_returns="all")
    found = explainer(cases[:2])
    figure = plot_examples(found["examples"], found["distances"], found["labels"],
                           test_labels=[0, 1], predicted_labels=[0, 2])
    axes = figure.get_axes()
    assert len(axes) == 2 * 4
    assert axes[0].get_title() == "input\nlabel 0\npred 0"
    assert axes[1].get_title().startswith("label 0\nd=0")  # each case is its own nearest
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_demo_panel():
    from xplique.demo import build_model, load_data
    from xplique.demo.example_based import NEIGHBOURS, panel

    x_train, x_test, y_train, y_test = load_data()
    model = build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
    predicted = model.predict(x_test[:4], verbose=0).argmax(-1)
    context = types.SimpleNamespace(model=model, x_train=x_train, y_train=y_train,
                                    x_test=x_test, y_test=y_test, inputs=x_test[:4],
                                    labels=y_test[:4], predicted=predicted, seed=0)
    start = time.perf_counter()
    result = panel(context)
    assert time.perf_counter() - start < 20
    assert len(result["figure"].get_axes()) == 4 * (NEIGHBOURS + 2)
    digits = result["summary"]["digits"]
    assert len(digits) == 4
    train_predicted = model.predict(x_train, verbose=0).argmax(-1)
    if result["summary"]["counterfactual_classes_from"] == "labels":
        train_predicted = y_train
    for digit in digits:
        assert train_predicted[digit["counterfactual"]] != digit["predicted"]
        assert digit["neighbour_labels"] == y_train[digit["neighbours"]].tolist()


def test_tutorial_runs():
    namespace = run_tutorial("example_based.ipynb")
    assert namespace["accuracy"] > 0.8
    assert set(namespace["prototype_classes"]) == set(range(10))
