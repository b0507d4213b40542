"""The relevance engine shared by LRP and DeepLIFT: one forward pass, one backward pass.

A Sequential or functional Keras model is read once into a list of nodes in topological order
(:func:`build_graph`). Each node is of one kind, which decides how relevance crosses it:

- **linear** (Dense, Conv1D/2D/3D, DepthwiseConv1D/2D, and the weight-free average pools,
  Add and Average): its :class:`~xplique.attributions.lrp.rules.Rule` (from the composite);
- **route** (max pools): to the winning input, winner-take-all (the gradient of the max);
- **reshape** (Flatten, Reshape, Permute, padding, cropping, nearest up-sampling, Concatenate):
  rearranged as the values were (the vector-Jacobian product of the layer);
- **pass** (activations, dropout, folded batch norms, the activation fused in a layer):
  unchanged.

:meth:`Propagation.relevance` runs the model forward, starts from the relevance of the scored
output (`output * d score / d output`) and walks the nodes backwards, summing the relevance of
tensors used by several layers (skip connections). With a `reference` input (DeepLIFT) it also
runs the reference forward and hands the rules both activations.
"""

import dataclasses
from typing import Callable, Dict, List, Optional

import keras
import tensorflow as tf

from xplique.attributions.lrp.canonizers import fold_batch_norms, folded_weights
from xplique.attributions.lrp.composites import ensure_composite
from xplique.attributions.lrp.products import Product, add, materialize
from xplique.attributions.lrp.rules import PassRule, Rule
from xplique.commons.model_surgery import is_graph_model, truncate_at

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


@dataclasses.dataclass
class Record:
    """What one forward pass leaves for the backward pass: every node's inputs, pre-activation
    output (linear nodes) and output, and each weighted node's (folded) weights."""

    inputs: Dict[int, List[tf.Tensor]]
    linear: Dict[int, tf.Tensor]
    outputs: Dict[int, tf.Tensor]
    weights: Dict[int, tuple]
    #: For a linear node, the tensors that are exactly `relu(z)` of its pre-activation `z`
    #: (its fused ReLU's output, or a ReLU layer's applied to its output).
    rectified: Dict[int, List[tf.Tensor]] = dataclasses.field(default_factory=dict)


class LinearCall:
    """A linear layer as one forward pass ran it: what a rule sees.

    Attributes
    ----------
    name
        The layer's name.
    inputs
        Its input tensors (a list; Add has several).
    outputs
        Its output before the fused activation (`z = W x + b`; batch norm folded in).
    kernel, bias
        The weights used (None for weight-free layers, bias None when unused).
    reference_inputs, reference_outputs
        The same at the reference input (DeepLIFT; batch of one), None otherwise.
    rectified_outputs
        The tensors of the forward pass that are exactly `relu(outputs)`.
    nonnegative_inputs
        For each input, whether the graph guarantees it is >= 0 (it comes out of a ReLU, maybe
        through max pools, reshapes or sums of such values): rules may skip work for it.
    """

    def __init__(self, node: Node, record: Record, index: int, reference: Optional[Record],
                 nonnegative_inputs: Optional[List[bool]] = None):
        self.node = node
        self.nonnegative_inputs = (list(nonnegative_inputs) if nonnegative_inputs is not None
                                   else [False] * len(node.parents))
        self.name = node.name
        self.inputs = record.inputs[index]
        self.outputs = record.linear[index]
        self.kernel, self.bias = record.weights.get(index, (None, None))
        self.reference_inputs = None if reference is None else reference.inputs[index]
        self.reference_outputs = None if reference is None else reference.linear[index]
        self.rectified_outputs = record.rectified.get(index, [])

    def apply(self, inputs: List[tf.Tensor], kernel=None, bias=None) -> tf.Tensor:
        """The layer's linear part on `inputs` with `kernel` and `bias` (weighted layers), or the
        weight-free layer itself."""
        return linear_apply(self.node, inputs, kernel, bias)


