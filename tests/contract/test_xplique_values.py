"""Values Xplique accepts, and Xplique code that must run unchanged (issue 10): seeds from
TensorFlow's global generator, pair grids, Xplique's attribute values, user estimators written
the Xplique way, plain TensorFlow callables run in-graph, custom operators that transform the
inputs, target formats checked against the model, and parameters outside what the input
allows."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.attributions.test_hsic import KERNELS, _slow_hsic
from tests.commons.test_detection import TinyDetector, _detection_data
from tests.conftest import (
    NEEDS_KERAS_LAYERS,
    StaticBatchModule,
    make_inputs,
    make_model,
    make_targets,
    one_hot,
)
from tests.contract.registry import CASES, as_params
from xplique import Tasks
from xplique.attributions import (
    HsicAttributionMethod,
    KernelShap,
    Occlusion,
    Rise,
    Saliency,
    SobolAttributionMethod,
)
from xplique.attributions.global_sensitivity_analysis import (
    BinaryEstimator,
    JansenEstimator,
    TFSobolSequence,
)
from xplique.commons.model_adapters import CallableModel, black_box_model

SEEDED = [case for case in CASES if case.seeded]


def _home(case):
    return "tabular" if "tabular" in case.modalities else case.modalities[0]


# --- seed=None: TensorFlow's global generator ----------------------------------------------------

#: Inputs of the tests that run every method: 5 in passes of 3, so that the sampling methods'
#: pairs also end in a shorter pass.
N, BATCH = 5, 3


@pytest.fixture(scope="module")
def keras_explainer():
    """`keras_explainer(case) -> (explainer, x, y)`: each method once per module, on its
    contract Keras model, `seed=None`, passes of `BATCH`, shared by the tests that only call
    it (an explainer is not changed by its calls)."""
    built = {}

    def get(case):
        name = case.cls.__name__
        if name not in built:
            home = _home(case)
            model = (case.model or make_model)(home)
            built[name] = (case.cls(model, batch_size=BATCH, **case.params), model,
                           make_inputs(home, N), make_targets(N))
        return built[name]

    return get


@pytest.mark.parametrize("case", as_params(SEEDED))
def test_tf_random_set_seed_makes_unseeded_runs_reproducible(case, keras_explainer):
    explainer, _, x, y = keras_explainer(case)  # seed=None: drawn at each call

    def run():
        return explainer(x, y).numpy()

    tf.random.set_seed(0)
    first, other = run(), run()
    tf.random.set_seed(0)
    np.testing.assert_array_equal(run(), first)
    assert not np.allclose(first, other), "unseeded runs should draw different samples"


# --- Rise, Occlusion, KernelShap values ----------------------------------------------------------

class _RegionModel(tf.Module):
    """Score = mean of rows 2..4 and columns 3..5 of an image (all channels)."""

    def __call__(self, x):
        return tf.reduce_mean(x[:, 2:5, 3:6, :], axis=(1, 2, 3))[:, None]


def test_rise_takes_a_pair_grid_size():
    x = np.ones((2, 8, 10, 3), "float32")
    y = one_hot([0, 0], 1)
    square = Rise(_RegionModel(), nb_samples=64, grid_size=4, seed=0)(x, y)
    pair = Rise(_RegionModel(), nb_samples=64, grid_size=(4, 4), seed=0)(x, y)
    np.testing.assert_array_equal(square.numpy(), pair.numpy())
    maps = Rise(_RegionModel(), nb_samples=400, grid_size=(2, 5), seed=0)(x, y).numpy()[..., 0]
    inside = np.zeros((8, 10), bool)
    inside[2:5, 3:6] = True
    assert np.all(maps[:, inside].mean(1) > maps[:, ~inside].mean(1) + 0.05)
    with pytest.raises(ValueError, match="grid_size"):
        Rise(_RegionModel(), grid_size=(2, 3, 4))


def test_occlusion_stores_an_int_patch_as_a_pair_and_still_covers_tabular_rows():
    explainer = Occlusion(make_model("tabular"), patch_size=1, patch_stride=1)
    assert explainer.patch_size == (1, 1) and explainer.patch_stride == (1, 1)
    assert Occlusion(make_model("images"), patch_size=(2, 3)).patch_size == (2, 3)
    weights = np.arange(1.0, 7.0, dtype="float32")
    linear = lambda batch: tf.reduce_sum(batch * weights, axis=1, keepdims=True)  # noqa: E731
    x = make_inputs("tabular", 3)
    drops = Occlusion(linear, patch_size=1, patch_stride=1)(x, one_hot([0, 0, 0], 1))
    # occluding x_i drops w_i x_i
    np.testing.assert_allclose(drops.numpy(), x * weights, rtol=1e-5, atol=1e-5)


def test_kernel_shap_with_two_samples_shares_the_score_equally():
    """Only the empty and the full coalitions: efficiency alone, the minimum-norm split."""
    weights = np.arange(1.0, 7.0, dtype="float32")
    linear = lambda batch: tf.reduce_sum(batch * weights, axis=1, keepdims=True)  # noqa: E731
    x = make_inputs("tabular", 3)
    phi = KernelShap(linear, nb_samples=2, seed=0)(x, one_hot([0, 0, 0], 1)).numpy()
    expected = np.repeat((x @ weights)[:, None] / 6.0, 6, axis=1)  # (g(x) - g(0)) / F
    np.testing.assert_allclose(phi, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="nb_samples"):
        KernelShap(linear, nb_samples=1)


@pytest.mark.parametrize("build, name", [
    (lambda m: Occlusion(m, patch_size=9), "patch_size"),
    (lambda m: Occlusion(m, patch_size=(2, 11)), "patch_size"),
    (lambda m: Rise(m, grid_size=9, nb_samples=4), "grid_size"),
    (lambda m: Rise(m, grid_size=(3, 11), nb_samples=4), "grid_size"),
    (lambda m: SobolAttributionMethod(m, grid_size=9, nb_design=4), "grid_size"),
    (lambda m: HsicAttributionMethod(m, grid_size=11, nb_design=4), "grid_size"),
])
def test_patches_and_grids_larger_than_the_input_are_refused(build, name):
    model = make_model("images")  # inputs (8, 10, 3)
    with pytest.raises(ValueError, match=name):
        build(model)(make_inputs("images", 2), make_targets(2))


def test_rise_grids_longer_than_a_time_series_are_refused():
    with pytest.raises(ValueError, match="grid_size"):
        Rise(make_model("time_series"), grid_size=9, nb_samples=4)(
            make_inputs("time_series", 2), make_targets(2))


# --- Sobol and HSIC: masks and Xplique-style estimators -------------------------------------------

def _xplique_jansen(masks, outputs, nb_design):
    """Jansen's total index written as an Xplique user would: numpy, one input at a time."""
    outputs = np.asarray(outputs, np.float64)
    dimension = int(np.prod(masks.shape[1:]))
    f_a, f_b = outputs[:nb_design], outputs[nb_design:2 * nb_design]
    f_c = outputs[2 * nb_design:].reshape(dimension, nb_design)
    variance = np.var(np.concatenate([f_a, f_b]))
    return ((f_a[None] - f_c) ** 2).mean(1) / (2 * variance)


