"""The two abstract bases of attribution methods.

:class:`BlackBoxExplainer` reads the model only through its operator scores;
:class:`WhiteBoxExplainer` also needs gradients and layers (`output_layer`, `reducer`).
Concrete methods subclass one of them once, define their own `__init__` (which calls
`_setup`) and implement `_explain_group`. They are final: nothing subclasses them.
"""

import abc
from typing import Callable, List, Optional

import tensorflow as tf

from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.distribution import Distributed, ensure_strategy
from xplique.commons.data import (
    check_targets,
    is_builtin_operator,
    iter_groups,
    output_shape,
    prepare_targets,
    top_output_targets,
)
from xplique.commons.gradients import gradient_of, outputs_of, predictions_of
from xplique.commons.model_surgery import truncate_at
from xplique.commons.operators import get_operator
from xplique.commons.shapes import ensure_reducer, reduce_channels
from xplique.commons.validation import ensure_batch_size, ensure_callable
from xplique.types import InputsLike, LayerRef, TargetsLike


class BlackBoxExplainer(Distributed, abc.ABC):
    """Base of every attribution method.

    The parameters every method shares are described here once (and in docs/conventions.md);
    method docstrings list only their own.

    Parameters
    ----------
    model
        The model to explain: a Keras model, a `tf.Module` or a callable of TensorFlow
        operations mapping a batch of inputs to `(N, n_outputs)` (black-box methods also take
        plain Python callables and scikit-learn estimators). It is never modified.
    batch_size
        Model evaluations per forward pass, counting the samples a method draws (masks, noisy
        copies, steps): never a number of inputs. None evaluates everything in one pass, up to
        :data:`xplique.commons.batching.MAX_BATCH_SIZE` evaluations per pass.
    operator
        The score explained, `g(model, inputs, targets) -> (N,)`: None (classification), a
        `Tasks` member, a task name, or any callable.
    seed
        Keyword-only, for stochastic methods. An int gives the same explanations whatever
        `batch_size` and however the inputs are grouped; None draws a seed per call from
        TensorFlow's global generator (reproducible after `tf.random.set_seed`).
    verbose
        Keyword-only, for perturbation methods. Show a progress bar over the model
        evaluations.
    strategy
        Keyword-only. The `tf.distribute.Strategy` whose replicas share each `batch_size`
        chunk (:mod:`xplique.commons.distribution`); None uses the strategy whose `scope()` is
        open when `explain` runs, or one device outside any scope.

    Attributes set by `_setup`: `model` (the user's model, never modified), `batch_size`,
    `operator` (the score function), `reducer` (channel reduction of image maps) and
    `strategy`.
    """

    model: Callable
    batch_size: Optional[int]
    operator: Callable
    reducer: Optional[str]

    def _setup(self, model, batch_size, operator, reducer=None, scored_model=None,
               strategy=None):
        """Validate and store the parameters shared by every method."""
        self.model = ensure_callable(model, "model")
        self.strategy = ensure_strategy(strategy)
        self.batch_size = ensure_batch_size(batch_size)
        self.operator = get_operator(operator)
        self.reducer = ensure_reducer(reducer)
        # The model whose outputs the operator scores (a truncated one for `output_layer`).
        self._scored_model = model if scored_model is None else scored_model
        self._predictions = predictions_of(self._scored_model, self.operator)
        self._outputs = outputs_of(self._scored_model)
        self._output_shapes = {}  # per-input shape -> model output shape, for target checks

    distributed_methods = ("__init__", "explain")

    def explain(self, inputs: InputsLike, targets: TargetsLike = None) -> tf.Tensor:
        """Compute the explanations of `inputs` for `targets`.

        Parameters
        ----------
        inputs
            Numpy array, tensor or `tf.data.Dataset` (batched or not) of inputs, or of
            `(inputs, targets)` pairs: images `(N, H, W, C)`, time series `(N, T, W)` or
            tabular data `(N, W)`. Datasets are streamed batch by batch.
        targets
            One-hot or dense targets `(N, n_outputs)`, integer class indices `(N,)`, or what
            the operator expects (masks, boxes). None explains the model's top output.

        Returns
        -------
        explanations
            `tf.Tensor` of float32: images `(N, H, W, 1)` (or `(N, H, W, C)` with
            `reducer=None`), time series `(N, T, W)`, tabular `(N, W)`.
        """
        parts: List[tf.Tensor] = []
        first_input = 0
        # A custom operator may transform the inputs before calling the model: their shape is
        # then its business, not checked against the model's input.
        model = self._input_model() if is_builtin_operator(self.operator) else None
        for x, y in iter_groups(inputs, targets, self.batch_size, model=model):
            y = self._targets_for(x, y)
            explanations = self._explain_group(x, y, first_input)
            parts.append(reduce_channels(tf.cast(explanations, tf.float32), self.reducer))
            first_input += int(x.shape[0])
        if not parts:
            raise ValueError("`inputs` is empty: there is nothing to explain")
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=0)

    def __call__(self, inputs: InputsLike, targets: TargetsLike = None) -> tf.Tensor:
        """Alias of :meth:`explain`."""
        return self.explain(inputs, targets)

    @abc.abstractmethod
    def _explain_group(self, inputs: tf.Tensor, targets: tf.Tensor, first_input: int):
        """Explain one in-memory group; `first_input` is its global index (for seeds)."""

    def _input_model(self):
        return self.model

    def _targets_for(self, inputs: tf.Tensor, targets) -> tf.Tensor:
        if targets is None:
            return top_output_targets(self._batched_outputs(inputs), self.operator)

        def outputs():  # read once per input shape (a trace or a forward pass for some models)
            key = (inputs.dtype, tuple(inputs.shape[1:]))
            if key not in self._output_shapes:
                self._output_shapes[key] = output_shape(self._scored_model, inputs)
            return self._output_shapes[key]

        targets = prepare_targets(targets, lambda: int(outputs()[-1]))
        check_targets(targets, self.operator, outputs)
        return targets

    def _batched_outputs(self, inputs: tf.Tensor) -> tf.Tensor:
        return batched(self._outputs, [inputs], self.batch_size)

    @property
    def tracing_count(self) -> int:
        """Number of graph traces made by this explainer's compiled kernels so far."""
        return sum(k.tracing_count for k in vars(self).values() if isinstance(k, Compiled))


class WhiteBoxExplainer(BlackBoxExplainer):
    """Base of the methods that need the model's gradients or layers.

    Parameters
    ----------
    model, batch_size, operator
        As in :class:`BlackBoxExplainer`.
    output_layer
        Layer (name, index or layer) whose output the operator scores instead of the model's,
        e.g. the logits before a softmax. None scores the model's output.
    reducer
        Channel reduction of image explanations: "mean", "min", "max", "sum", or None to keep
        the channels. Time series and tabular explanations are never reduced.
    """

    output_layer: Optional[LayerRef]

    def _setup_white_box(self, model, output_layer, batch_size, operator, reducer,
                         strategy=None):
        """Validate and store the shared white-box parameters, truncating at `output_layer`."""
        ensure_callable(model, "model")
        self.output_layer = output_layer
        scored = model if output_layer is None else truncate_at(model, output_layer)
        self._setup(model, batch_size, operator, reducer, scored_model=scored, strategy=strategy)
        self._gradients = gradient_of(self._scored_model, self.operator)
