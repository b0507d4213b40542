"""The two abstract bases of attribution methods.

:class:`BlackBoxExplainer` reads the model only through its operator scores;
:class:`WhiteBoxExplainer` also needs gradients and layers (`output_layer`, `reducer`).
Concrete methods subclass one of them once, define their own `__init__` (which calls
`_setup`) and implement `_explain_group`. They are final: nothing subclasses them.
"""

import abc
from typing import Callable, List, Optional

import tensorflow as tf

from xplique.commons import all_targets
from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.data import (
    check_targets,
    is_builtin_operator,
    iter_groups,
    output_shape,
    prepare_targets,
    top_output_targets,
)
from xplique.commons.distribution import Distributed, ensure_strategy
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

    def explain(self, inputs: InputsLike, targets: TargetsLike = None, *,
                top_k: Optional[int] = None) -> tf.Tensor:
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
            "all" explains every output: `(N, n_outputs, ...)` (gradient and CAM methods,
            see :mod:`xplique.commons.all_targets` and docs/attributions/all_targets.md).
        top_k
            Keyword-only, with `targets=None`: explain the K highest outputs of each input, in
            decreasing order: `(N, K, ...)` (gradient and CAM methods).

        Returns
        -------
        explanations
            `tf.Tensor` of float32: images `(N, H, W, 1)` (or `(N, H, W, C)` with
            `reducer=None`), time series `(N, T, W)`, tabular `(N, W)`; with
            `targets="all"` or `top_k`, one map per target on axis 1.
        """
        selection = all_targets.ensure_selection(targets, top_k)
        if selection is not None:
            return self._explain_every_target(inputs, selection)
        def explain_group(x, y, first_input):
            explanations = self._explain_group(x, self._targets_for(x, y), first_input)
            return reduce_channels(tf.cast(explanations, tf.float32), self.reducer)

        return self._over_groups(inputs, targets, explain_group)

    def _over_groups(self, inputs: InputsLike, targets, explain_group: Callable) -> tf.Tensor:
        """`explain_group(x, y, first_input)` over the in-memory groups of `inputs`, whose
        results are concatenated; `first_input` is each group's global index (for seeds)."""
        parts: List[tf.Tensor] = []
        first_input = 0
        # A custom operator may transform the inputs before calling the model: their shape is
        # then its business, not checked against the model's input.
        model = self._input_model() if is_builtin_operator(self.operator) else None
        for x, y in iter_groups(inputs, targets, self.batch_size, model=model):
            parts.append(explain_group(x, y, first_input))
            first_input += int(x.shape[0])
        if not parts:
            raise ValueError("`inputs` is empty: there is nothing to explain")
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=0)

    def __call__(self, inputs: InputsLike, targets: TargetsLike = None, *,
                 top_k: Optional[int] = None) -> tf.Tensor:
        """Alias of :meth:`explain`."""
        if top_k is None:
            return self.explain(inputs, targets)
        return self.explain(inputs, targets, top_k=top_k)

    @abc.abstractmethod
    def _explain_group(self, inputs: tf.Tensor, targets: tf.Tensor, first_input: int):
        """Explain one in-memory group; `first_input` is its global index (for seeds)."""

    #: Whether `_explain_group_targets` resolves :data:`~xplique.commons.all_targets.TOP`
    #: indices from its own forward pass (False: the top classes are found first, from the
    #: model outputs on the inputs, as for `targets=None`).
    _top_k_in_kernel = True

    def _explain_group_targets(self, inputs: tf.Tensor, indices: tf.Tensor, first_input: int):
        """Explain one group for the K class indices `indices` `(N, K)` of each input, with
        the built-in classification operator: `(N, K, ...)` from one forward pass per chunk.
        Methods that explain every target in one pass override it."""
        raise NotImplementedError

    def _explains_every_target(self) -> bool:
        return type(self)._explain_group_targets is not BlackBoxExplainer._explain_group_targets

    def _explain_every_target(self, inputs: InputsLike, selection) -> tf.Tensor:
        """`explain` for `targets="all"` or `top_k` (see :mod:`xplique.commons.all_targets`)."""
        name = type(self).__name__
        if not self._explains_every_target():
            raise ValueError(
                f"{selection.describe()} is not supported by {name}: it explains one target per "
                "input (pass `targets`). The gradient methods (Saliency, GradientInput, "
                "IntegratedGradients, SmoothGrad, SquareGrad, VarGrad, GuidedBackprop, "
                "DeconvNet) and GradCAM, GradCAMPP and LayerCAM explain every target in one pass"
            )
        vectorised = all_targets.is_vectorisable(self.operator)
        if is_builtin_operator(self.operator) and not vectorised:
            raise ValueError(
                f"{selection.describe()} needs one-hot targets over the model outputs "
                "(classification or regression operator). Received: operator="
                f"{getattr(self.operator, '__name__', self.operator)!r}"
            )

        def explain_group(x, y, first_input):
            if y is not None:
                raise ValueError(
                    f"With {selection.describe()}, `inputs` must hold inputs only. Received a "
                    "dataset of (inputs, targets) pairs"
                )
            n_outputs = self._n_outputs(x)
            in_kernel = vectorised and self._top_k_in_kernel
            indices = all_targets.target_indices(
                selection, int(x.shape[0]), n_outputs,
                None if in_kernel else (lambda: self._batched_outputs(x)),
            )
            if vectorised:
                maps = self._explain_group_targets(x, indices, first_input)
            else:  # a custom operator: one single-target explanation per target
                maps = all_targets.looped_targets(
                    lambda y: self._explain_group(x, y, first_input),
                    indices, n_outputs,
                )
            maps = tf.cast(maps, tf.float32)
            return all_targets.per_map(lambda m: reduce_channels(m, self.reducer), maps)

        return self._over_groups(inputs, None, explain_group)

    def _n_outputs(self, inputs: tf.Tensor) -> int:
        """Number of outputs of the scored model, which must be `(N, n_outputs)`."""
        key = (inputs.dtype, tuple(inputs.shape[1:]))
        if key not in self._output_shapes:
            self._output_shapes[key] = output_shape(self._scored_model, inputs)
        shape = tuple(self._output_shapes[key])
        if len(shape) != 2 or shape[-1] is None:
            raise ValueError(
                "targets='all' and top_k need a model (or `output_layer`) with outputs "
                f"(N, n_outputs). Received outputs of shape {shape}"
            )
        return int(shape[-1])

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