def test_sobol_masks_and_an_xplique_style_estimator():
    model, x, y = make_model("images"), make_inputs("images", 3), make_targets(3)
    builtin = SobolAttributionMethod(model, grid_size=2, nb_design=8, estimator=JansenEstimator())
    assert builtin.masks.shape == (8 * (4 + 2), 2, 2, 1)
    user = SobolAttributionMethod(model, grid_size=2, nb_design=8, estimator=_xplique_jansen)
    np.testing.assert_allclose(user(x, y).numpy(), builtin(x, y).numpy(), rtol=1e-4, atol=1e-6)
    wrong = SobolAttributionMethod(model, grid_size=2, nb_design=8,
                                   estimator=lambda masks, outputs, nb: np.zeros(3))
    with pytest.raises(ValueError, match=r"`estimator` must return one value per mask cell, 4"):
        wrong(x, y)


def test_hsic_masks_and_an_xplique_style_estimator():
    model, x, y = make_model("images"), make_inputs("images", 2), make_targets(2)
    params = dict(grid_size=2, nb_design=16, sampler=TFSobolSequence(binary=True))
    builtin = HsicAttributionMethod(model, estimator=BinaryEstimator(), **params)
    assert builtin.masks.shape == (16, 2, 2, 1)

    def xplique_hsic(masks, outputs, nb_design):
        design = np.asarray(masks, np.float64).reshape(nb_design, -1)
        return _slow_hsic(KERNELS[BinaryEstimator], design, np.asarray(outputs, np.float64))

    user = HsicAttributionMethod(model, estimator=xplique_hsic, **params)
    np.testing.assert_allclose(user(x, y).numpy(), builtin(x, y).numpy(), rtol=1e-4, atol=1e-6)
    wrong = HsicAttributionMethod(model, estimator=lambda m, o, n: np.zeros((2, 4)), **params)
    with pytest.raises(ValueError, match="estimator"):
        wrong(x, y)


# --- plain TensorFlow callables run in-graph ------------------------------------------------------

def test_a_detector_written_as_a_function_of_tensors_runs_in_graph():
    """The operator gets the raw (N, nb_boxes, 7) outputs: the host path, which only takes
    scores (N, n_outputs), would refuse them."""
    detector = TinyDetector()
    function = lambda images: detector(images)  # noqa: E731  a plain Python callable
    inputs, targets = _detection_data()
    adapted = black_box_model(function)
    assert isinstance(adapted, CallableModel) and adapted.traces(tf.constant(inputs))
    method = lambda m: Occlusion(m, patch_size=4, patch_stride=4,  # noqa: E731
                                 operator=Tasks.OBJECT_DETECTION)
    from_function = method(function)(inputs, targets).numpy()
    from_module = method(detector)(inputs, targets).numpy()
    np.testing.assert_allclose(from_function, from_module, rtol=1e-6)
    assert np.abs(from_function).max() > 0


