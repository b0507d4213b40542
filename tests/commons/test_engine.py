"""The shared engine: batching, online statistics, counter-based noise, data, surgery, packaging."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import make_inputs, make_model
from xplique.commons import (
    Compiled,
    Tasks,
    batched,
    batching,
    chunk_ranges,
    find_layer,
    truncate_at,
)
from xplique.commons.batching import pairs_in, reduce_over_samples
from xplique.commons.data import iter_groups, prepare_targets
from xplique.commons.random import pair_normal, pair_uniform
from xplique.commons.statistics import Mean, MeanOfSquares, Sum, Variance


def test_chunk_ranges_cover_everything_once():
    assert list(chunk_ranges(7, 3)) == [(0, 3), (3, 6), (6, 7)]
    assert list(chunk_ranges(6, 3)) == [(0, 3), (3, 6)]
    assert list(chunk_ranges(0, 3)) == []


def test_batched_concatenates_in_order():
    x = tf.range(10.0)[:, None]
    out = batched(lambda t: t * 2.0, [x], 3)
    np.testing.assert_array_equal(out.numpy(), 2 * x.numpy())


@pytest.mark.parametrize("statistic, oracle", [
    (Sum(), lambda v: v.sum(1)),
    (Mean(), lambda v: v.mean(1)),
    (MeanOfSquares(), lambda v: (v**2).mean(1)),
    (Variance(), lambda v: v.var(1, ddof=1)),
])
@pytest.mark.parametrize("batch_size", [1, 3, 4, 7, 100])
@pytest.mark.parametrize("pending_chunks, pending_elements", [(1, 2**22), (2, 2**22), (32, 2**22),
                                                              (32, 9)])
def test_reduce_over_samples_matches_numpy(statistic, oracle, batch_size, pending_chunks,
                                           pending_elements, monkeypatch):
    """Per-pair values v[i, k] reduced online over chunks that split and pack inputs give the
    same statistic as numpy over the full (N, nb_samples) table."""
    monkeypatch.setattr(batching, "PENDING_CHUNKS", pending_chunks)
    monkeypatch.setattr(batching, "PENDING_ELEMENTS", pending_elements)
    n, nb_samples = 5, 4
    table = np.random.default_rng(0).normal(size=(n, nb_samples, 2)).astype("float32") * 10 + 3

    def kernel(inputs, start, stop, offset):
        pairs = pairs_in(start, stop, nb_samples)
        values = tf.gather_nd(tf.constant(table), tf.stack([pairs.owner, pairs.sample], -1))
        return statistic.partial(values, pairs.segment, pairs.num_segments)

    inputs = tf.zeros((n, 1))
    result = reduce_over_samples(kernel, [inputs], nb_samples, batch_size, statistic)
    np.testing.assert_allclose(result.numpy(), oracle(table), rtol=1e-5, atol=1e-5)


def test_counter_based_noise_does_not_depend_on_chunking():
    seed = tf.constant(5, tf.int64)
    for sampler in (pair_normal, pair_uniform):
        whole = sampler(seed, 0, 10, (3, 5)).numpy()
        parts = np.concatenate([sampler(seed, s, e - s, (3, 5)).numpy()
                                for s, e in chunk_ranges(10, 3)])
        np.testing.assert_array_equal(whole, parts)
        assert whole.shape == (10, 3, 5)
        assert len(np.unique(whole)) == whole.size
    assert not np.allclose(pair_normal(seed, 0, 2, (4,)), pair_normal(seed + 1, 0, 2, (4,)))
    assert not np.allclose(pair_normal(seed, 0, 2, (4,)), pair_normal(seed, 0, 2, (4,), stream=1))
    normal = pair_normal(seed, 0, 2000, (50,)).numpy()
    assert abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02
    uniform = pair_uniform(seed, 0, 2000, (50,)).numpy()
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 0.01


def test_compiled_traces_once_per_signature():
    kernel = Compiled(lambda a, b: a * b)
    for n in (3, 7, 64):
        kernel(tf.ones((n, 2)), tf.ones((n, 2)))
    assert kernel.tracing_count == 1
    kernel(tf.ones((2, 5)), tf.ones((2, 5)))
    assert kernel.tracing_count == 2


def test_tasks_enum_is_real():
    tasks = list(Tasks)
    assert Tasks.CLASSIFICATION in tasks and Tasks.REGRESSION in tasks
    assert Tasks.from_string("Classification") is Tasks.CLASSIFICATION
    model = lambda x: x  # noqa: E731
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    y = tf.constant([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(Tasks.CLASSIFICATION(model, x, y).numpy(), [2.0, 3.0])
    with pytest.raises(ValueError, match="operator"):
        Tasks.from_string("unknown task")


def test_prepare_targets():
    onehot = prepare_targets(tf.constant([2, 0]), lambda: 3).numpy()
    np.testing.assert_array_equal(onehot, [[0, 0, 1], [1, 0, 0]])
    dense = prepare_targets(tf.constant([[0.5, 0.5]]), lambda: 2)
    assert dense.dtype == tf.float32
    with pytest.raises(ValueError, match="targets"):
        prepare_targets(tf.constant([0.5, 1.0]), lambda: 3)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        prepare_targets(tf.constant([3]), lambda: 3)


def test_datasets_are_streamed_not_materialised():
    """A dataset is consumed batch by batch: iter_groups yields one group per batch."""
    x = make_inputs("tabular", 10)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(10)))
    groups = list(iter_groups(dataset, None, batch_size=4))
    assert [int(g[0].shape[0]) for g in groups] == [4, 4, 2]
    groups = list(iter_groups(dataset.batch(3), None, batch_size=4, model=make_model("tabular")))
    assert [int(g[0].shape[0]) for g in groups] == [3, 3, 3, 1]
    with pytest.raises(TypeError, match="targets"):
        list(iter_groups(dataset, np.zeros(10), batch_size=4))


def test_find_layer_and_truncate():
    model = make_model("images", softmax=True)
    assert find_layer(model, "logits") is model.get_layer("logits")
    assert find_layer(model, -1) is model.layers[-1]
    with pytest.raises(ValueError, match="out of range"):
        find_layer(model, 99)
    with pytest.raises(ValueError, match="Layers:"):
        find_layer(model, "missing")
    with pytest.raises(TypeError, match="name"):
        find_layer(model, 1.5)
    truncated = truncate_at(model, "conv")
    x = make_inputs("images", 2)
    assert tuple(truncated(x).shape) == (2, 8, 10, 4)
    with pytest.raises(TypeError, match="layers"):
        find_layer(lambda t: t, 0)


def test_only_plots_import_matplotlib():
    """matplotlib is imported only by xplique.plots and xplique.demo (lazily), never by the
    modules `import xplique` loads. (Keras 3 itself may import it; that is not ours to avoid.)"""
    import ast
    import pathlib

    import xplique

    root = pathlib.Path(xplique.__file__).parent
    allowed = {"plots", "demo"}
    offenders = []
    for path in root.rglob("*.py"):
        if path.relative_to(root).parts[0] in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "matplotlib" for name in names):
                offenders.append(str(path.relative_to(root)))
    assert not offenders


def test_import_without_tensorflow_names_the_extras():
    code = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "try:\n    import xplique\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "xplique[tf]" in out.stdout and "xplique[tf-cpu]" in out.stdout


def test_keras_model_of_unknown_output_size_still_takes_class_indices():
    """Integer targets work when the output size is only known by running the model."""
    from xplique.attributions import Saliency

    layer = keras.layers.Dense(3)
    model = lambda inputs: layer(inputs)  # noqa: E731
    x = make_inputs("tabular", 4)
    explanations = Saliency(model)(x, np.array([0, 1, 2, 0]))
    kernel = layer.get_weights()[0]
    np.testing.assert_allclose(explanations.numpy(), np.abs(kernel[:, [0, 1, 2, 0]].T), atol=1e-6)


def test_fused_functions_give_the_same_results_with_and_without_xla(monkeypatch):
    """`fused` compiles with XLA where it runs and falls back to the plain function; LIME and
    KernelSHAP (whose perturbed inputs are fused) must not depend on which was used."""
    from tests.conftest import make_targets
    from xplique.attributions import KernelShap, Lime
    from xplique.commons import compiled

    x, y = make_inputs("images", 3), make_targets(3)
    model = make_model("images")
    runs = {}
    for enabled in (True, False):
        monkeypatch.setattr(compiled, "_XLA_ENABLED", None if enabled else False)
        assert compiled.xla_available() is enabled  # XLA runs on the CPU of the test machines
        runs[enabled] = [method(model, nb_samples=20, seed=0, batch_size=7)(x, y).numpy()
                         for method in (Lime, KernelShap)]
    for with_xla, without in zip(runs[True], runs[False]):
        np.testing.assert_allclose(with_xla, without, rtol=1e-5, atol=1e-6)


def test_xla_can_be_switched_off_by_environment(monkeypatch):
    from xplique.commons import compiled

    monkeypatch.setattr(compiled, "_XLA_ENABLED", None)
    monkeypatch.setenv("XPLIQUE_XLA", "0")
    assert compiled.xla_available() is False


# --- batch_size=None, static-batch models, finite inputs (issue 10) ----------------------------

def test_batch_size_none_is_one_pass_bounded_by_the_cap(monkeypatch):
    """None is one pass over everything up to MAX_BATCH_SIZE evaluations, then passes of that
    size: the same chunks as the cap given as an int, through every loop of the engine."""
    assert list(chunk_ranges(7, None)) == [(0, 7)]
    monkeypatch.setattr(batching, "MAX_BATCH_SIZE", 3)
    assert list(chunk_ranges(7, None)) == list(chunk_ranges(7, 3))
    x = tf.range(10.0)[:, None]
    sizes = []
    out = batched(lambda t: sizes.append(int(t.shape[0])) or t * 2.0, [x], None)
    np.testing.assert_array_equal(out.numpy(), 2 * x.numpy())
    assert sizes == [3, 3, 3, 1]
    # reduce_over_samples: 5 inputs x 4 samples in passes of at most 3 pairs.
    table = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    pair_counts = []

    def kernel(inputs, start, stop, offset):
        pairs = pairs_in(start, stop, 4)
        pair_counts.append(int(stop - start))
        values = tf.gather_nd(tf.constant(table), tf.stack([pairs.owner, pairs.sample], -1))
        return Sum().partial(values, pairs.segment, pairs.num_segments)

    total = reduce_over_samples(kernel, [tf.zeros((5, 1))], 4, None, Sum())
    np.testing.assert_allclose(total.numpy(), table.sum(1), rtol=1e-6)
    assert max(pair_counts) == 3 and sum(pair_counts) == 20


def test_unbatched_dataset_with_batch_size_none_is_grouped_by_the_cap(monkeypatch):
    monkeypatch.setattr(batching, "MAX_BATCH_SIZE", 4)
    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((10, 3), "float32"))
    assert [int(x.shape[0]) for x, _ in iter_groups(dataset, None, None)] == [4, 4, 2]


def test_inputs_per_block_reads_none_as_the_cap():
    from xplique.commons.perturbation import inputs_per_block

    assert inputs_per_block(6, None) == inputs_per_block(6, batching.MAX_BATCH_SIZE)


class StaticBatchModel(tf.Module):
    """A model that reshapes with the static batch size (cannot trace with an unknown one)."""

    def __init__(self):
        super().__init__()
        self.weights = tf.constant(np.arange(12.0).reshape(6, 2).astype("float32") / 10)

    def __call__(self, x):
        return tf.reshape(x, [x.shape[0], -1]) @ self.weights


def test_static_batch_models_trace_per_chunk_shape_without_retracing():
    """The relaxed trace fails, so the kernel traces for the full chunk and the last chunk
    only; repeating a call, or another N with the same chunk shapes, never retraces."""
    from xplique.attributions import GradientInput, Saliency

    model = StaticBatchModel()
    x = make_inputs("time_series", 7)[:, :3, :2]  # (7, 3, 2) -> 6 features
    targets = np.eye(2, dtype="float32")[np.arange(7) % 2]
    explainer = GradientInput(model, batch_size=4)
    expected = (targets @ model.weights.numpy().T).reshape(7, 3, 2) * x  # w_target * x
    np.testing.assert_allclose(explainer(x, targets).numpy(), expected, rtol=1e-5)
    traces = explainer.tracing_count
    assert traces == 2  # chunks of 4 and of 3
    explainer(x, targets)
    explainer(x[:3], targets[:3])  # one chunk of 3: already traced
    assert explainer.tracing_count == traces
    saliency = Saliency(model, batch_size=None)
    np.testing.assert_allclose(saliency(x, targets).numpy(),
                               np.abs(expected / x), rtol=1e-5)


def test_compiled_reraises_errors_that_exact_shapes_do_not_fix():
    def broken(x):
        raise ValueError("broken kernel")

    with pytest.raises(ValueError, match="broken kernel"):
        Compiled(broken)(tf.ones((2, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_refused_with_a_clear_error(bad):
    x = np.ones((3, 4), "float32")
    x[1, 2] = bad
    with pytest.raises(ValueError, match="`inputs` must hold finite values"):
        list(iter_groups(x, None, 2))
    dataset = tf.data.Dataset.from_tensor_slices(x)
    with pytest.raises(ValueError, match="finite"):
        list(iter_groups(dataset, None, 2))


def test_static_batch_models_also_serve_the_perturbation_kernels():
    """Kernels that draw masks inside a pass call the model on an unknown number of pairs: a
    static-batch tf.Module (or function) is then vectorised over them. Occlusion of a linear
    model is w_target * x, exactly, with one trace per kernel however often it is called."""
    from xplique.attributions import Occlusion

    model = StaticBatchModel()
    function = lambda x: tf.reshape(x, [x.shape[0], -1]) @ model.weights  # noqa: E731
    x = make_inputs("time_series", 5)[:, :3, :2]
    targets = np.eye(2, dtype="float32")[np.arange(5) % 2]
    expected = (targets @ model.weights.numpy().T).reshape(5, 3, 2) * x
    for static in (model, function):
        explainer = Occlusion(static, patch_size=1, patch_stride=1, batch_size=4)
        np.testing.assert_allclose(explainer(x, targets).numpy(), expected, atol=1e-6)
        traces = explainer.tracing_count
        explainer(x[:2], targets[:2])
        assert explainer.tracing_count == traces
