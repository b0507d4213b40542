"""The abstract bases of the metrics, and the conversions they share.

A metric is configured in its constructor and called like Xplique's:

- :class:`ExplanationMetric` scores precomputed explanations: `Deletion(model, x, y)(phi)`;
- :class:`ExplainerMetric` runs an explainer itself: `AverageStability(model, x, y)(explainer)`;
- :class:`BaseComplexityMetric` needs no model: `Complexity()(phi)`.

The model is reached only through the operator (`operator(model, x, y) -> (N,)`), optionally
after a softmax or sigmoid (`activation`). Inputs are kept as one in-memory tensor, targets as
one-hot or dense float rows (integer class indices are converted once).
"""

import abc
from typing import Callable, Dict, Optional

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.data import (
    check_finite,
    check_inputs_for_model,
    check_targets,
    iter_groups,
    lazy_output_shape,
    prepare_targets,
    to_tensor,
    top_output_targets,
)
from xplique.commons.distribution import Distributed, Rows, ensure_strategy
from xplique.commons.gradients import outputs_of, predictions_of
from xplique.commons.model_adapters import black_box_model
from xplique.commons.model_surgery import run_model
from xplique.commons.operators import get_operator
from xplique.commons.shapes import Modality, modality
from xplique.commons.validation import ensure_batch_size, ensure_callable, ensure_choice

#: Accepted values of `activation`.
ACTIVATIONS = {None: None, "softmax": tf.nn.softmax, "sigmoid": tf.nn.sigmoid}


def metric_inputs(inputs, name: str = "inputs") -> tf.Tensor:
    """Inputs of a metric as one float32 tensor `(N, ...)` of a known modality (a
    tf.data.Dataset of inputs, batched or not, is read whole: see :func:`metric_data`)."""
    if isinstance(inputs, tf.data.Dataset):
        inputs, _ = metric_data(inputs, None, name)
        return inputs
    inputs = to_tensor(inputs, name)
    modality(inputs)
    check_finite(inputs, name)
    if int(inputs.shape[0]) == 0:
        raise ValueError(f"`{name}` is empty: there is nothing to evaluate")
    return inputs


def metric_data(inputs, targets, name: str = "inputs"):
    """`(inputs, targets)` of a metric, held in memory.

    A metric pairs each input with its explanation, so its data is read whole, as in Xplique:
    a `tf.data.Dataset` (batched or not) of inputs or of `(inputs, targets)` pairs is
    concatenated once (`targets` must then be None or a dataset zipped with it). Arrays and
    tensors pass through. Returns the inputs tensor and the targets (None when there are none).
    """
    if not isinstance(inputs, tf.data.Dataset):
        return metric_inputs(inputs, name), targets
    groups = list(iter_groups(inputs, targets, None))
    if not groups:
        raise ValueError(f"`{name}` is an empty tf.data.Dataset: there is nothing to evaluate")
    xs = [x for x, _ in groups]
    ys = [y for _, y in groups if y is not None]
    if ys and len(ys) != len(groups):
        raise ValueError(f"`{name}` yields targets for some elements only")
    data = tf.concat(xs, axis=0) if len(xs) > 1 else xs[0]
    labels = None
    if ys:
        labels = tf.concat(ys, axis=0) if len(ys) > 1 else ys[0]
    return metric_inputs(data, name), labels


class _ActivatedModel:
    """`activation(model(x))`: the model scored by metrics with `activation` set."""

    def __init__(self, model, activation: Callable):
        self.model = model
        self.activation = activation

    def __call__(self, inputs):
        return self.activation(run_model(self.model, inputs))


def with_activation(model, activation: Optional[str]):
    """`model` followed by the named activation ("softmax", "sigmoid"), or `model` for None."""
    ensure_choice(activation, "activation", ACTIVATIONS)
    if activation is None:
        return model
    return _ActivatedModel(model, ACTIVATIONS[activation])


def feature_maps(explanations, inputs_shape, name: str = "explanations") -> tf.Tensor:
    """Explanations as one value per perturbable feature, float32.

    Images `(N, H, W, C)` give `(N, H, W)` maps (explanations of shape `(N, H, W)`,
    `(N, H, W, 1)` or `(N, H, W, C)`; channels are averaged), time series `(N, T, W)` and
    tabular data `(N, W)` keep the input's shape.
    """
    explanations = to_tensor(explanations, name)
    inputs_shape = tuple(inputs_shape)
    received = tuple(explanations.shape)
    if modality(inputs_shape) is Modality.IMAGES:
        n, height, width, channels = inputs_shape
        accepted = [(n, height, width), (n, height, width, 1), (n, height, width, channels)]
        if received not in accepted:
            raise ValueError(
                f"`{name}` must have shape {' or '.join(map(str, dict.fromkeys(accepted)))} for "
                f"inputs of shape {inputs_shape}. Received: {name}.shape={received}"
            )
        if explanations.shape.rank == 4:
            explanations = tf.reduce_mean(explanations, axis=-1)
        return explanations
    if received != inputs_shape:
        raise ValueError(
            f"`{name}` must have the inputs' shape {inputs_shape}. Received: {name}.shape="
            f"{received}"
        )
    return explanations


