"""The contract every attribution method keeps (DESIGN.md section 8, first layer)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import INPUT_SHAPES, NB_CLASSES, make_inputs, make_model, make_targets, one_hot
from tests.contract.registry import CASES, as_params

ATOL = 1e-5


def _build(case, model, **overrides):
    params = dict(case.params)
    if case.seeded:
        params.setdefault("seed", 7)
    params.update(overrides)
    return case.cls(model, **params)


def _model(case, modality):
    return (case.model or make_model)(modality)


def _home(case):
    """The modality of the tests that need just one: tabular where supported."""
    return "tabular" if "tabular" in case.modalities else case.modalities[0]


def _supported(case, modality):
    if modality not in case.modalities:
        pytest.skip(f"{case.cls.__name__} does not support {modality}")


def _expected_shape(case, modality, n, explanations):
    shape = INPUT_SHAPES[modality]
    if modality == "images":
        return (n,) + shape[:2] + (explanations.shape[-1],)
    return (n,) + shape


@pytest.mark.parametrize("case", as_params(CASES))
def test_output_shape_and_dtype(case, modality):
    _supported(case, modality)
    x, y = make_inputs(modality, 5), make_targets(5)
    explanations = _build(case, _model(case, modality))(x, y)
    assert isinstance(explanations, tf.Tensor)
    assert explanations.dtype == tf.float32
    assert tuple(explanations.shape) == _expected_shape(case, modality, 5, explanations)
    if modality == "images":
        assert explanations.shape[-1] in (1, INPUT_SHAPES["images"][-1])
    assert np.all(np.isfinite(explanations.numpy()))


@pytest.mark.parametrize("case", as_params(CASES))
def test_input_types_agree(case, modality):
    _supported(case, modality)
    x, y = make_inputs(modality, 6), make_targets(6)
    explainer = _build(case, _model(case, modality), batch_size=4)
    reference = explainer(x, one_hot(y)).numpy()
    dataset = tf.data.Dataset.from_tensor_slices((x, one_hot(y)))
    variants = {
        "tensor": explainer(tf.constant(x), tf.constant(one_hot(y))),
        "integer targets": explainer(x, y),
        "dataset": explainer(dataset),
        "batched dataset": explainer(dataset.batch(4)),
        "zipped datasets": explainer(
            tf.data.Dataset.from_tensor_slices(x), tf.data.Dataset.from_tensor_slices(y)
        ),
    }
    for name, explanations in variants.items():
        np.testing.assert_allclose(explanations.numpy(), reference, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("case", as_params(CASES))
def test_batch_size_invariance(case, modality):
    _supported(case, modality)
    x, y = make_inputs(modality, 5), make_targets(5)
    model = _model(case, modality)
    small = _build(case, model, batch_size=1)(x, y).numpy()
    large = _build(case, model, batch_size=64)(x, y).numpy()
    np.testing.assert_allclose(small, large, atol=ATOL, rtol=1e-4)


@pytest.mark.parametrize("case", as_params(CASES))
def test_same_seed_same_output(case):
    x, y = make_inputs(_home(case), 4), make_targets(4)
    model = _model(case, _home(case))
    first = _build(case, model)(x, y).numpy()
    second = _build(case, model)(x, y).numpy()
    np.testing.assert_array_equal(first, second)
    if case.seeded:
        other = _build(case, model, seed=8)(x, y).numpy()
        assert not np.allclose(first, other), "a different seed should draw different samples"


@pytest.mark.parametrize("case", as_params(CASES))
def test_model_and_inputs_unchanged(case):
    model = _model(case, "images")
    weights = [w.copy() for w in model.get_weights()]
    x, y = make_inputs("images", 3), make_targets(3)
    x_copy, y_copy = x.copy(), y.copy()
    _build(case, model)(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(y, y_copy)


@pytest.mark.parametrize("case", as_params(CASES))
def test_no_retracing_across_calls(case):
    model = _model(case, "images")
    explainer = _build(case, model, batch_size=5)
    explainer(make_inputs("images", 3), make_targets(3))
    traces = explainer.tracing_count
    assert traces >= 1
    for n in (7, 64):
        explainer(make_inputs("images", n, seed=n), make_targets(n, seed=n))
    assert explainer.tracing_count == traces


@pytest.mark.parametrize("case", as_params(CASES))
def test_targets_none_explains_top_output(case):
    x = make_inputs(_home(case), 4)
    model = _model(case, _home(case))
    predicted = np.argmax(model(x).numpy(), axis=-1)
    np.testing.assert_allclose(
        _build(case, model)(x).numpy(), _build(case, model)(x, predicted).numpy(), atol=ATOL
    )


@pytest.mark.parametrize("case", as_params(CASES))
def test_bad_inputs_name_the_parameter(case):
    home = _home(case)
    other = next(m for m in ("time_series", "tabular") if m != home)
    model = _model(case, home)
    x, y = make_inputs(home, 4), make_targets(4)
    explainer = _build(case, model)
    with pytest.raises(ValueError, match="targets"):
        explainer(x, y[:3])
    with pytest.raises(ValueError, match="targets"):
        explainer(x, np.array([0, 1, NB_CLASSES, 0]))
    with pytest.raises(TypeError, match="inputs"):
        explainer(np.array([["a"] * 6] * 4), y)
    with pytest.raises(ValueError, match="inputs` is empty"):
        explainer(x[:0], y[:0])
    with pytest.raises(ValueError, match="inputs"):
        explainer(make_inputs(other, 4), y)
    with pytest.raises(ValueError, match="inputs"):
        explainer(np.ones((4, 5), "float32"), y)
    with pytest.raises(ValueError, match="batch_size"):
        _build(case, model, batch_size=0)
    if case.operator:
        with pytest.raises(ValueError, match="operator"):
            _build(case, model, operator="not a task")
    if case.output_layer:
        with pytest.raises(ValueError, match="no_such_layer"):
            _build(case, model, output_layer="no_such_layer")