def linear_apply(node: Node, inputs: List[tf.Tensor], kernel, bias) -> tf.Tensor:
    """The linear part of `node`'s layer, `W x + b`, on `inputs` with the given weights."""
    layer = node.layer
    if not node.weighted:
        return layer(inputs if len(inputs) > 1 else inputs[0])
    (x,) = inputs
    if isinstance(layer, L.Dense):
        z = tf.matmul(x, kernel) if x.shape.rank == 2 else keras.ops.matmul(x, kernel)
        return z if bias is None else z + bias
    if isinstance(layer, (L.DepthwiseConv1D, L.DepthwiseConv2D)):
        z = keras.ops.depthwise_conv(x, kernel, strides=layer.strides, padding=layer.padding,
                                     dilation_rate=layer.dilation_rate,
                                     data_format=layer.data_format)
    else:
        padding = layer.padding
        if padding == "causal":
            x = keras.ops.pad(x, layer._compute_causal_padding())  # pylint: disable=W0212
            padding = "valid"
        z = keras.ops.conv(x, kernel, strides=list(layer.strides), padding=padding,
                           dilation_rate=layer.dilation_rate, data_format=layer.data_format)
    if bias is None:
        return z
    if layer.data_format == "channels_first":
        bias = tf.reshape(bias, (1, -1) + (1,) * (z.shape.rank - 2))
    return z + bias


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


