"""LRP against zennit on a PyTorch twin of a Keras CNN (same weights): map agreement and speed.

Run by hand (`python benchmarks/lrp_zennit.py`), never by the tests. zennit is optional:
`pip install --no-deps zennit` (its package imports torchvision only for its ResNet canonizers,
which benchmarks/torch_twins.py stubs out, so torchvision and a matching torch build are not
needed). The twin (torch_twins.twin) permutes to NHWC before flattening so that its Dense
weights are the Keras ones. Timings are for one call on 64 images after a warm-up call; on a
shared CPU they are provisional.
"""

import time

import keras
import numpy as np
import torch
from torch_twins import check_twin, import_zennit, to_nchw, twin

from xplique.attributions import LRP
from xplique.attributions.lrp import EpsilonAlpha2Beta1, EpsilonGammaBox, EpsilonPlus

L = keras.layers
N = 64


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


def main():
    composites, Gradient = import_zennit()  # noqa: N806
    model = keras_model()
    torch_model = twin(model)
    images = np.random.default_rng(0).uniform(0, 1, (N, 16, 16, 3)).astype("float32")
    labels = np.argmax(model(images).numpy(), 1)
    batch = to_nchw(images)
    check_twin(model, torch_model, images)
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
        with Gradient(model=torch_model, composite=theirs) as attributor:
            attributor(batch[:32], onehot[:32])
            start = time.perf_counter()
            parts = []
            for i in range(0, N, 32):
                chunk = batch[i:i + 32]
                parts.append(attributor(chunk, onehot[i:i + 32] * torch_model(chunk).detach())[1])
            zennit_time = time.perf_counter() - start
        reference = torch.cat(parts).numpy().transpose(0, 2, 3, 1)
        corr = [np.corrcoef(mine[i].ravel(), reference[i].ravel())[0, 1] for i in range(N)]
        error = np.abs(mine - reference).max() / np.abs(reference).max()
        print(f"{name:20s} correlation min {min(corr):.5f} mean {np.mean(corr):.5f}  "
              f"max|diff|/max|R| {error:.1e}  ours {ours_time * 1e3 / N:.2f} ms/image  "
              f"zennit {zennit_time * 1e3 / N:.2f} ms/image")


if __name__ == "__main__":
    main()
