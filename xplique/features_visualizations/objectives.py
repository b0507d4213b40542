"""Objectives of feature visualization: what the optimised images should excite.

Ref. Olah et al., Feature Visualization (2017), https://distill.pub/2017/feature-visualization/
(objectives on neurons, channels, layers and directions of activation space, and their
combinations).

An :class:`Objective` is a list of terms. Each term reads one layer and holds one or several
masks (the ids it targets), a reduction `f(layer_output, mask) -> (N,)` and a multiplier.
Objectives are immutable: `+`, `-`, `*` return new objectives. A combination holds one image
per element of the cartesian product of its terms' ids, and its value on an image is the
plain weighted sum of the terms.
"""

import itertools
from numbers import Real
from typing import Callable, List, Optional, Sequence, Tuple, Union

import keras
import numpy as np
import tensorflow as tf

from xplique.commons.model_surgery import find_layer, is_graph_model
from xplique.commons.validation import ensure_choice, ensure_float
from xplique.types import LayerRef

Ids = Union[int, Sequence[int]]


def _non_batch_axes(tensor: tf.Tensor) -> List[int]:
    return list(range(1, tensor.shape.rank))


def cosine_similarity(tensor_a: tf.Tensor, tensor_b: tf.Tensor) -> tf.Tensor:
    """Cosine similarity of each sample of `tensor_a` with `tensor_b` (same shape, or
    broadcastable), over every non-batch axis: a `(N,)` tensor."""
    axes = _non_batch_axes(tensor_a)
    dot = tf.reduce_sum(tensor_a * tensor_b, axis=axes)
    norm_a = tf.sqrt(tf.reduce_sum(tf.square(tensor_a), axis=axes))
    norm_b = tf.sqrt(tf.reduce_sum(tf.square(tensor_b * tf.ones_like(tensor_a)), axis=axes))
    return dot / (norm_a * norm_b + 1e-12)


def dot_cossim(tensor_a: tf.Tensor, tensor_b: tf.Tensor, cossim_pow: float = 2.0
               ) -> tf.Tensor:
    """`dot(a, b) * max(cos(a, b), 0.1) ** cossim_pow` per sample: the dot product rewards a
    large activation along `b`, the cosine its alignment with `b` (Olah et al., 2017)."""
    dot = tf.reduce_sum(tensor_a * tensor_b, axis=_non_batch_axes(tensor_a))
    cosine = tf.maximum(cosine_similarity(tensor_a, tensor_b), 0.1)
    return dot * cosine**cossim_pow


def _layer_of(model, layer: LayerRef):
    if not is_graph_model(model):
        raise TypeError(
            "Feature visualization reads layer outputs of a Sequential or functional Keras "
            f"model. Received: model of type {type(model).__name__}"
        )
    target = find_layer(model, layer)
    try:
        target.output  # pylint: disable=pointless-statement
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"Layer {target.name!r} is used more than once or not connected in model "
            f"{model.name!r}, so its output is ambiguous"
        ) from error
    return target


def _layer_shape(layer) -> Tuple[int, ...]:
    shape = tuple(layer.output.shape[1:])
    if any(dim is None for dim in shape):
        raise ValueError(
            f"Layer {layer.name!r} has an output of unknown size {shape}; feature "
            "visualization needs a model with a fixed input size"
        )
    return shape


def _ids(values, name: str, upper: int) -> List[int]:
    listed = [values] if isinstance(values, (int, np.integer)) else list(values)
    if not listed:
        raise ValueError(f"`{name}` must name at least one id. Received: {name}={values!r}")
    for value in listed:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"`{name}` must be an int or a list of ints. Received: {value!r}")
        if not 0 <= value < upper:
            raise ValueError(
                f"`{name}` must be in [0, {upper - 1}] for this layer. Received: {value!r}"
            )
    return [int(value) for value in listed]


def _names(names, default: List[str], name: str) -> List[str]:
    if names is None:
        return default
    names = [names] if isinstance(names, str) else list(names)
    if len(names) != len(default):
        raise ValueError(
            f"`{name}` must give one name per id ({len(default)}). Received: {name}={names!r}"
        )
    return [str(n) for n in names]


