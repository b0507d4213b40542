"""Run a PyTorch model as a Keras model: forward and input gradients come from torch.

The torch forward runs inside `tf.py_function`, and its gradient is a `tf.custom_gradient`
whose backward calls `torch.autograd.grad`. Both are ordinary graph ops, so the wrapper works in
eager code and inside compiled `tf.function` kernels alike, without switching TensorFlow to
eager mode.
"""

from typing import Dict, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

_LAYER_LEVEL = (
    "A TorchWrapper has no Keras layers: layer-level options and methods (`output_layer`, "
    "GradCAM, GradCAM++, guided backpropagation, DeconvNet, ...) do not work on torch models. "
    "Use input-gradient or black-box methods, or wrap the part of the torch model you want "
    "to explain (e.g. up to the layer) in its own TorchWrapper"
)


def _import_torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "TorchWrapper needs PyTorch, which is not installed. Install the `torch` extra: "
            "`pip install \"xplique[torch]\"`"
        ) from error
    return torch


class _TorchRunner:
    """Moves batches between TensorFlow (channels last) and the torch module, both ways.

    A plain object (not tracked by Keras) holding the module, its device, dtype (that of its
    parameters) and layout, and the per-sample output shapes found so far.
    """

    def __init__(self, torch, module, device, channel_first: bool):
        self.torch = torch
        self.module = module
        self.device = device
        self.channel_first = channel_first
        parameter = next(iter(module.parameters()), None)
        floating = parameter is not None and parameter.dtype.is_floating_point
        self.dtype = parameter.dtype if floating else torch.float32
        self.output_shapes: Dict[Tuple[int, ...], Tuple[int, ...]] = {}

    def check_eval(self):
        if any(module.training for module in self.module.modules()):
            raise ValueError(
                "`torch_model` must be in evaluation mode, so that dropout and batch "
                "normalisation behave as at inference. Call `torch_model.eval()` first"
            )

    def _layout(self, batch):
        """Channels-last torch tensor -> the layout the module expects."""
        if self.channel_first and batch.dim() >= 3:
            return batch.movedim(-1, 1)
        return batch

    def _from_numpy(self, array: np.ndarray, requires_grad: bool = False):
        tensor = self.torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        tensor = tensor.to(self.device, self.dtype)
        return tensor.requires_grad_(True) if requires_grad else tensor

    def _run(self, batch):
        outputs = self.module(self._layout(batch))
        if not isinstance(outputs, self.torch.Tensor):
            raise TypeError(
                "The torch model must return one tensor. Received a "
                f"{type(outputs).__name__}; wrap it in a module that returns one tensor"
            )
        return outputs

    def forward(self, inputs: tf.Tensor) -> np.ndarray:
        self.check_eval()  # also inside compiled kernels, where `call` ran only once
        with self.torch.no_grad():
            outputs = self._run(self._from_numpy(inputs.numpy()))
        return outputs.detach().cpu().numpy().astype(np.float32, copy=False)

    def backward(self, inputs: tf.Tensor, upstream: tf.Tensor) -> np.ndarray:
        leaf = self._from_numpy(inputs.numpy(), requires_grad=True)
        with self.torch.enable_grad():
            outputs = self._run(leaf)
            upstream = self._from_numpy(upstream.numpy()).to(dtype=outputs.dtype)
            (gradient,) = self.torch.autograd.grad(
                outputs, leaf, grad_outputs=upstream, allow_unused=True
            )
        if gradient is None:
            return np.zeros(inputs.shape, np.float32)
        return gradient.detach().cpu().numpy().astype(np.float32, copy=False)

    def output_shape(self, sample_shape: Tuple[int, ...]) -> Tuple[int, ...]:
        """Per-sample output shape for a per-sample input shape (one probe forward, cached)."""
        if sample_shape not in self.output_shapes:
            with self.torch.no_grad():
                probe = self._run(self._from_numpy(np.zeros((1,) + sample_shape, np.float32)))
            self.output_shapes[sample_shape] = tuple(probe.shape[1:])
        return self.output_shapes[sample_shape]


