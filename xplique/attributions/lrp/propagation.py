"""The relevance engine shared by LRP and DeepLIFT: one forward pass, one backward pass.

A Sequential or functional Keras model is read once into a list of nodes in topological order
(:func:`~xplique.attributions.lrp.graph.build_graph`), each of one kind (linear, route, reshape,
pass) that decides how relevance crosses it: the kinds are listed in
:mod:`xplique.attributions.lrp.graph`.

:meth:`Propagation.relevance` runs the model forward, starts from the relevance of the scored
output (`output * d score / d output`) and walks the nodes backwards, summing the relevance of
tensors used by several layers (skip connections). With a `reference` input (DeepLIFT) it also
runs the reference forward and hands the rules both activations.
"""

import dataclasses
from typing import Callable, Dict, List, Optional

import keras
import tensorflow as tf

from xplique.attributions.lrp.canonizers import folded_weights
from xplique.attributions.lrp.composites import ensure_composite
from xplique.attributions.lrp.graph import (
    INPUT,
    LINEAR,
    PASS,
    RESHAPE,
    Node,
    _is_plain_relu,
    _is_relu,
    build_graph,
    nonnegative_outputs,
)
from xplique.attributions.lrp.products import Product, add, materialize
from xplique.attributions.lrp.rules import Rule
from xplique.commons.model_surgery import truncate_at

L = keras.layers


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
