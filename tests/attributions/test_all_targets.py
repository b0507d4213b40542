"""Every target in one pass: `targets="all"` and `top_k=K` equal K single-target calls, pick the
right classes, run one forward pass per chunk, and refuse what they cannot do."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import CountingModel
from xplique.attributions import (
    DeconvNet,
    GradCAM,
    GradCAMPP,
    GradientInput,
    GuidedBackprop,
    IntegratedGradients,
    LayerCAM,
    Occlusion,
    Rise,
    Saliency,
    ScoreCAM,
    SmoothGrad,
    SquareGrad,
    VarGrad,
)
from xplique.commons import all_targets

NB_OUTPUTS = 5
SHAPES = {"tabular": (6,), "images": (6, 7, 3)}

GRADIENTS = [
    pytest.param(Saliency, {}, id="saliency"),
    pytest.param(GradientInput, {}, id="gradient_input"),
    pytest.param(IntegratedGradients, dict(steps=5), id="integrated_gradients"),
    pytest.param(SmoothGrad, dict(nb_samples=4, noise=0.3, seed=3), id="smoothgrad"),
    pytest.param(SquareGrad, dict(nb_samples=4, noise=0.3, seed=4), id="squaregrad"),
    pytest.param(VarGrad, dict(nb_samples=4, noise=0.3, seed=5), id="vargrad"),
    pytest.param(GuidedBackprop, {}, id="guided_backprop"),
    pytest.param(DeconvNet, {}, id="deconvnet"),
]
CAMS = [
    pytest.param(GradCAM, {}, id="gradcam"),
    pytest.param(GradCAMPP, {}, id="gradcampp"),
    pytest.param(LayerCAM, {}, id="layercam"),
]


def model_for(modality, seed=0, softmax=False):
    """A seeded ReLU model with NB_OUTPUTS outputs (a conv layer "conv" for images)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(SHAPES[modality])
    if modality == "images":
        hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
        hidden = keras.layers.Flatten()(hidden)
    else:
        hidden = keras.layers.Dense(8, activation="relu")(inputs)
    hidden = keras.layers.Dense(8, activation="relu")(hidden)
    outputs = keras.layers.Dense(NB_OUTPUTS, name="logits")(hidden)
    if softmax:
        outputs = keras.layers.Softmax(name="probs")(outputs)
    return keras.Model(inputs, outputs)


def inputs_for(modality, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n,) + SHAPES[modality]).astype("float32")


def single_target_maps(explainer, x, indices):
    """The slow oracle: one ordinary call per target column, stacked on axis 1."""
    return np.stack([explainer(x, np.asarray(indices)[:, k]).numpy()
                     for k in range(np.asarray(indices).shape[1])], axis=1)


def every_class(n):
    return np.tile(np.arange(NB_OUTPUTS), (n, 1))


