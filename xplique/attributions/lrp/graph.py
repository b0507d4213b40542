"""Reading a Keras model into the engine's graph: a list of nodes in topological order.

:func:`build_graph` walks a Sequential or functional model from its output back to its input
once and gives every layer call a :class:`Node` of one kind, which decides how relevance crosses
it (:mod:`xplique.attributions.lrp.propagation` runs them):

- **linear** (Dense, Conv1D/2D/3D, DepthwiseConv1D/2D, and the weight-free average pools,
  Add and Average): its :class:`~xplique.attributions.lrp.rules.Rule` (from the composite);
- **route** (max pools): to the winning input, winner-take-all (the gradient of the max);
- **reshape** (Flatten, Reshape, Permute, padding, cropping, nearest up-sampling, Concatenate):
  rearranged as the values were (the vector-Jacobian product of the layer);
- **pass** (activations, dropout, folded batch norms, the activation fused in a layer):
  unchanged.

Layers the engine cannot handle are refused here, with the list of supported ones. The graph
also tells which tensors are non-negative whatever the input (:func:`nonnegative_outputs`), so
rules may skip the terms of negative inputs.
"""

import dataclasses
from typing import Callable, Dict, List, Optional

import keras
import tensorflow as tf

from xplique.attributions.lrp.canonizers import fold_batch_norms
from xplique.attributions.lrp.rules import PassRule, Rule
from xplique.commons.model_surgery import is_graph_model

L = keras.layers

#: Layers with a kernel whose relevance a rule decides.
WEIGHTED_LAYERS = (L.Dense, L.Conv1D, L.Conv2D, L.Conv3D, L.DepthwiseConv1D, L.DepthwiseConv2D)
#: Linear layers without weights (relevance split in proportion to the contributions).
WEIGHT_FREE_LAYERS = (
    L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D, L.GlobalAveragePooling1D,
    L.GlobalAveragePooling2D, L.GlobalAveragePooling3D, L.Add, L.Average,
)
ROUTE_LAYERS = (
    L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.GlobalMaxPooling1D, L.GlobalMaxPooling2D,
    L.GlobalMaxPooling3D,
)
RESHAPE_LAYERS = (
    L.Flatten, L.Reshape, L.Permute, L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D,
    L.Cropping1D, L.Cropping2D, L.Cropping3D, L.Concatenate,
)
PASS_LAYERS = (
    L.Activation, L.ReLU, L.LeakyReLU, L.ELU, L.PReLU, L.Softmax, L.Dropout, L.SpatialDropout1D,
    L.SpatialDropout2D, L.SpatialDropout3D, L.GaussianDropout, L.GaussianNoise, L.AlphaDropout,
    L.Identity, L.ActivityRegularization,
)

INPUT, LINEAR, ROUTE, RESHAPE, PASS = "input", "linear", "route", "reshape", "pass"


@dataclasses.dataclass
class Node:
    """One layer call of the graph.

    Attributes
    ----------
    layer
        The Keras layer (the user's, never modified).
    kind
        How relevance crosses it (module docstring).
    parents
        Indices of the nodes whose outputs it reads, in call order.
    rule
        The rule of a linear node (None otherwise).
    activation
        The activation fused in a weighted layer, applied after its linear part (None if linear).
    batch_norm
        The BatchNormalization folded into this weighted layer (its own node becomes a pass).
    folded_into
        For a folded BatchNormalization: the name of the layer that carries it.
    first
        Whether it is a first weighted layer (no weighted layer between it and the input).
    """

    layer: object
    kind: str
    parents: List[int]
    rule: Optional[Rule] = None
    activation: Optional[Callable] = None
    batch_norm: object = None
    folded_into: Optional[str] = None
    first: bool = False

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def weighted(self) -> bool:
        return isinstance(self.layer, WEIGHTED_LAYERS)


def _kind(layer) -> str:
    if isinstance(layer, L.InputLayer):
        return INPUT
    if isinstance(layer, keras.Model):
        raise ValueError(
            f"The engine cannot propagate relevance through layer {layer.name!r} of type "
            f"{type(layer).__name__}: a nested model. Rebuild the model with its layers inline")
    if isinstance(layer, WEIGHTED_LAYERS + WEIGHT_FREE_LAYERS):
        return LINEAR
    if isinstance(layer, ROUTE_LAYERS):
        return ROUTE
    if isinstance(layer, (L.UpSampling1D, L.UpSampling2D, L.UpSampling3D)):
        if getattr(layer, "interpolation", "nearest") != "nearest":
            raise _unsupported(layer, "only nearest up-sampling is supported")
        return RESHAPE
    if isinstance(layer, RESHAPE_LAYERS):
        return RESHAPE
    if isinstance(layer, PASS_LAYERS):
        return PASS
    if isinstance(layer, L.BatchNormalization):
        return PASS  # folded into the layer before it by the canonizer (checked there)
    raise _unsupported(layer)


def _unsupported(layer, reason: str = "") -> ValueError:
    supported = sorted({cls.__name__ for cls in WEIGHTED_LAYERS + WEIGHT_FREE_LAYERS
                        + ROUTE_LAYERS + RESHAPE_LAYERS + PASS_LAYERS}
                       | {"BatchNormalization", "UpSampling1D/2D/3D"})
    detail = f" ({reason})" if reason else ""
    return ValueError(
        f"The engine cannot propagate relevance through layer {layer.name!r} of type "
        f"{type(layer).__name__}{detail}. Supported layers: {', '.join(supported)}")