class Propagation:
    """Forward and backward passes of relevance over one model's graph.

    Parameters
    ----------
    model
        Sequential or functional Keras model (one input, one output), never modified.
    composite
        A :class:`~xplique.attributions.lrp.composites.Composite` giving each linear layer its
        rule.
    """

    def __init__(self, model, composite):
        self.model = model
        self.nodes = build_graph(model, composite)
        self.nonnegative = nonnegative_outputs(self.nodes)

    def rules(self) -> Dict[str, Rule]:
        """The rule of each linear layer, by layer name, in graph order."""
        return {node.name: node.rule for node in self.nodes if node.kind == LINEAR}

    def forward(self, inputs: tf.Tensor) -> Record:
        """Run the model on `inputs` (inference mode), keeping what the backward pass needs."""
        record = Record({}, {}, {}, {})
        linear_of: Dict[int, int] = {}  # id of a linear node's output -> the node
        for i, node in enumerate(self.nodes):
            if node.kind == INPUT:
                record.outputs[i] = inputs
                continue
            values = [record.outputs[p] for p in node.parents]
            record.inputs[i] = values
            if node.kind == LINEAR:
                if node.weighted:
                    record.weights[i] = folded_weights(node.layer, node.batch_norm)
                kernel, bias = record.weights.get(i, (None, None))
                z = linear_apply(node, values, kernel, bias)
                record.linear[i] = z
                output = z if node.activation is None else node.activation(z)
                if node.activation is None:
                    linear_of[id(z)] = i
                elif _is_relu(node.activation):
                    record.rectified[i] = [output]
            elif node.folded_into is not None:
                output = values[0]  # the layer before already applied this batch norm
            else:
                output = node.layer(values if len(values) > 1 else values[0], training=False)
                if _is_plain_relu(node.layer) and id(values[0]) in linear_of:
                    record.rectified.setdefault(linear_of[id(values[0])], []).append(output)
            record.outputs[i] = output
        return record

    def backward(self, record: Record, relevance: tf.Tensor,
                 reference: Optional[Record] = None) -> tf.Tensor:
        """Relevance of the input given the relevance of the output, node by node backwards."""
        pending: Dict[int, tf.Tensor] = {len(self.nodes) - 1: relevance}
        for i in range(len(self.nodes) - 1, 0, -1):
            incoming = pending.pop(i, None)
            if incoming is None:
                continue
            node = self.nodes[i]
            for parent, part in zip(node.parents, self._node_backward(i, incoming, record,
                                                                     reference)):
                pending[parent] = part if parent not in pending else add(pending[parent], part)
        if 0 not in pending:
            return tf.zeros_like(record.outputs[0])
        return materialize(pending[0])

    def _node_backward(self, i: int, relevance, record: Record, reference) -> list:
        """Relevance of the inputs of node `i` (tensors or unmultiplied
        :class:`~xplique.attributions.lrp.products.Product`). Max pools give it to the winners
        at the input, with or without a reference (DeepLIFT), which conserves it."""
        node = self.nodes[i]
        if node.kind == PASS:
            return [relevance]
        if node.kind == LINEAR:
            call = LinearCall(node, record, i, reference,
                              [self.nonnegative[p] for p in node.parents])
            return node.rule._engine_relevance(call, relevance)  # pylint: disable=W0212
        inputs = record.inputs[i]
        output = record.outputs[i]
        # A product `x_out * g` moved by a layer that only moves values is `x_in * (moved g)`
        # (a max pool's winner is the value it outputs). With a reference (DeepLIFT) a max
        # pool's winners at the input and at the reference differ: multiplied first.
        movable = (isinstance(relevance, Product) and relevance.factor is output
                   and (relevance.reference is None
                        or (node.kind == RESHAPE and reference is not None
                            and relevance.reference is reference.outputs[i])))
        if not movable:
            return _layer_vjp(node.layer, inputs, materialize(relevance))
        moved = _layer_vjp(node.layer, inputs, relevance.gradient)
        references = ([None] * len(inputs) if relevance.reference is None
                      else reference.inputs[i])
        return [Product(x, g, r) for x, g, r in zip(inputs, moved, references)]

    def relevance(self, inputs: tf.Tensor, targets: tf.Tensor, operator: Callable,
                  reference: Optional[tf.Tensor] = None) -> tf.Tensor:
        """Input relevance of the operator's scores: `R_out = output * d score / d output`
        (with a reference: `(output - reference output) * d score / d output`), propagated back.
        """
        records: List[Record] = []
        with tf.GradientTape() as tape:

            def scored_model(batch, *args, **kwargs):
                record = self.forward(batch)
                tape.watch(record.outputs[len(self.nodes) - 1])
                records.append(record)
                return record.outputs[len(self.nodes) - 1]

            total = tf.reduce_sum(operator(scored_model, inputs, targets))
        if not records:
            raise ValueError("The operator never called the model, so there is nothing to "
                             "propagate")
        record = records[0]
        output = record.outputs[len(self.nodes) - 1]
        seed = tape.gradient(total, output, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        reference_record = None
        if reference is None:
            top = output * seed
        else:
            reference_record = self.forward(reference)
            top = (output - reference_record.outputs[len(self.nodes) - 1]) * seed
        return self.backward(record, top, reference_record)


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


def _layer_vjp(layer, inputs: List[tf.Tensor], upstream: tf.Tensor) -> List[tf.Tensor]:
    """How `layer` rearranges its inputs, applied to `upstream` (its vector-Jacobian product)."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        output = layer(inputs if len(inputs) > 1 else inputs[0], training=False)
    return tape.gradient(output, inputs, output_gradients=upstream,
                         unconnected_gradients=tf.UnconnectedGradients.ZERO)


def inspect_rules(model, composite=None, output_layer=None) -> Dict[str, Rule]:
    """The rule each linear layer of `model` gets from `composite`, by layer name.

    Parameters
    ----------
    model
        Sequential or functional Keras model.
    composite
        As LRP's `composite`: None, a rule, or a Composite.
    output_layer
        As LRP's `output_layer`: only the layers up to it are listed.

    Examples
    --------
    >>> import keras
    >>> from xplique.attributions.lrp import EpsilonPlus
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c"),
    ...                           keras.layers.Flatten(), keras.layers.Dense(3, name="d")])
    >>> inspect_rules(model, EpsilonPlus())
    {'c': ZPlusRule(), 'd': EpsilonRule(epsilon=1e-06)}
    """
    scored = model if output_layer is None else truncate_at(model, output_layer)
    return Propagation(scored, ensure_composite(composite)).rules()
