"""The LRP demo panel runs on the demo model and reports the relevance it conserves."""

import types

import numpy as np

from xplique.demo import build_model
from xplique.demo.lrp import TITLE, panel


def test_panel_on_untrained_demo_model():
    model = build_model()
    rng = np.random.default_rng(0)
    inputs = rng.uniform(0, 1, (5, 8, 8, 1)).astype("float32")
    predicted = np.argmax(model(inputs).numpy(), axis=1)
    context = types.SimpleNamespace(model=model, inputs=inputs, labels=predicted,
                                    predicted=predicted, seed=0)
    result = panel(context)
    assert TITLE and result["figure"].axes
    summary = result["summary"]
    assert summary["targets"] == predicted[:4].tolist()
    # DeepLIFT with a zero baseline: the maps sum to logit(x) - logit(0).
    logits = model.get_layer("logits")
    zero = np.asarray(logits(model.get_layer("pool")(model.get_layer("conv3")(
        model.get_layer("conv2")(model.get_layer("conv1")(np.zeros((1, 8, 8, 1))))))))[0]
    np.testing.assert_allclose(summary["relevance_sums"]["DeepLIFT (baseline 0)"],
                               np.asarray(summary["logits"]) - zero[predicted[:4]], atol=2e-3)
