"""Every target in one pass: `explain(inputs, targets="all")` and `explain(inputs, top_k=K)`.

A single-target call evaluates the model on a chunk and backpropagates one cotangent per input.
Explaining K targets with K such calls repeats the forward pass K times. The kernels here run
the forward pass once per chunk and backpropagate the K cotangents of each input from it:

- :func:`chosen_outputs` reads the K explained scores `(N, K)` from one forward pass: for the
  built-in classification / regression operator (`score = sum(outputs * target)`), the score of
  a one-hot target `k` *is* output `k`, so the K scores are a gather of the outputs;
- :func:`per_target_gradients` differentiates the K score columns with respect to an input or
  an intermediate tensor: `(N, K, *shape)`;
- :func:`target_gradients_of` (gradient methods) and :func:`sampled_target_gradients_of`
  (SmoothGrad, IG: a :func:`~xplique.commons.batching.reduce_over_samples` kernel) compile them,
  split by rows or by pairs across `tf.distribute` replicas like the single-target kernels;
- :func:`looped_targets` is the fallback for operators whose score is not a gather of the
  outputs (custom operators): one single-target explanation per target, stacked.

Targets are passed to the kernels as class indices `(N, K)` (:func:`target_indices`): every
output `0..n_outputs-1` for "all"; for `top_k` either the indices already found (from the
clean inputs' outputs) or :data:`TOP`, which the kernel resolves from the very forward pass it
differentiates (`tf.math.top_k`, decreasing order): no extra model evaluation.

How the K cotangents are propagated (:func:`per_target_gradients`): for K up to
:data:`UNROLL_LIMIT` the K backward passes are built in the same graph from the one recorded
forward pass (TensorFlow runs them as independent branches); beyond it they are vectorised with
`GradientTape.batch_jacobian` (parallel-for: one backward pass over `K x N` cotangent rows,
a graph whose size does not grow with K). Both give the single-target gradients (up to
float rounding); the unrolled form was measured faster on CPU for K = 10 (Saliency on
benchmarks/models.py's small_cnn: 5.7 against 9.1 single-target calls; the parallel-for rules
of `MaxPoolGrad` and `ReluGrad` copy their forward operands K times), see
docs/attributions/all_targets.md and `benchmarks/all_targets.py --unroll-limit 0`.
"""

from typing import Callable, NamedTuple, Optional

import tensorflow as tf

from xplique.commons.batching import pairs_in
from xplique.commons.compiled import Compiled, PerChunkLength
from xplique.commons.distribution import Pairs, Rows
from xplique.commons.model_surgery import run_model
from xplique.commons.operators import predictions_operator
from xplique.commons.statistics import Statistic
from xplique.commons.validation import ensure_positive_int

#: The `targets` value that explains every output.
ALL = "all"

#: Class index meaning "the k-th highest output" (resolved inside the kernel, k = column).
TOP = -1

#: Up to this many targets, the K backward passes are unrolled in the graph; beyond, they are
#: vectorised with parallel-for (`batch_jacobian`).
UNROLL_LIMIT = 16


class TargetSelection(NamedTuple):
    """What an `explain` call asked for: every output (`top_k=None`) or the `top_k` highest."""

    top_k: Optional[int] = None

    def count(self, n_outputs: int) -> int:
        """Number of targets explained per input, K."""
        if self.top_k is None:
            return n_outputs
        if self.top_k > n_outputs:
            raise ValueError(
                f"`top_k` must be <= the number of model outputs ({n_outputs}). Received: "
                f"top_k={self.top_k}"
            )
        return self.top_k

    def describe(self) -> str:
        """The call, as the user wrote it (for error messages)."""
        return "targets='all'" if self.top_k is None else f"top_k={self.top_k}"


def ensure_selection(targets, top_k) -> Optional[TargetSelection]:
    """The :class:`TargetSelection` of an `explain(inputs, targets, top_k=...)` call, or None
    for an ordinary call (targets given, or None for the top output).

    Raises a ValueError/TypeError naming the parameter for `targets` strings other than "all",
    `top_k` that is not an int >= 1, and `top_k` given together with `targets`.
    """
    if isinstance(targets, str):
        if targets != ALL:
            raise ValueError(
                "`targets` must be 'all', an array of targets or None. Received: "
                f"targets={targets!r}"
            )
        if top_k is not None:
            raise ValueError(
                "`top_k` and `targets` cannot be given together: top_k picks the targets. "
                f"Received: targets={targets!r}, top_k={top_k!r}"
            )
        return TargetSelection()
    if top_k is None:
        return None
    if targets is not None:
        raise ValueError(
            "`top_k` and `targets` cannot be given together: top_k picks the targets (the K "
            f"highest outputs), so `targets` must be None. Received: top_k={top_k!r} and "
            "targets of type " + type(targets).__name__
        )
    return TargetSelection(ensure_positive_int(top_k, "top_k"))


def is_vectorisable(operator: Callable) -> bool:
    """Whether the K scores of `operator` for one-hot targets are a gather of one forward
    pass's outputs (the built-in classification / regression operator)."""
    return operator is predictions_operator


def target_indices(selection: TargetSelection, count: int, n_outputs: int,
                   outputs: Optional[Callable[[], tf.Tensor]] = None) -> tf.Tensor:
    """Class indices `(count, K)` int32 of the targets explained per input.

    Parameters
    ----------
    selection
        Every output, or the `top_k` highest.
    count
        Number of inputs.
    n_outputs
        Number of model outputs.
    outputs
        For `top_k`: called to get the model outputs `(count, n_outputs)` whose top classes
        are explained; None leaves :data:`TOP` for the kernel to resolve from its forward pass.
    """
    k = selection.count(n_outputs)
    if selection.top_k is None:
        return tf.tile(tf.range(n_outputs, dtype=tf.int32)[None], [count, 1])
    if outputs is None:
        return tf.fill([count, k], tf.constant(TOP, tf.int32))
    return tf.math.top_k(outputs(), k=k).indices