class Objective:
    """A feature visualization objective: a weighted sum of terms, each over one layer.

    Build objectives with the factories :meth:`layer`, :meth:`channel`, :meth:`neuron` and
    :meth:`direction`, and combine them with `+`, `-` and `*` (each returns a new objective).

    Ref. Olah et al., Feature Visualization (2017),
    https://distill.pub/2017/feature-visualization/

    Parameters
    ----------
    model
        The Sequential or functional Keras model whose layers are read.
    layers
        One layer per term.
    masks
        Per term, an array `(M, *layer_shape)` of the M masks (one per id).
    funcs
        Per term, `f(layer_output, masks) -> (N,)`.
    multipliers
        Per term, a float.
    names
        Per term, the M names of its ids.

    Notes
    -----
    Xplique's `+`, `-`, `*` mutate their operands, and its combined loss multiplies earlier
    terms again by later multipliers (`loss += f_i; loss *= m_i`). Here operands never change
    and the loss is the plain weighted sum `sum_i m_i f_i`, as the notation promises.
    """

    def __init__(self, model, layers, masks, funcs, multipliers, names):
        counts = {len(layers), len(masks), len(funcs), len(multipliers), len(names)}
        if len(counts) != 1:
            raise ValueError("`layers`, `masks`, `funcs`, `multipliers` and `names` must have "
                             "one entry per term")
        self.model = model
        self.layers = tuple(layers)
        self.masks = tuple(np.asarray(mask, np.float32) for mask in masks)
        self.funcs = tuple(funcs)
        self.multipliers = tuple(ensure_float(m, "multiplier") for m in multipliers)
        self.names = tuple(tuple(n) for n in names)
        for mask, term_names in zip(self.masks, self.names):
            if len(mask) != len(term_names):
                raise ValueError("Each term needs one name per mask")

    # ----------------------------------------------------------------- algebra (immutable)

    def _replace(self, **changes) -> "Objective":
        fields = dict(model=self.model, layers=self.layers, masks=self.masks, funcs=self.funcs,
                      multipliers=self.multipliers, names=self.names)
        fields.update(changes)
        return Objective(**fields)

    def __add__(self, other: "Objective") -> "Objective":
        if not isinstance(other, Objective):
            return NotImplemented
        if other.model is not self.model:
            raise ValueError("Only objectives on the same model can be combined")
        return Objective(self.model, self.layers + other.layers, self.masks + other.masks,
                         self.funcs + other.funcs, self.multipliers + other.multipliers,
                         self.names + other.names)

    def __mul__(self, factor: float) -> "Objective":
        if isinstance(factor, bool) or not isinstance(factor, (Real, np.floating, np.integer)):
            return NotImplemented
        return self._replace(multipliers=tuple(m * float(factor) for m in self.multipliers))

    __rmul__ = __mul__

    def __neg__(self) -> "Objective":
        return self * -1.0

    def __sub__(self, other: "Objective") -> "Objective":
        if not isinstance(other, Objective):
            return NotImplemented
        return self + (-other)

    def __len__(self) -> int:
        """Number of images (combinations of ids) the objective optimises."""
        return int(np.prod([len(n) for n in self.names]))

    def __repr__(self) -> str:
        terms = " + ".join(f"{m:g}*{names[0].split('#')[0]}({self.layers[i].name})"
                           for i, (m, names) in enumerate(zip(self.multipliers, self.names)))
        return f"Objective({terms}; {len(self)} images)"

    # ------------------------------------------------------------------------- compile

    def compile(self) -> Tuple[keras.Model, Callable, List[str], Tuple[int, ...]]:
        """Build what the optimisation needs.

        Returns
        -------
        model
            A multi-output `keras.Model` from the model's input to every layer the terms read
            (each layer once).
        objective_function
            `f(model_outputs) -> (N,)`: the value of the objective for each of the N images,
            image `k` scoring the `k`-th combination of ids.
        names
            The N combination names, the ids' names joined by `" & "`.
        input_shape
            `(N, *model input shape)`.
        """
        unique: List = []
        for layer in self.layers:
            if not any(layer is seen for seen in unique):
                unique.append(layer)
        positions = [next(i for i, seen in enumerate(unique) if seen is layer)
                     for layer in self.layers]
        inputs = self.model.inputs[0] if len(self.model.inputs) == 1 else self.model.inputs
        feature_model = keras.Model(inputs, [layer.output for layer in unique],
                                    name=f"{self.model.name}_objective")

        combinations = list(itertools.product(*[range(len(n)) for n in self.names]))
        names = [" & ".join(self.names[t][c] for t, c in enumerate(combo))
                 for combo in combinations]
        masks = [tf.constant(self.masks[t][[combo[t] for combo in combinations]])
                 for t in range(len(self.layers))]
        funcs, multipliers = self.funcs, self.multipliers

        def objective_function(model_outputs):
            if not isinstance(model_outputs, (list, tuple)):
                model_outputs = [model_outputs]
            loss = 0.0
            for term, position in enumerate(positions):
                loss += multipliers[term] * funcs[term](model_outputs[position], masks[term])
            return loss

        input_shape = (len(combinations),) + tuple(self.model.input_shape[1:])
        return feature_model, objective_function, names, input_shape

    # ----------------------------------------------------------------------- factories

    @staticmethod
    def layer(model, layer: LayerRef, reducer: str = "magnitude", multiplier: float = 1.0,
              name: Optional[str] = None) -> "Objective":
        """The whole layer: `mean(output ** 2)` ("magnitude") or `mean(output)` ("mean")."""
        target = _layer_of(model, layer)
        reducer = ensure_choice(reducer, "reducer", ("magnitude", "mean"))
        power = 2.0 if reducer == "magnitude" else 1.0
        mask = np.ones((1,) + _layer_shape(target), np.float32)

        def layer_func(outputs, masks):
            return tf.reduce_mean((outputs * masks) ** power, axis=_non_batch_axes(outputs))

        names = [name if name is not None else f"Layer#{target.name}"]
        return Objective(model, [target], [mask], [layer_func], [multiplier], [names])

    @staticmethod
    def channel(model, layer: LayerRef, channel_ids: Ids, multiplier: float = 1.0,
                names: Optional[Sequence[str]] = None) -> "Objective":
        """Channels of a layer (last axis): the mean of the channel over the other axes (one
        image per id)."""
        target = _layer_of(model, layer)
        shape = _layer_shape(target)
        ids = _ids(channel_ids, "channel_ids", shape[-1])
        masks = np.zeros((len(ids),) + shape, np.float32)
        for row, channel in enumerate(ids):
            masks[row, ..., channel] = 1.0

        def channel_func(outputs, masks):
            return tf.reduce_mean(outputs * masks, axis=_non_batch_axes(outputs))

        default = [f"Channel#{target.name}#{channel}" for channel in ids]
        return Objective(model, [target], [masks], [channel_func], [multiplier],
                         [_names(names, default, "names")])

    @staticmethod
    def neuron(model, layer: LayerRef, neurons_ids: Ids, multiplier: float = 1.0,
               names: Optional[Sequence[str]] = None) -> "Objective":
        """Single units of a layer, by flat index over the layer's non-batch shape."""
        target = _layer_of(model, layer)
        shape = _layer_shape(target)
        size = int(np.prod(shape))
        ids = _ids(neurons_ids, "neurons_ids", size)
        masks = np.zeros((len(ids), size), np.float32)
        masks[np.arange(len(ids)), ids] = 1.0
        masks = masks.reshape((len(ids),) + shape)

        def neuron_func(outputs, masks):
            return tf.reduce_sum(outputs * masks, axis=_non_batch_axes(outputs))

        default = [f"Neuron#{target.name}#{neuron}" for neuron in ids]
        return Objective(model, [target], [masks], [neuron_func], [multiplier],
                         [_names(names, default, "names")])

    @staticmethod
    def direction(model, layer: LayerRef, vectors, multiplier: float = 1.0,
                  cossim_pow: float = 2.0, names: Optional[Sequence[str]] = None
                  ) -> "Objective":
        """Directions of the layer's activation space: `dot(a, v) * max(cos(a, v), 0.1) **
        cossim_pow` for each vector `v` (one vector of the layer's shape, or a list)."""
        target = _layer_of(model, layer)
        shape = _layer_shape(target)
        cossim_pow = ensure_float(cossim_pow, "cossim_pow")
        array = np.asarray(vectors, np.float32)
        if array.shape == shape:
            array = array[None]
        if array.shape[1:] != shape or len(array) == 0:
            raise ValueError(
                f"`vectors` must be one array of the layer's shape {shape} or a list of them. "
                f"Received: an array of shape {np.shape(vectors)}"
            )

        def direction_func(outputs, masks):
            return dot_cossim(outputs, masks, cossim_pow)

        default = [f"Direction#{target.name}#{index}" for index in range(len(array))]
        return Objective(model, [target], [array], [direction_func], [multiplier],
                         [_names(names, default, "names")])