@pytest.mark.parametrize("modality", sorted(SHAPES))
@pytest.mark.parametrize("method, params", GRADIENTS)
def test_gradient_methods_every_target_equals_single_target_calls(method, params, modality):
    x = inputs_for(modality, 5)
    # batch_size 3: ragged chunks (of inputs, or of the samples of the sampled methods).
    explainer = method(model_for(modality), batch_size=3, **params)
    maps = explainer(x, targets="all").numpy()
    assert maps.shape[:2] == (5, NB_OUTPUTS)
    np.testing.assert_allclose(maps, single_target_maps(explainer, x, every_class(5)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method, params", CAMS)
def test_cams_every_target_equals_single_target_calls(method, params):
    x = inputs_for("images", 5)
    explainer = method(model_for("images"), batch_size=2, **params)
    maps = explainer(x, targets="all").numpy()
    assert maps.shape == (5, NB_OUTPUTS) + SHAPES["images"][:2] + (1,)
    np.testing.assert_allclose(maps, single_target_maps(explainer, x, every_class(5)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method, params, batch_size", [
    pytest.param(SmoothGrad, dict(nb_samples=4, seed=3), 1, id="smoothgrad-1"),
    pytest.param(IntegratedGradients, dict(steps=5), None, id="integrated_gradients-None"),
    pytest.param(GradCAM, {}, 1, id="gradcam-1"),
    pytest.param(Saliency, {}, None, id="saliency-None"),
])
def test_batch_size_does_not_change_every_target_maps(method, params, batch_size):
    x = inputs_for("images", 5)
    model = model_for("images")
    reference = method(model, batch_size=2, **params)(x, targets="all").numpy()
    maps = method(model, batch_size=batch_size, **params)(x, targets="all").numpy()
    np.testing.assert_allclose(maps, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method, params", [GRADIENTS[0], GRADIENTS[4], CAMS[1]])
def test_top_k_explains_the_highest_outputs_in_decreasing_order(method, params):
    x = inputs_for("images", 6, seed=2)
    model = model_for("images", seed=1)
    explainer = method(model, batch_size=4, **params)
    top = tf.math.top_k(model(x), k=3).indices.numpy()
    assert len({tuple(row) for row in top}) > 1  # the inputs do not all share their classes
    maps = explainer.explain(x, top_k=3).numpy()
    np.testing.assert_allclose(maps, single_target_maps(explainer, x, top), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(explainer(x, top_k=1).numpy()[:, 0], explainer(x).numpy(),
                               rtol=1e-5, atol=1e-6)  # top_k=1 is the default target


@pytest.mark.parametrize("method, params", [GRADIENTS[0], GRADIENTS[3], CAMS[0]])
def test_top_k_ranks_the_outputs_of_output_layer(method, params):
    x = inputs_for("images", 4, seed=3)
    base = model_for("images", seed=2)
    negate = keras.layers.Dense(NB_OUTPUTS, use_bias=False, name="negated")
    model = keras.Model(base.inputs[0], negate(base.outputs[0]))  # reverses the ranking
    negate.set_weights([-np.eye(NB_OUTPUTS, dtype="float32")])
    explainer = method(model, output_layer="logits", batch_size=3, **params)
    top = tf.math.top_k(base(x), k=2).indices.numpy()  # the logits' top classes
    assert not np.array_equal(top, tf.math.top_k(model(x), k=2).indices.numpy())
    np.testing.assert_allclose(explainer(x, top_k=2).numpy(),
                               single_target_maps(explainer, x, top), rtol=1e-5, atol=1e-6)


def doubled_input_score(model, inputs, targets):
    """A custom operator (not a gather of the outputs): the score of twice the input."""
    return tf.reduce_sum(model(2.0 * inputs) * targets, axis=-1)


@pytest.mark.parametrize("method, params", [GRADIENTS[0], GRADIENTS[3], CAMS[2]])
def test_custom_operators_fall_back_to_one_call_per_target(method, params):
    x = inputs_for("images", 4, seed=4)
    model = model_for("images", seed=3)
    explainer = method(model, batch_size=3, operator=doubled_input_score, **params)
    expected = single_target_maps(explainer, x, every_class(4))
    np.testing.assert_allclose(explainer(x, targets="all").numpy(), expected,
                               rtol=1e-5, atol=1e-6)
    # The fallback is a different score from the built-in operator's.
    plain = method(model, batch_size=3, **params)(x, targets="all").numpy()
    assert not np.allclose(plain, expected, atol=1e-4)
    top = tf.math.top_k(model(x), k=2).indices.numpy()
    np.testing.assert_allclose(explainer(x, top_k=2).numpy(), expected[np.arange(4)[:, None], top],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method, params", [GRADIENTS[0], GRADIENTS[3], CAMS[0]])
def test_vectorised_and_unrolled_cotangents_agree(method, params, monkeypatch):
    x = inputs_for("images", 5, seed=5)
    model = model_for("images", seed=4)
    unrolled = method(model, batch_size=3, **params)(x, targets="all").numpy()
    monkeypatch.setattr(all_targets, "UNROLL_LIMIT", 0)  # read while tracing: a new explainer
    vectorised = method(model, batch_size=3, **params)(x, targets="all").numpy()
    np.testing.assert_allclose(vectorised, unrolled, rtol=1e-5, atol=1e-6)


def test_reducers_apply_to_each_map():
    x = inputs_for("images", 3, seed=6)
    model = model_for("images", seed=5)
    for reducer in ("min", None):
        explainer = GradientInput(model, reducer=reducer, batch_size=2)
        maps = explainer(x, targets="all").numpy()
        channels = 3 if reducer is None else 1
        assert maps.shape == (3, NB_OUTPUTS) + SHAPES["images"][:2] + (channels,)
        np.testing.assert_allclose(maps, single_target_maps(explainer, x, every_class(3)),
                                   rtol=1e-5, atol=1e-6)


def test_datasets_stream_every_target():
    x = inputs_for("tabular", 7, seed=7)
    explainer = SmoothGrad(model_for("tabular"), nb_samples=3, batch_size=4, seed=1)
    expected = explainer(x, targets="all").numpy()
    streamed = explainer(tf.data.Dataset.from_tensor_slices(x).batch(3), targets="all")
    np.testing.assert_allclose(streamed.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_one_forward_pass_per_chunk_and_no_retrace():
    counted = CountingModel(model_for("images"))
    explainer = Saliency(counted, batch_size=4)
    x = inputs_for("images", 10)
    explainer(x, targets="all")
    assert int(counted.calls.numpy()) == 3 and int(counted.max_batch.numpy()) == 4
    counted.calls.assign(0)
    explainer(x, top_k=2)  # the top classes come from the forward pass differentiated
    assert int(counted.calls.numpy()) == 3
    traces = explainer.tracing_count
    counted.calls.assign(0)
    explainer(x[:7], targets="all")
    explainer(x[:9], top_k=2)
    assert explainer.tracing_count == traces
    assert int(counted.calls.numpy()) == 2 + 3


def test_sampled_methods_run_one_forward_pass_per_chunk_of_samples():
    counted = CountingModel(model_for("tabular"))
    explainer = SmoothGrad(counted, nb_samples=3, batch_size=4, seed=0)
    x = inputs_for("tabular", 5)
    explainer(x, targets="all")
    assert int(counted.calls.numpy()) == 4 and int(counted.max_batch.numpy()) == 4  # 15 / 4
    counted.calls.assign(0)
    explainer(x, top_k=2)  # + the clean inputs' outputs, as for targets=None: ceil(5 / 4)
    assert int(counted.calls.numpy()) == 4 + 2
    traces = explainer.tracing_count
    explainer(x[:3], targets="all")
    explainer(x[:4], top_k=2)
    assert explainer.tracing_count == traces


def test_bad_requests_raise_clear_errors():
    x = inputs_for("images", 2)
    explainer = Saliency(model_for("images"))
    with pytest.raises(ValueError, match="targets.*'all'.*Received: targets='every'"):
        explainer(x, targets="every")
    with pytest.raises(ValueError, match="top_k.*>= 1"):
        explainer(x, top_k=0)
    with pytest.raises(TypeError, match="top_k"):
        explainer(x, top_k=1.5)
    with pytest.raises(TypeError, match="top_k"):
        explainer(x, top_k=True)
    with pytest.raises(ValueError, match=r"top_k.*<= the number of model outputs \(5\)"):
        explainer(x, top_k=6)
    with pytest.raises(ValueError, match="top_k.*targets"):
        explainer(x, np.array([0, 1]), top_k=2)
    with pytest.raises(ValueError, match="top_k.*targets"):
        explainer(x, "all", top_k=2)
    with pytest.raises(ValueError, match="inputs only"):
        explainer(tf.data.Dataset.from_tensor_slices((x, np.array([0, 1]))).batch(2),
                  targets="all")
    segmenting = Saliency(model_for("images"), operator="semantic segmentation")
    with pytest.raises(ValueError, match="one-hot targets.*semantic_segmentation"):
        segmenting(x, targets="all")


@pytest.mark.parametrize("method, params", [
    pytest.param(Occlusion, dict(patch_size=3, patch_stride=3), id="occlusion"),
    pytest.param(Rise, dict(nb_samples=8), id="rise"),
    pytest.param(ScoreCAM, {}, id="scorecam"),
])
def test_methods_out_of_scope_refuse(method, params):
    explainer = method(model_for("images"), **params)
    x = inputs_for("images", 2)
    with pytest.raises(ValueError, match="targets='all' is not supported by"):
        explainer(x, targets="all")
    with pytest.raises(ValueError, match="top_k=2 is not supported by"):
        explainer(x, top_k=2)


DISTRIBUTED_CHECK = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests.attributions.test_all_targets import inputs_for, model_for
from xplique.attributions import GradCAMPP, IntegratedGradients, Saliency, SmoothGrad
from xplique.commons.compiled import Compiled
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
model, x = model_for("images"), inputs_for("images", 5)
worst = 0.0
for method, params in ((Saliency, {}), (SmoothGrad, dict(nb_samples=3, seed=2)),
                       (IntegratedGradients, dict(steps=4)), (GradCAMPP, {})):
    one = method(model, batch_size=3, **params)
    two = method(model, batch_size=3, strategy=strategy, **params)
    for call in (dict(targets="all"), dict(top_k=2)):
        worst = max(worst, float(np.abs(one(x, **call).numpy() - two(x, **call).numpy()).max()))
    kernels = [k for k in vars(two).values() if isinstance(k, Compiled)]
    assert any(k._distributed for k in kernels)  # traced through strategy.run
    assert not any(k._functions for k in kernels)  # and never on one device
print("WORST", worst)
"""


@pytest.mark.slow
def test_every_target_kernels_distribute_across_replicas():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", DISTRIBUTED_CHECK], cwd=root, check=True,
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    worst = float(done.stdout.split("WORST")[-1])
    assert worst <= 1e-5


def test_forgrad_filters_each_of_the_k_maps_and_tta_refuses():
    """FORGrad of every target equals FORGrad of each single-target call; TTA says why not."""
    from xplique.attributions import TTA, FORGrad

    model = model_for("images")
    x = inputs_for("images", 3)
    wrapped = FORGrad(Saliency(model, batch_size=2), sigma=3)
    every = wrapped(x, "all").numpy()
    assert every.shape[:2] == (3, NB_OUTPUTS)
    for k in range(NB_OUTPUTS):
        np.testing.assert_allclose(every[:, k], wrapped(x, np.full(3, k)).numpy(), atol=1e-6)
    best = wrapped(x, top_k=2).numpy()
    top = tf.math.top_k(model(x), k=2).indices.numpy()
    for n in range(3):
        np.testing.assert_allclose(best[n], every[n, top[n]], atol=1e-6)
    with pytest.raises(ValueError, match="TTA does not take"):
        TTA(Saliency(model))(x, top_k=2)
    with pytest.raises(ValueError, match="TTA does not take"):
        TTA(Saliency(model))(x, "all")