def chosen_outputs(outputs: tf.Tensor, indices: tf.Tensor) -> tf.Tensor:
    """The explained scores `(N, K)`: `outputs[n, indices[n, k]]`, where :data:`TOP` entries
    take the k-th highest output of row n (k = column, decreasing order).

    For one-hot targets this is the score of the built-in classification / regression operator,
    `sum(outputs * one_hot(k))`, with the same gradient (the cotangent of output k is one).
    """
    top = tf.math.top_k(tf.stop_gradient(outputs), k=tf.shape(indices)[1]).indices
    chosen = tf.where(indices < 0, top, indices)
    return tf.gather(outputs, chosen, batch_dims=1)


def per_target_gradients(tape: tf.GradientTape, scores: tf.Tensor, source: tf.Tensor
                         ) -> tf.Tensor:
    """Gradients `(N, K, *source.shape[1:])` of every score column `scores[:, k]` with respect
    to `source` (one row per input; rows must not interact, as in inference).

    `tape` recorded the forward pass once (made by :func:`recording_tape`). For K <=
    :data:`UNROLL_LIMIT` the K backward passes take the cotangents `e_k` (one in column k)
    from the same tape; beyond, the K cotangents are vectorised with `batch_jacobian`.
    """
    zero = tf.UnconnectedGradients.ZERO
    k = scores.shape[1]
    if k is not None and k <= UNROLL_LIMIT:
        cotangents = tf.eye(k, dtype=scores.dtype)
        gradients = [
            tape.gradient(scores, source, output_gradients=tf.broadcast_to(
                cotangents[column], tf.shape(scores)), unconnected_gradients=zero)
            for column in range(k)
        ]
        return tf.stack(gradients, axis=1)
    return tape.batch_jacobian(scores, source, unconnected_gradients=zero)


def recording_tape(targets: int) -> tf.GradientTape:
    """The tape :func:`per_target_gradients` needs for `targets` (K) score columns."""
    return tf.GradientTape(persistent=targets is None or targets <= UNROLL_LIMIT)


def target_gradients(model: Callable, inputs: tf.Tensor, indices: tf.Tensor) -> tf.Tensor:
    """Input gradients `(N, K, *input_shape)` of the K targets `indices` `(N, K)` of each
    input (see :func:`chosen_outputs`), from one forward pass (inference mode)."""
    with recording_tape(indices.shape[1]) as tape:
        tape.watch(inputs)
        scores = chosen_outputs(run_model(model, inputs), indices)
    return per_target_gradients(tape, scores, inputs)


def target_gradients_of(model: Callable) -> Compiled:
    """Compiled `(inputs, indices) -> (N, K, ...)` input gradients, split by rows across
    replicas (:func:`target_gradients`)."""
    return Compiled(lambda inputs, indices: target_gradients(model, inputs, indices),
                    split=Rows())


def sampled_target_gradients_of(
    model: Callable,
    nb_samples: int,
    make_samples: Callable,
    statistic: Statistic,
) -> Compiled:
    """The K-target version of :func:`xplique.commons.gradients.sampled_gradients_of`: a
    :func:`~xplique.commons.batching.reduce_over_samples` kernel
    `(inputs, indices, start, stop, offset, seed) -> state` whose state rows are `(K, ...)`
    per input. Each chunk of `batch_size` samples runs one forward pass; the samples (noise,
    path points) are those of the single-target kernel, drawn by the same `make_samples`.

    `indices` must hold class indices (no :data:`TOP`: the top classes of a sampled method are
    those of the clean input, found before sampling).
    """

    def make(length):
        def kernel(inputs, indices, start, stop, offset, seed):
            pairs = pairs_in(start, stop, nb_samples, length)
            samples, weights = make_samples(tf.gather(inputs, pairs.owner), pairs.sample,
                                            offset, seed)
            values = target_gradients(model, samples, tf.gather(indices, pairs.owner))
            if weights is not None:
                values = values * tf.expand_dims(weights, 1)
            return statistic.partial(values, pairs.segment, pairs.num_segments)

        return kernel

    return PerChunkLength(make, split=Pairs(nb_samples, statistic, make))


def looped_targets(explain_one: Callable[[tf.Tensor], tf.Tensor], indices: tf.Tensor,
                   n_outputs: int) -> tf.Tensor:
    """The fallback for operators that are not a gather of the outputs: one single-target
    explanation per column of `indices` `(N, K)` (class indices), as one-hot targets,
    stacked into `(N, K, ...)`. `explain_one(targets)` explains the group for `targets`."""
    maps = [explain_one(tf.one_hot(indices[:, k], n_outputs, dtype=tf.float32))
            for k in range(int(indices.shape[1]))]
    return tf.stack(maps, axis=1)


def per_map(fn: Callable[[tf.Tensor], tf.Tensor], explanations: tf.Tensor) -> tf.Tensor:
    """Apply `fn` (e.g. the channel reducer) to every map of `(N, K, ...)` explanations, as to
    a batch of single-target explanations."""
    n, k = explanations.shape[0], explanations.shape[1]
    flat = tf.reshape(explanations, (n * k,) + tuple(explanations.shape[2:]))
    result = fn(flat)
    return tf.reshape(result, (n, k) + tuple(result.shape[1:]))
