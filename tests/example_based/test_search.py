"""The KNN engine equals a brute-force numpy search; datasets of every kind give the same."""

import numpy as np
import pytest
import tensorflow as tf

from xplique.example_based import SimilarExamples

RNG = np.random.default_rng(0)
CASES = RNG.normal(size=(37, 5)).astype("float32")
LABELS = RNG.integers(0, 4, 37)
INPUTS = RNG.normal(size=(6, 5)).astype("float32")


def _oracle_distances(inputs, cases, distance):
    a = inputs.astype(np.float64)[:, None, :]
    b = cases.astype(np.float64)[None, :, :]
    if distance in ("euclidean", 2):
        return np.sqrt(((a - b) ** 2).sum(-1))
    if distance in ("manhattan", 1):
        return np.abs(a - b).sum(-1)
    if distance in ("chebyshev", "inf"):
        return np.abs(a - b).max(-1)
    if distance == "cosine":
        return 1 - (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    if isinstance(distance, int):
        return (np.abs(a - b) ** distance).sum(-1) ** (1 / distance)
    raise AssertionError(distance)


def _oracle(inputs, cases, distance, k):
    distances = _oracle_distances(inputs, cases, distance)
    order = np.lexsort((np.broadcast_to(np.arange(len(cases)), distances.shape), distances),
                       axis=-1)[:, :k]
    return np.take_along_axis(distances, order, 1), order


def _user_distance(x1, x2):
    return tf.reduce_sum(tf.abs(x1 - x2) ** 3, axis=-1) ** (1 / 3)


@pytest.mark.parametrize("distance", ["euclidean", "manhattan", "cosine", "chebyshev", "inf",
                                      1, 2, 3, _user_distance],
                         ids=lambda d: getattr(d, "__name__", str(d)))
def test_equals_brute_force(distance):
    explainer = SimilarExamples(CASES, k=4, batch_size=8, distance=distance,
                                case_returns=["indices", "distances"])  # 37 = 4 x 8 + 5
    found = explainer(INPUTS)
    oracle_name = 3 if callable(distance) else distance
    expected_distances, expected_indices = _oracle(INPUTS, CASES, oracle_name, 4)
    np.testing.assert_allclose(found["distances"].numpy(), expected_distances, rtol=1e-4,
                               atol=2e-3)
    np.testing.assert_array_equal(found["indices"].numpy(), expected_indices)


def test_ties_go_to_the_lower_case_index_across_chunks():
    cases = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0]], "float32"), [1, 1], 0)
    cases = np.concatenate([cases, cases, cases, np.array([[1.0, 1.0]], "float32")])  # 7 rows
    explainer = SimilarExamples(cases, k=4, batch_size=3, case_returns=["indices"])
    indices = explainer(np.array([[0.0, 0.0], [5.0, 5.0]], "float32"))["indices"].numpy()
    np.testing.assert_array_equal(indices, [[0, 2, 4, 6], [1, 3, 5, 6]])


def test_batch_size_does_not_change_the_answer_and_traces_once():
    results = []
    for batch_size in (1, 5, 37, None):
        explainer = SimilarExamples(CASES, k=3, batch_size=batch_size,
                                    case_returns=["indices", "distances"])
        results.append(explainer(INPUTS)["indices"].numpy())
        explainer(INPUTS[:2])
        assert explainer.search_engine.tracing_count == 1
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


def _datasets():
    yield "numpy", (CASES, LABELS)
    yield "tensor", (tf.constant(CASES), tf.constant(LABELS))
    yield "dataset", (tf.data.Dataset.from_tensor_slices(CASES),
                      tf.data.Dataset.from_tensor_slices(LABELS))
    yield "batched_dataset", (tf.data.Dataset.from_tensor_slices(CASES).batch(7),
                              tf.data.Dataset.from_tensor_slices(LABELS).batch(7))
    yield "two_columns", (tf.data.Dataset.from_tensor_slices((CASES, LABELS)).batch(6), None)
    yield "dataset_and_array", (tf.data.Dataset.from_tensor_slices(CASES).batch(9), LABELS)