class TorchWrapper(keras.Model):
    """A Keras model whose forward pass and input gradients come from a PyTorch module.

    Use it wherever a Keras model goes: call it on tensors, in `tf.function`s, or give it to
    attribution methods and metrics. Inputs stay channels-last, `(N, H, W, C)` images or
    `(N, T, W)` time series, as everywhere in xplique; they are moved to channels-first for
    the module when `is_channel_first`. Outputs are float32 and passed through as the module
    returns them (a segmentation module returning `(N, C, H, W)` should be wrapped in a module
    that permutes them to `(N, H, W, C)`).

    Parameters
    ----------
    torch_model
        A `torch.nn.Module` in evaluation mode (`torch_model.eval()`), returning one tensor.
        It is never modified.
    device
        Device the module's parameters live on (e.g. "cpu", "cuda:0"); inputs are sent there.
    is_channel_first
        Whether the module expects channels-first inputs. None infers it: True when the module
        contains a convolution (`nn.Conv1d/2d/3d` or a transposed one), False otherwise.

    Notes
    -----
    - The forward pass runs under `torch.no_grad`; a gradient runs the torch forward again with
      autograd enabled, then `torch.autograd.grad` (one extra torch forward per gradient, and
      no autograd graph kept between calls). Second-order gradients are not supported.
    - Unlike Xplique's wrapper, TensorFlow is never switched to eager mode: the torch calls are
      `tf.py_function` ops, so compiled kernels keep running as graphs.
    - No Keras layers: `output_layer` and layer-level methods (GradCAM, GradCAM++, guided
      backpropagation, DeconvNet) raise a TypeError saying so. The wrapper cannot be saved
      as a Keras model or compiled with XLA.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2)).eval()
    >>> TorchWrapper(net, "cpu")(np.ones((4, 3), "float32")).shape
    TensorShape([4, 2])
    """

    def __init__(self, torch_model, device, is_channel_first: Optional[bool] = None):
        torch = _import_torch()
        if not isinstance(torch_model, torch.nn.Module):
            raise TypeError(
                "`torch_model` must be a torch.nn.Module. "
                f"Received: {type(torch_model).__name__}"
            )
        try:
            device = torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise ValueError(
                f"`device` must name a torch device such as 'cpu' or 'cuda:0'. "
                f"Received: device={device!r}"
            ) from error
        for parameter in torch_model.parameters():
            if parameter.device != device:
                raise ValueError(
                    f"`torch_model` has parameters on {parameter.device} but device={device}. "
                    "Move the module with `torch_model.to(device)` or pass its device"
                )
            break
        if is_channel_first is None:
            convolutions = (
                torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d,
                torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d,
            )
            is_channel_first = any(isinstance(m, convolutions) for m in torch_model.modules())
        elif not isinstance(is_channel_first, bool):
            raise TypeError(
                "`is_channel_first` must be None or a bool. "
                f"Received: is_channel_first={is_channel_first!r}"
            )
        super().__init__(name="torch_wrapper")
        self._runner = _TorchRunner(torch, torch_model, device, is_channel_first)
        self._runner.check_eval()

    @property
    def torch_model(self):
        """The wrapped torch module."""
        return self._runner.module

    @property
    def device(self):
        """The torch device inputs are sent to."""
        return self._runner.device

    @property
    def is_channel_first(self) -> bool:
        """Whether inputs are moved to channels-first for the module."""
        return self._runner.channel_first

    @property
    def layers(self):
        raise TypeError(_LAYER_LEVEL)

    def get_layer(self, name=None, index=None):
        raise TypeError(_LAYER_LEVEL)

    def call(self, inputs, training=None):
        """Run the torch module on channels-last `inputs`; `training` is ignored (eval mode)."""
        runner = self._runner
        runner.check_eval()
        inputs = tf.cast(inputs, tf.float32)
        sample_shape = tuple(inputs.shape[1:]) if inputs.shape.rank is not None else None
        output_shape = None
        if sample_shape is not None and all(size is not None for size in sample_shape):
            output_shape = (inputs.shape[0],) + runner.output_shape(sample_shape)

        @tf.custom_gradient
        def forward(x):
            outputs = tf.py_function(runner.forward, [x], tf.float32)
            if output_shape is not None:
                outputs.set_shape(output_shape)

            def gradient(upstream):
                grads = tf.py_function(runner.backward, [x, upstream], tf.float32)
                grads.set_shape(x.shape)
                return grads

            return outputs, gradient

        return forward(inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._runner.output_shape(tuple(input_shape[1:]))
