"""PyTorch twins of the benchmark Keras CNNs (same weights), shared by the benchmarks that
compare us with PyTorch libraries (`lrp_zennit.py`, `compare_peers.py`). Run by hand only.

:func:`twin` rebuilds a Keras model whose layers form a chain (Conv2D, MaxPooling2D, Flatten,
Dense, ReLU; relu or linear activations) as a `torch.nn.Sequential` with the Keras weights:
convolution kernels are transposed to PyTorch's (out, in, h, w) layout, and the twin permutes
its NCHW activations to NHWC before flattening, so that the Dense kernels are used as they are.
Every activation is its own `torch.nn.ReLU` module, as zennit's rules expect.
:func:`import_zennit` imports zennit without torchvision (zennit imports it only for its ResNet
canonizers, which these chains do not need).
"""

import sys
import types

import numpy as np
import torch


def import_zennit():
    """zennit's `composites` module and its `Gradient` attributor, torchvision stubbed out."""
    stub_torchvision()
    from zennit import composites  # pylint: disable=import-outside-toplevel
    from zennit.attribution import Gradient  # pylint: disable=import-outside-toplevel
    return composites, Gradient


def stub_torchvision() -> None:
    """Register empty `torchvision` modules (only where torchvision is not installed) so that
    zennit, and Quantus through it, import on a torch build without a matching torchvision."""
    try:
        import torchvision  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        return
    except ImportError:
        pass
    resnet = types.ModuleType("torchvision.models.resnet")
    resnet.Bottleneck = resnet.BasicBlock = type("Block", (), {})
    sys.modules.setdefault("torchvision", types.ModuleType("torchvision"))
    sys.modules.setdefault("torchvision.models", types.ModuleType("torchvision.models"))
    sys.modules.setdefault("torchvision.models.resnet", resnet)


class NHWCFlatten(torch.nn.Module):
    """Keras' Flatten of channels-last activations, applied to NCHW tensors."""

    def forward(self, x):  # pylint: disable=arguments-differ
        return x.permute(0, 2, 3, 1).flatten(1)


def _activation(layer):
    name = getattr(layer.activation, "__name__", str(layer.activation))
    if name == "relu":
        return [torch.nn.ReLU()]
    if name == "linear":
        return []
    raise TypeError(f"twin: activation of layer {layer.name!r} must be relu or linear, "
                    f"got {name!r}")


def _padding(layer):
    if layer.padding == "valid":
        return 0
    if any(k % 2 == 0 for k in layer.kernel_size) or any(s != 1 for s in layer.strides):
        raise TypeError(f"twin: 'same' padding of layer {layer.name!r} needs odd kernels and "
                        f"stride 1, got kernel {layer.kernel_size}, strides {layer.strides}")
    return tuple(k // 2 for k in layer.kernel_size)


def _conv(layer):
    kernel = layer.kernel.numpy()  # (h, w, in, out)
    conv = torch.nn.Conv2d(kernel.shape[2], kernel.shape[3], tuple(layer.kernel_size),
                           stride=tuple(layer.strides), padding=_padding(layer),
                           bias=layer.use_bias)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(kernel.transpose(3, 2, 0, 1)))
        if layer.use_bias:
            conv.bias.copy_(torch.tensor(layer.bias.numpy()))
    return [conv] + _activation(layer)


def _dense(layer):
    kernel = layer.kernel.numpy()  # (in, out)
    dense = torch.nn.Linear(kernel.shape[0], kernel.shape[1], bias=layer.use_bias)
    with torch.no_grad():
        dense.weight.copy_(torch.tensor(kernel.T))
        if layer.use_bias:
            dense.bias.copy_(torch.tensor(layer.bias.numpy()))
    return [dense] + _activation(layer)


def twin(model) -> torch.nn.Sequential:
    """The chain Keras model `model` as a `torch.nn.Sequential` (eval mode) with its weights.

    Raises TypeError for a layer it cannot translate (residual blocks, batch norm, ...)."""
    import keras  # pylint: disable=import-outside-toplevel

    layers = keras.layers
    modules = []
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if isinstance(layer, layers.Conv2D):
            modules += _conv(layer)
        elif isinstance(layer, layers.Dense):
            modules += _dense(layer)
        elif isinstance(layer, layers.MaxPooling2D):
            if layer.padding != "valid":
                raise TypeError(f"twin: pooling {layer.name!r} must use 'valid' padding")
            modules.append(torch.nn.MaxPool2d(tuple(layer.pool_size), tuple(layer.strides)))
        elif isinstance(layer, layers.Flatten):
            modules.append(NHWCFlatten())
        elif isinstance(layer, layers.ReLU):
            modules.append(torch.nn.ReLU())
        else:
            raise TypeError(f"twin: cannot translate layer {layer.name!r} "
                            f"({type(layer).__name__}); only chains of Conv2D, MaxPooling2D, "
                            "Flatten, Dense and ReLU")
    return torch.nn.Sequential(*modules).eval()


def to_nchw(images: np.ndarray) -> torch.Tensor:
    """NHWC numpy images as an NCHW float tensor."""
    return torch.tensor(np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2)))


def check_twin(model, torch_model, images: np.ndarray, atol: float = 1e-4) -> float:
    """Largest absolute difference of the two models' outputs on `images`; ValueError above
    `atol`."""
    with torch.no_grad():
        theirs = torch_model(to_nchw(images)).numpy()
    ours = np.asarray(model(images, training=False))
    error = float(np.abs(theirs - ours).max())
    if error > atol:
        raise ValueError(f"twin: outputs differ from the Keras model's by {error:.2e} "
                         f"(expected at most {atol:.0e})")
    return error