def spread_over_inputs(maps: tf.Tensor, inputs_rank: int) -> tf.Tensor:
    """Feature maps `(n, H, W)` broadcastable against images `(n, H, W, C)` (others unchanged)."""
    if inputs_rank == 4:
        return maps[..., None]
    return maps


def flat_maps(explanations) -> tf.Tensor:
    """Explanations `(N, ...)` flattened to `(N, D)` float32, channels averaged for rank 4."""
    explanations = to_tensor(explanations, "explanations")
    if explanations.shape.rank == 4:
        explanations = tf.reduce_mean(explanations, axis=-1)
    if explanations.shape.rank < 2:
        raise ValueError(
            "`explanations` must be a batch (N, ...) of rank >= 2. Received: "
            f"explanations.shape={tuple(explanations.shape)}"
        )
    return tf.reshape(explanations, [explanations.shape[0], -1])


def progress_bar(total: int, verbose: bool, desc: str, iterable=None):
    """A tqdm bar over `total` steps (or over `iterable`), shown only when `verbose`."""
    return tqdm(iterable, total=total, desc=desc, disable=not verbose, leave=False)


def counted(kernel: Callable, bar, nb_tensors: int) -> Callable:
    """Wrap a :func:`~xplique.commons.batching.reduce_over_samples` kernel taking `nb_tensors`
    per-input tensors so that each call advances `bar` by the pairs it evaluates."""

    def run(*args):
        state = kernel(*args)
        bar.update(int(args[nb_tensors + 1]) - int(args[nb_tensors]))
        return state

    return run


