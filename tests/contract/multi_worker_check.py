"""One worker of a two-process `MultiWorkerMirroredStrategy` cluster on localhost.

`python -m tests.contract.multi_worker_check OUT.npz` with `TF_CONFIG` set (the test sets it
for two workers) runs a method of each kernel kind and two metrics, once on this process alone
and once on the cluster's strategy, and saves both results: every worker must end with the
single-device results (the replicas' parts are gathered across the workers).
"""

import sys

import numpy as np
import tensorflow as tf

from tests.conftest import make_inputs, make_model, make_targets

N, BATCH_SIZE = 5, 3


def _subjects(model, x, y):
    from xplique.attributions import GradCAM, Rise, Saliency, SmoothGrad  # pylint: disable=C0415
    from xplique.metrics import Deletion, MuFidelity  # pylint: disable=C0415

    phi = np.random.default_rng(2).normal(size=x.shape[:-1]).astype("float32")
    return {
        "Saliency": lambda **o: Saliency(model, batch_size=BATCH_SIZE, **o)(x, y),
        "SmoothGrad": lambda **o: SmoothGrad(model, batch_size=BATCH_SIZE, nb_samples=4, seed=1,
                                             **o)(x, y),
        "Rise": lambda **o: Rise(model, batch_size=BATCH_SIZE, nb_samples=12, grid_size=3,
                                 seed=2, **o)(x, y),
        "GradCAM": lambda **o: GradCAM(model, batch_size=BATCH_SIZE, **o)(x, y),
        "Deletion": lambda **o: Deletion(model, x, y, batch_size=BATCH_SIZE, steps=3, **o)(phi),
        "MuFidelity": lambda **o: MuFidelity(model, x, y, batch_size=BATCH_SIZE, nb_samples=4,
                                             grid_size=2, seed=3, **o)(phi),
    }


def main(path: str):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
    model = make_model("images")
    x, y = make_inputs("images", N), make_targets(N)
    results = {"replicas": np.asarray(strategy.num_replicas_in_sync)}
    for name, run in _subjects(model, x, y).items():
        results[f"{name}/single"] = np.asarray(run())
        results[f"{name}/distributed"] = np.asarray(run(strategy=strategy))
    np.savez(path, **results)


if __name__ == "__main__":
    main(sys.argv[1])