@pytest.mark.parametrize("name, data", list(_datasets()), ids=[n for n, _ in _datasets()])
def test_datasets_equal_arrays(name, data):
    cases, labels = data
    explainer = SimilarExamples(cases, labels, k=3, batch_size=8,
                                case_returns=["examples", "labels", "indices", "distances",
                                              "include_inputs"])
    found = explainer(INPUTS)
    _, expected = _oracle(INPUTS, CASES, "euclidean", 3)
    np.testing.assert_array_equal(found["indices"].numpy(), expected)
    np.testing.assert_array_equal(found["labels"].numpy(), LABELS[expected])
    np.testing.assert_allclose(found["examples"].numpy()[:, 1:], CASES[expected])
    np.testing.assert_allclose(found["examples"].numpy()[:, 0], INPUTS)


def test_torch_tensors_and_loaders():
    torch = pytest.importorskip("torch")
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(CASES), torch.tensor(LABELS)), batch_size=10)
    _, expected = _oracle(INPUTS, CASES, "euclidean", 2)
    for cases, labels in ((torch.tensor(CASES), torch.tensor(LABELS)), (loader, None)):
        explainer = SimilarExamples(cases, labels, k=2, case_returns=["indices", "labels"])
        found = explainer(INPUTS)
        np.testing.assert_array_equal(found["indices"].numpy(), expected)
        np.testing.assert_array_equal(found["labels"].numpy(), LABELS[expected])


def test_inputs_as_a_dataset():
    explainer = SimilarExamples(CASES, k=2, case_returns="indices")
    from_dataset = explainer(tf.data.Dataset.from_tensor_slices(INPUTS).batch(4))["indices"]
    np.testing.assert_array_equal(from_dataset.numpy(), _oracle(INPUTS, CASES, "euclidean", 2)[1])


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="k"):
        SimilarExamples(CASES, k=38)
    with pytest.raises(ValueError, match="distance"):
        SimilarExamples(CASES, distance="hamming")
    with pytest.raises(ValueError, match="same number of rows"):
        SimilarExamples(CASES, LABELS[:-1])
    with pytest.raises(ValueError, match="labels"):
        SimilarExamples(CASES, case_returns="labels")
    with pytest.raises(ValueError, match="case_returns"):
        SimilarExamples(CASES, case_returns="neighbours")
    with pytest.raises(ValueError, match="labels_dataset"):
        SimilarExamples(tf.data.Dataset.from_tensor_slices(CASES).batch(8),
                        tf.data.Dataset.from_tensor_slices(LABELS[:30]).batch(8))


def test_projections_streamed_again_when_too_large_to_keep(monkeypatch):
    from xplique.example_based import base

    calls = []

    def projection(x, y=None):
        calls.append(int(x.shape[0]))
        return x * 2.0

    kept = SimilarExamples(CASES, k=3, batch_size=8, projection=projection,
                           case_returns=["indices", "distances"])
    assert calls == []  # building costs no projection: the cases are projected at first use
    kept(INPUTS)
    assert sum(calls) == len(INPUTS) + len(CASES)  # first search: cases once, then inputs
    kept_calls = len(calls)
    kept(INPUTS)
    assert len(calls) == kept_calls + 1  # later searches project only the inputs
    monkeypatch.setattr(base, "CACHE_LIMIT", 10)
    streamed = SimilarExamples(tf.data.Dataset.from_tensor_slices(CASES), k=3, batch_size=8,
                               projection=projection, case_returns=["indices", "distances"])
    found = streamed(INPUTS)
    calls.clear()
    found = streamed(INPUTS)
    assert sum(calls) == len(INPUTS) + len(CASES)  # cases projected again, chunk by chunk
    np.testing.assert_array_equal(found["indices"].numpy(), kept(INPUTS)["indices"].numpy())
    np.testing.assert_allclose(found["distances"].numpy(),
                               2 * _oracle(INPUTS, CASES, "euclidean", 3)[0], rtol=1e-4, atol=2e-3)