def _activation(layer) -> Optional[Callable]:
    activation = getattr(layer, "activation", None)
    if activation is None or activation is keras.activations.linear:
        return None
    return activation


def build_graph(model, composite) -> List[Node]:
    """The nodes of `model` (a Sequential or functional Keras model with one input and one
    output) in topological order, input first, with their rules from `composite`.

    Raises a ValueError naming the first layer the engine cannot handle.
    """
    if not is_graph_model(model):
        raise ValueError(
            "The engine needs a Sequential or functional Keras model (its layer graph). "
            f"Received: {type(model).__name__}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            "The engine explains models with one input and one output. Received a model with "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs")
    order: List[tuple] = []
    index: Dict[tuple, int] = {}
    parents_of: Dict[tuple, List[tuple]] = {}
    stack = [(_history_key(model.outputs[0]), False)]
    while stack:
        key, expanded = stack.pop()
        if key in index:
            continue
        operation, node_index = key
        node = operation._inbound_nodes[node_index]  # pylint: disable=protected-access
        parents = [_history_key(t) for t in node.input_tensors]
        if expanded:
            index[key] = len(order)
            order.append(key)
            parents_of[key] = parents
            continue
        stack.append((key, True))
        stack.extend((parent, False) for parent in reversed(parents) if parent not in index)
    nodes: List[Node] = []
    for key in order:
        layer = key[0]
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(
                f"The engine cannot propagate relevance through operation {layer.name!r} of "
                f"type {type(layer).__name__}: only Keras layers are supported")
        kind = _kind(layer)
        activation = _activation(layer) if isinstance(layer, WEIGHTED_LAYERS) else None
        nodes.append(Node(layer, kind, [index[p] for p in parents_of[key]],
                          activation=activation))
    inputs = [i for i, n in enumerate(nodes) if n.kind == INPUT]
    if inputs != [0]:
        raise ValueError("The engine explains models with one input layer")
    fold_batch_norms(nodes)
    _assign_rules(nodes, composite)
    return nodes


def _history_key(tensor) -> tuple:
    history = tensor._keras_history  # pylint: disable=protected-access
    return history.operation, history.node_index


def _assign_rules(nodes: List[Node], composite) -> None:
    after_weighted = [False] * len(nodes)
    for i, node in enumerate(nodes):
        upstream = any(after_weighted[p] or nodes[p].weighted for p in node.parents)
        after_weighted[i] = upstream
        if node.kind != LINEAR:
            continue
        node.first = node.weighted and not upstream
        rule = composite.rule_for(node.layer, first=node.first, weighted=node.weighted)
        if rule.needs_weights and not node.weighted:
            raise ValueError(
                f"{rule!r} changes weights, but layer {node.name!r} of type "
                f"{type(node.layer).__name__} has none: give it a ZeroRule, EpsilonRule or "
                "PassRule in the composite")
        if isinstance(rule, PassRule):
            _check_pass(node, nodes)
        node.rule = rule


def _check_pass(node: Node, nodes: List[Node]) -> None:
    try:
        same = (len(node.parents) == 1 and tuple(node.layer.input.shape)
                == tuple(node.layer.output.shape))
    except (AttributeError, ValueError):
        same = len(node.parents) == 1
    if not same:
        raise ValueError(
            f"PassRule needs a layer with one input of its output's shape. Received layer "
            f"{node.name!r} of type {type(node.layer).__name__}")


def _is_relu(activation) -> bool:
    return activation is keras.activations.relu or activation is tf.nn.relu


def _is_plain_relu(layer) -> bool:
    """Whether `layer` computes exactly `max(x, 0)`."""
    if isinstance(layer, L.Activation):
        return _is_relu(layer.activation)
    if not isinstance(layer, L.ReLU):
        return False
    return (getattr(layer, "max_value", None) is None
            and float(getattr(layer, "negative_slope", 0.0) or 0.0) == 0.0
            and float(getattr(layer, "threshold", 0.0) or 0.0) == 0.0)


def nonnegative_outputs(nodes: List[Node]) -> List[bool]:
    """For each node, whether its output is >= 0 for every input (a sound, conservative
    answer): ReLU outputs, and max pools, average pools, sums, reshapes, paddings, inference
    dropout and folded batch norms of them."""
    result: List[bool] = []
    for node in nodes:
        layer = node.layer
        from_parents = bool(node.parents) and all(result[p] for p in node.parents)
        if node.kind == INPUT:
            value = False
        elif node.kind == LINEAR and node.weighted:
            value = node.activation is not None and _is_relu(node.activation)
        elif node.kind in (LINEAR, ROUTE, RESHAPE):
            value = from_parents
        elif isinstance(layer, L.ReLU):
            value = (float(getattr(layer, "negative_slope", 0.0) or 0.0) == 0.0
                     and float(getattr(layer, "threshold", 0.0) or 0.0) >= 0.0) or from_parents
        elif isinstance(layer, L.Activation):
            value = _is_relu(layer.activation) or from_parents
        elif isinstance(layer, (L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D,
                                L.SpatialDropout3D, L.GaussianDropout, L.GaussianNoise,
                                L.AlphaDropout, L.Identity, L.ActivityRegularization,
                                L.BatchNormalization)):
            # identities in inference; a folded batch norm passes the layer's output
            value = from_parents and (not isinstance(layer, L.BatchNormalization)
                                      or node.folded_into is not None)
        else:
            value = False
        result.append(bool(value))
    return result