def test_untraceable_callables_still_run_on_the_host():
    weights = np.arange(1.0, 7.0, dtype="float32")
    numpy_model = lambda batch: np.asarray(batch) @ weights[:, None]  # noqa: E731
    x = make_inputs("tabular", 3)
    drops = Occlusion(numpy_model, patch_size=1, patch_stride=1)(x, one_hot([0, 0, 0], 1))
    np.testing.assert_allclose(drops.numpy(), x * weights, rtol=1e-5, atol=1e-5)


# --- custom operators may transform the inputs ---------------------------------------------------

def test_a_custom_operator_may_reshape_the_inputs_before_the_model():
    """The model takes (N, 6); the operator feeds it [x, x] from (N, 3) inputs. The gradient
    of the linear model's class-k score is w_k[:3] + w_k[3:]."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    kernel = model.layers[0].kernel.numpy()

    def doubled(model, inputs, targets):
        return tf.reduce_sum(model(tf.concat([inputs, inputs], axis=1)) * targets, axis=-1)

    x, y = make_inputs("tabular", 4)[:, :3], make_targets(4)
    gradients = Saliency(model, operator=doubled, reducer=None)(x, y).numpy()
    expected = np.abs((kernel[:3] + kernel[3:]).T[y])
    np.testing.assert_allclose(gradients, expected, rtol=1e-5)
    drops = Occlusion(model, patch_size=1, patch_stride=1, operator=doubled)(x, y)
    assert drops.shape == (4, 3)
    with pytest.raises(ValueError, match="inputs"):  # the built-in operator still checks
        Saliency(model)(x, y)


# --- every operator's target format is checked against the model -----------------------------

def _segmenter():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 10, 3))
    return keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))


@pytest.mark.parametrize("task", list(Tasks), ids=lambda task: task.name)
def test_targets_that_do_not_fit_the_operator_are_refused_before_any_graph_runs(task):
    if "DETECTION" in task.name:
        model, (x, good) = TinyDetector(), _detection_data()
        bad = [good[:, :, :6], good[:, 0, :5]]  # box rows of 4 + 1 + 1 and 4 + 1 values
    elif task is Tasks.SEMANTIC_SEGMENTATION:
        model, x = _segmenter(), make_inputs("images", 2)
        good = np.ones((2, 8, 10, 2), "float32")
        bad = [good[..., :1], good[:, :4]]
    else:
        model, x = make_model("tabular"), make_inputs("tabular", 2)
        good = one_hot(make_targets(2))
        bad = [one_hot(make_targets(2), 5), good[:, :2]]
    explainer = Saliency(model, operator=task)
    explainer(x, good)
    traces = explainer.tracing_count
    for targets in bad:
        with pytest.raises(ValueError, match=r"`targets` must .*Received"):
            explainer(x, targets)
    assert explainer.tracing_count == traces  # refused before any kernel ran or traced


# --- models that read the static batch size -------------------------------------------------------

#: Methods with one kernel, whose model inputs have the pass's batch size: slices of the
#: inputs, or the samples drawn inside a pass.
ONE_KERNEL = {"Saliency", "GradientInput", "IntegratedGradients", "SmoothGrad", "SquareGrad",
              "VarGrad"}


@pytest.mark.parametrize("case", as_params(CASES))
def test_static_batch_modules_serve_every_method_tracing_per_chunk_shape(case, keras_explainer):
    """Same explanations as the Keras model behind it (the same draws after
    `tf.random.set_seed`), and no retrace once the full and the last chunk shapes are traced:
    5 inputs in passes of 3 (the sampling methods' pairs too), then again, then 3 inputs (full
    passes only). Methods that need the Keras layer graph refuse a tf.Module with a clear
    error instead."""
    reference, model, x, y = keras_explainer(case)
    if case.cls.__name__ in NEEDS_KERAS_LAYERS:
        with pytest.raises((TypeError, ValueError), match="Keras model"):
            case.cls(StaticBatchModule(model), batch_size=BATCH, **case.params)(x, y)
        return
    explainer = case.cls(StaticBatchModule(model), batch_size=BATCH, **case.params)
    tf.random.set_seed(0)
    expected = reference(x, y).numpy()
    tf.random.set_seed(0)
    np.testing.assert_allclose(explainer(x, y).numpy(), expected, rtol=1e-4, atol=1e-5)
    traces = explainer.tracing_count
    assert traces > 0
    if case.cls.__name__ in ONE_KERNEL:  # one trace for the full pass, one for the last
        assert traces == 2
    explainer(x, y)
    explainer(x[:3], y[:3])
    assert explainer.tracing_count == traces
