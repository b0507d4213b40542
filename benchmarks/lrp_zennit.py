"""LRP against zennit on a PyTorch twin of a Keras CNN (same weights): map agreement and speed.

Run by hand (`python benchmarks/lrp_zennit.py`), never by the tests. zennit is optional:
`pip install --no-deps zennit` (its package imports torchvision only for its ResNet canonizers,
which this script stubs out, so torchvision and a matching torch build are not needed). The
twin permutes to NHWC before flattening so that its Dense weights are the Keras ones. Timings
are for one call on 64 images after a warm-up call; on a shared CPU they are provisional.
"""

import sys
import time
import types

import keras
import numpy as np
import torch

from xplique.attributions import LRP
from xplique.attributions.lrp import EpsilonAlpha2Beta1, EpsilonGammaBox, EpsilonPlus

L = keras.layers
N = 64


def _import_zennit():
    stub = types.ModuleType("torchvision.models.resnet")
    stub.Bottleneck = stub.BasicBlock = type("Block", (), {})
    sys.modules.setdefault("torchvision", types.ModuleType("torchvision"))
    sys.modules.setdefault("torchvision.models", types.ModuleType("torchvision.models"))
    sys.modules.setdefault("torchvision.models.resnet", stub)
    from zennit import composites  # pylint: disable=import-outside-toplevel
    from zennit.attribution import Gradient  # pylint: disable=import-outside-toplevel
    return composites, Gradient


def keras_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu", use_bias=False)(inputs)
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = L.Dense(32, activation="relu")(L.Flatten()(x))
    model = keras.Model(inputs, L.Dense(10)(x))
    rng = np.random.default_rng(1)
    for layer in model.layers:  # non-zero biases
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(0, 0.05, layer.bias.shape))
    return model


class Twin(torch.nn.Module):
    """The Keras model in PyTorch (NCHW convolutions, NHWC flatten)."""

    def __init__(self, model):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.c2 = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.c3 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.d1 = torch.nn.Linear(16 * 8 * 8, 32)
        self.d2 = torch.nn.Linear(32, 10)
        self.r1, self.r2, self.r3, self.r4 = (torch.nn.ReLU() for _ in range(4))
        self.pool = torch.nn.MaxPool2d(2)
        convs = [layer for layer in model.layers if isinstance(layer, L.Conv2D)]
        dense = [layer for layer in model.layers if isinstance(layer, L.Dense)]
        with torch.no_grad():
            for mine, theirs in zip([self.c1, self.c2, self.c3], convs):
                mine.weight.copy_(torch.tensor(theirs.kernel.numpy().transpose(3, 2, 0, 1)))
                if theirs.bias is not None:
                    mine.bias.copy_(torch.tensor(theirs.bias.numpy()))
            for mine, theirs in zip([self.d1, self.d2], dense):
                mine.weight.copy_(torch.tensor(theirs.kernel.numpy().T))
                mine.bias.copy_(torch.tensor(theirs.bias.numpy()))

    def forward(self, x):
        x = self.pool(self.r2(self.c2(self.r1(self.c1(x)))))
        x = self.r3(self.c3(x)).permute(0, 2, 3, 1).flatten(1)
        return self.d2(self.r4(self.d1(x)))


def main():
    composites, Gradient = _import_zennit()  # noqa: N806
    model = keras_model()
    twin = Twin(model).eval()
    images = np.random.default_rng(0).uniform(0, 1, (N, 16, 16, 3)).astype("float32")
    labels = np.argmax(model(images).numpy(), 1)
    batch = torch.tensor(images.transpose(0, 3, 1, 2))
    assert np.allclose(twin(batch).detach().numpy(), model(images).numpy(), atol=1e-4)
    onehot = torch.eye(10)[torch.tensor(labels)]
    box = dict(low=torch.zeros_like(batch[:1]), high=torch.ones_like(batch[:1]))
    cases = [
        ("EpsilonPlus", EpsilonPlus(), composites.EpsilonPlus()),
        ("EpsilonAlpha2Beta1", EpsilonAlpha2Beta1(), composites.EpsilonAlpha2Beta1()),
        ("EpsilonGammaBox", EpsilonGammaBox(0.0, 1.0), composites.EpsilonGammaBox(**box)),
    ]
    for name, ours, theirs in cases:
        explainer = LRP(model, ours, reducer=None, batch_size=32)
        explainer(images, labels)
        start = time.perf_counter()
        mine = explainer(images, labels).numpy()
        ours_time = time.perf_counter() - start
        with Gradient(model=twin, composite=theirs) as attributor:
            attributor(batch[:32], onehot[:32])
            start = time.perf_counter()
            parts = []
            for i in range(0, N, 32):
                chunk = batch[i:i + 32]
                parts.append(attributor(chunk, onehot[i:i + 32] * twin(chunk).detach())[1])
            zennit_time = time.perf_counter() - start
        reference = torch.cat(parts).numpy().transpose(0, 2, 3, 1)
        corr = [np.corrcoef(mine[i].ravel(), reference[i].ravel())[0, 1] for i in range(N)]
        error = np.abs(mine - reference).max() / np.abs(reference).max()
        print(f"{name:20s} correlation min {min(corr):.5f} mean {np.mean(corr):.5f}  "
              f"max|diff|/max|R| {error:.1e}  ours {ours_time * 1e3 / N:.2f} ms/image  "
              f"zennit {zennit_time * 1e3 / N:.2f} ms/image")


if __name__ == "__main__":
    main()