class BaseAttributionMetric(Distributed, abc.ABC):
    """Base of the metrics that evaluate a model on `inputs` for `targets`.

    Attributes set by `_setup`: `model` (the user's model, never modified), `inputs` (float32
    tensor), `targets` (float32 one-hot or dense rows), `batch_size` (model evaluations per
    forward pass), `operator` and `activation`.

    Parameters
    ----------
    model
        The model whose explanations are evaluated.
    inputs
        Numpy array or tensor of images `(N, H, W, C)`, time series `(N, T, W)` or tabular data
        `(N, W)`, or a tf.data.Dataset (batched or not) of inputs or of `(inputs, targets)`
        pairs, read whole once (the metric pairs each input with its explanation).
    targets
        One-hot or dense targets `(N, n_outputs)`, integer class indices `(N,)`, or what the
        operator expects. None uses the model's top output for each input.
    batch_size
        Model evaluations per forward pass, perturbed samples included; None for one pass over
        everything (bounded by :data:`xplique.commons.batching.MAX_BATCH_SIZE`).
    operator
        Score function, Tasks member or task name (default: classification).
    activation
        "softmax" or "sigmoid" applied to the model's outputs before scoring, or None.
    strategy
        Keyword-only. The `tf.distribute.Strategy` whose replicas share each `batch_size`
        chunk of model evaluations (:mod:`xplique.commons.distribution`); None uses the
        strategy whose `scope()` is open, or one device outside any scope.
    """

    distributed_methods = ("__init__", "evaluate", "detailed_evaluate")
    model: Callable
    inputs: tf.Tensor
    targets: tf.Tensor
    batch_size: Optional[int]

    def _setup(self, model, inputs, targets, batch_size, operator=None, activation=None,
               strategy=None):
        """Validate and store the shared parameters; integer targets become one-hot."""
        self.model = ensure_callable(model, "model")
        self.strategy = ensure_strategy(strategy)
        self.batch_size = ensure_batch_size(batch_size)
        self.operator = get_operator(operator)
        self.activation = activation
        self._scored_model = with_activation(black_box_model(model), activation)
        self.inputs, targets = metric_data(inputs, targets)
        check_inputs_for_model(self.inputs, model, self.operator)  # not for custom operators
        self.targets = self._prepare_targets(targets)
        self._predictions = predictions_of(self._scored_model, self.operator)

    @abc.abstractmethod
    def evaluate(self, *args, **kwargs):
        """Compute the metric (see the concrete bases for what it takes)."""

    def _prepare_targets(self, targets) -> tf.Tensor:
        if targets is None:
            outputs = batched(outputs_of(self._scored_model), [self.inputs], self.batch_size)
            return top_output_targets(outputs, self.operator)
        targets = to_tensor(targets, "targets", dtype=tf.float64)
        if targets.shape.rank == 0 or targets.shape[0] != self.inputs.shape[0]:
            raise ValueError(
                "`inputs` and `targets` must have the same number of samples. Received: "
                f"inputs.shape={tuple(self.inputs.shape)}, targets.shape={tuple(targets.shape)}"
            )
        outputs = lazy_output_shape(self._scored_model, self.inputs)
        targets = prepare_targets(targets, lambda: int(outputs()[-1]))
        check_targets(targets, self.operator, outputs)  # the operator's target format
        return targets

    def _scores(self, inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        """Operator scores `(N,)` of `inputs`, `batch_size` per forward pass."""
        return batched(self._predictions, [inputs, targets], self.batch_size)

    @property
    def tracing_count(self) -> int:
        """Number of graph traces made by this metric's compiled kernels so far."""
        return sum(k.tracing_count for k in vars(self).values() if isinstance(k, Compiled))


class ExplanationMetric(BaseAttributionMetric):
    """Base of the metrics that score precomputed explanations: `metric(explanations)`."""

    @abc.abstractmethod
    def evaluate(self, explanations) -> float:
        """Score `explanations` (one per input, in the order of `inputs`)."""

    def __call__(self, explanations) -> float:
        """Alias of :meth:`evaluate`."""
        return self.evaluate(explanations)

    def _feature_maps(self, explanations) -> tf.Tensor:
        return feature_maps(explanations, self.inputs.shape)


def explain_with(explainer, inputs, targets):
    """Explanations from `explainer`: its `explain(inputs, targets)` when it has one (objects
    that are not callable work, as in Xplique), else `explainer(inputs, targets)`."""
    explain = getattr(explainer, "explain", None)
    if callable(explain):
        return explain(inputs, targets)
    if callable(explainer):
        return explainer(inputs, targets)
    raise TypeError("`explainer` must have an `explain(inputs, targets)` method or be callable "
                    f"explainer(inputs, targets). Received: {explainer!r}")


class ExplainerMetric(BaseAttributionMetric):
    """Base of the metrics that run an explainer themselves: `metric(explainer)`."""

    @abc.abstractmethod
    def evaluate(self, explainer) -> float:
        """Score `explainer`: an object with `explain(inputs, targets) -> explanations`, or such
        a callable."""

    def __call__(self, explainer) -> float:
        """Alias of :meth:`evaluate`."""
        return self.evaluate(explainer)


class BaseComplexityMetric(Distributed, abc.ABC):
    """Base of the metrics computed from the explanations alone, one value per map.

    A concrete metric defines either `_per_map(maps (n, D)) -> (n,)`, a compiled kernel on
    flattened maps (the built-in metrics), or, as in Xplique,
    `detailed_evaluate(explanations_batch) -> (B,)`: :meth:`evaluate` then calls it on
    consecutive batches of `batch_size` explanations and averages the values.

    Parameters
    ----------
    batch_size
        Maps processed per call; None for all at once (bounded by
        :data:`xplique.commons.batching.MAX_BATCH_SIZE`).
    strategy
        Keyword-only, as in :class:`BaseAttributionMetric`.
    """

    distributed_methods = ("__init__", "evaluate", "detailed_evaluate")
    #: Whether `_per_map` reads nothing from the instance, so that every instance of the class
    #: shares one compiled kernel: a metric built anew for each call (as Quantus' are) then
    #: traces once per process instead of once per call.
    shared_kernel = False
    _kernels: Dict[type, Compiled] = {}

    def __init__(self, batch_size: Optional[int] = 32, *, strategy=None):
        self.batch_size = ensure_batch_size(batch_size)
        self.strategy = ensure_strategy(strategy)
        cls = type(self)
        if not cls.shared_kernel:
            self._kernel = Compiled(self._per_map, split=Rows())
        else:
            if cls not in BaseComplexityMetric._kernels:
                BaseComplexityMetric._kernels[cls] = Compiled(self._per_map, split=Rows())
            self._kernel = BaseComplexityMetric._kernels[cls]

    def _per_map(self, maps: tf.Tensor) -> tf.Tensor:
        """Value of each flattened map `(n, D) -> (n,)` (compiled)."""
        raise NotImplementedError(
            f"{type(self).__name__} must define `_per_map(maps)` or "
            "`detailed_evaluate(explanations)`"
        )

    def _overrides_detailed_evaluate(self) -> bool:
        return type(self).detailed_evaluate is not BaseComplexityMetric.detailed_evaluate

    def detailed_evaluate(self, explanations, batch_size=None) -> np.ndarray:
        """One value per explanation, `(N,)` (image channels are averaged first)."""
        maps = flat_maps(explanations)
        size = self.batch_size if batch_size is None else ensure_batch_size(batch_size)
        return batched(self._kernel, [maps], size).numpy()

    def evaluate(self, explanations, batch_size=None) -> float:
        """Mean value over the explanations.

        Parameters
        ----------
        explanations
            Explanations `(N, ...)`.
        batch_size
            Explanations per call for this evaluation (None: the metric's `batch_size`).
        """
        size = self.batch_size if batch_size is None else ensure_batch_size(batch_size)
        if not self._overrides_detailed_evaluate():
            return float(np.mean(self.detailed_evaluate(explanations, size)))
        explanations = to_tensor(explanations, "explanations")
        values = batched(
            lambda batch: tf.reshape(tf.cast(self.detailed_evaluate(batch), tf.float64), [-1]),
            [explanations], size,
        )
        return float(np.mean(values.numpy()))

    def __call__(self, explanations, batch_size=None) -> float:
        """Alias of :meth:`evaluate` (`batch_size` as there; Xplique's signature)."""
        return self.evaluate(explanations, batch_size)
