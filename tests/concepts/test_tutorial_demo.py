"""The concepts tutorial runs, and the demo panel draws CRAFT concepts of one digit class."""

import time
import types

import numpy as np

from tests.helpers import run_tutorial


def test_concepts_tutorial_runs():
    namespace = run_tutorial("concepts.ipynb")
    assert namespace["result"].significant  # loops do matter for an 8
    assert namespace["result"].score > namespace["result"].random_scores.mean()
    tcav, eights, cav = namespace["tcav"], namespace["eights"], namespace["cav"]
    assert tcav(eights, 8, cav) + tcav(eights, 8, -cav) == 1.0  # no zero derivative
    craft = namespace["craft"]
    importances = craft.sensitivity.importances
    assert importances.shape == (5,) and np.all(importances >= -1e-6)
    assert craft.sensitivity.most_important_concepts[0] == int(np.argmax(importances))
    # every crop of a class-3 digit is a resized 4x4 patch: 2x2 patches per 8x8 digit
    assert len(craft.factorization.crops) == 4 * len(namespace["threes"])


def test_concepts_demo_panel():
    from xplique.demo import build_model, load_data
    from xplique.demo.concepts import TITLE, panel

    x_train, x_test, y_train, y_test = load_data()
    model = build_model()  # untrained: the panel must still work
    context = types.SimpleNamespace(
        model=model, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        inputs=x_test[:4], labels=y_test[:4], predicted=y_test[:4], seed=0,
    )
    weights = [w.copy() for w in model.get_weights()]
    start = time.perf_counter()
    result = panel(context)
    assert time.perf_counter() - start < 20
    assert isinstance(TITLE, str) and TITLE
    figure, summary = result["figure"], result["summary"]
    assert figure.axes
    importances = summary["importances"]
    assert len(importances) == summary["number_of_concepts"]
    assert summary["most_important_concepts"][0] == int(np.argmax(importances))
    import json

    json.dumps(summary)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
