"""The measuring side of compare_peers.py: in a fresh process, one library's methods on the
seeded `small_cnn` and images, timed, their outputs saved for the parent to compare.

compare_peers.py runs `python peer_workers.py --worker <config as JSON>` once per library
(workers.py), with that library's folder first on PYTHONPATH (the repository root for ours).
One function per library: `_ours` (our attributions, metrics and `optimize`, whose Saliency
maps it also saves for Quantus), `_tfkerasvis` (on the Keras model itself), and `_captum`,
`_zennit`, `_quantus` (on the PyTorch twin of the model, torch_twins.py). Each calls
`run(name, fn)` per method: one warm-up call, the median of `config["repeats"]` calls per
image, the output kept under the method's name (a method that raises is recorded as
failed); the outputs go to `<maps_dir>/<library>.npz`.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from measure import call_seconds, make_data  # noqa: E402
from models import MODELS  # noqa: E402
from report import one_line  # noqa: E402
from workers import serve  # noqa: E402

RESULT = "PEERS-RESULT "
MODEL = "small_cnn"
CONV = "last_conv"


def _timed(fn: Callable, repeats: int, n: int) -> Dict:
    """One warm-up call (its time: `first_s`), then the median of `repeats` calls per image,
    and the warm-up call's output (as numpy)."""
    start = time.perf_counter()
    out = np.asarray(fn())
    first = time.perf_counter() - start
    times = call_seconds(lambda: np.asarray(fn()), repeats)
    return dict(time_ms=1000 * statistics.median(times) / n, first_s=first), out


def _setup(config):
    model = MODELS[MODEL][0]()
    images, labels = make_data(MODEL, config["inputs"])
    return model, images, labels


def _ours(config, model, images, labels, run):
    import tensorflow as tf

    from xplique import attributions as A
    from xplique import metrics as M
    from xplique.attributions.lrp import EpsilonGammaBox, EpsilonPlus
    from xplique.features_visualizations import Objective, optimize

    n, p = len(images), config["patch"]
    explainers = {
        "Saliency": A.Saliency(model),
        "SmoothGrad": A.SmoothGrad(model, nb_samples=config["samples"], noise=0.2, seed=0),
        "GradCAM": A.GradCAM(model, conv_layer=CONV),
        "GradCAMPP": A.GradCAMPP(model, conv_layer=CONV),
        "ScoreCAM": A.ScoreCAM(model, conv_layer=CONV),
        "LayerCAM": A.LayerCAM(model, conv_layer=CONV),
        "IntegratedGradients": A.IntegratedGradients(model, steps=config["steps"]),
        "Occlusion": A.Occlusion(model, patch_size=p, patch_stride=p),
        "LRP-EpsilonPlus": A.LRP(model, EpsilonPlus()),
        "LRP-EpsilonGammaBox": A.LRP(model, EpsilonGammaBox(0.0, 1.0)),
    }
    for name, explainer in explainers.items():
        run(name, lambda e=explainer: e(images, labels))
    saliency = np.asarray(explainers["Saliency"](images, labels))
    np.save(Path(config["maps_dir"]) / "ours_saliency.npy", saliency)
    run("Sparseness", lambda: M.Sparseness().detailed_evaluate(saliency))
    run("Complexity", lambda: M.Complexity().detailed_evaluate(saliency))
    deletion = M.Deletion(model, images, labels, steps=config["curve_steps"])
    run("Deletion", lambda: np.array(list(deletion.detailed_evaluate(saliency).values())))
    k = min(n, 10)

    def maximize():
        objective = Objective.neuron(model, "logits", list(range(k)))
        found = optimize(objective, nb_steps=config["am_steps"], custom_shape=(32, 32),
                         seed=0)[0][0]
        found = tf.image.resize(found, (32, 32))
        return np.diag(np.asarray(model(found, training=False))[:, :k])

    run("ActivationMaximization", maximize, n=k)


def _tfkerasvis(config, model, images, labels, run):
    import tensorflow as tf
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.scores import CategoricalScore

    score = CategoricalScore(list(labels))
    saliency = Saliency(model, clone=True)
    run("Saliency", lambda: saliency(score, images))  # max over channels of |gradient|
    # our SmoothGrad: channel mean of the averaged raw gradients: ask for the same quantity
    run("SmoothGrad", lambda: np.asarray(saliency(
        score, images, smooth_samples=config["samples"], smooth_noise=0.2, keepdims=True,
        gradient_modifier=None, normalize_map=False)).mean(-1))
    for name, cls in (("GradCAM", Gradcam), ("GradCAMPP", GradcamPlusPlus),
                      ("ScoreCAM", Scorecam), ("LayerCAM", Layercam)):
        try:
            cam = cls(model, clone=True)
            run(name, lambda c=cam: c(score, images, penultimate_layer=CONV))
            if name in run.outputs:  # agreement: its conv-sized maps upsampled as ours are
                small = np.asarray(cam(score, images, penultimate_layer=CONV,
                                       expand_cam=False))
                run.outputs[name] = np.asarray(tf.image.resize(small[..., None],
                                                               images.shape[1:3]))
        except Exception as error:  # reported in the table
            run.fail(name, error)
    k = min(len(images), 10)
    maximizer = ActivationMaximization(model, clone=True)

    def maximize():
        seed = np.random.default_rng(0).uniform(0, 1, (k,) + images.shape[1:])
        found = maximizer(CategoricalScore(list(range(k))), seed_input=seed.astype("float32"),
                          input_range=(0.0, 1.0), steps=config["am_steps"])
        return np.diag(np.asarray(model(np.asarray(found, "float32"), training=False))[:, :k])

    run("ActivationMaximization", maximize, n=k)


def _twin(model, images):
    from torch_twins import check_twin, twin

    torch_model = twin(model)
    check_twin(model, torch_model, images)
    return torch_model


def _captum(config, model, images, labels, run):
    import torch
    from captum.attr import IntegratedGradients, NoiseTunnel, Occlusion, Saliency
    from torch_twins import to_nchw

    torch_model = _twin(model, images)
    x, target = to_nchw(images), torch.tensor(labels)
    p = config["patch"]

    def numpy(t):
        return t.detach().numpy().transpose(0, 2, 3, 1)

    run("Saliency", lambda: numpy(Saliency(torch_model).attribute(x, target, abs=True)).max(-1))
    run("IntegratedGradients", lambda: numpy(IntegratedGradients(torch_model).attribute(
        x, baselines=0.0, target=target, n_steps=config["steps"], method="riemann_trapezoid",
        internal_batch_size=32)).mean(-1))
    run("SmoothGrad", lambda: numpy(NoiseTunnel(Saliency(torch_model)).attribute(
        x, nt_type="smoothgrad", nt_samples=config["samples"], stdevs=0.2,
        nt_samples_batch_size=4, target=target, abs=False)).mean(-1))
    run("Occlusion", lambda: numpy(Occlusion(torch_model).attribute(
        x, sliding_window_shapes=(3, p, p), strides=(3, p, p), baselines=0.0, target=target,
        perturbations_per_eval=32)).mean(-1))


def _zennit(config, model, images, labels, run):
    import torch
    from torch_twins import import_zennit, to_nchw

    composites, Gradient = import_zennit()  # noqa: N806
    torch_model = _twin(model, images)
    x = to_nchw(images)
    onehot = torch.eye(10)[torch.tensor(labels)]
    box = dict(low=torch.zeros_like(x[:1]), high=torch.ones_like(x[:1]))
    for name, composite in (("LRP-EpsilonPlus", composites.EpsilonPlus()),
                            ("LRP-EpsilonGammaBox", composites.EpsilonGammaBox(**box))):
        def explain(c=composite):
            parts = []
            with Gradient(model=torch_model, composite=c) as attributor:
                for i in range(0, len(x), 32):  # our batch_size
                    chunk = x[i:i + 32]
                    relevance = onehot[i:i + 32] * torch_model(chunk).detach()
                    parts.append(attributor(chunk, relevance)[1])
            return torch.cat(parts).numpy().sum(1)  # our reducer: sum over channels
        run(name, explain)


def _quantus(config, model, images, labels, run):
    from torch_twins import stub_torchvision, to_nchw

    stub_torchvision()
    import quantus

    torch_model = _twin(model, images)
    x = to_nchw(images).numpy()
    maps = np.load(Path(config["maps_dir"]) / "ours_saliency.npy")
    maps = maps.reshape(maps.shape[:3])[:, None]  # (N, 1, H, W)
    common = dict(model=torch_model, x_batch=x, y_batch=np.asarray(labels), a_batch=maps,
                  device="cpu", channel_first=True)
    quiet = dict(disable_warnings=True, display_progressbar=False)
    run("Sparseness", lambda: quantus.Sparseness(**quiet)(**common))
    run("Complexity", lambda: quantus.Complexity(**quiet)(**common))
    # Pixel-Flipping ranks the map broadcast to every channel and flips `features_in_step`
    # of the C*H*W values per step: with H*W / steps, every C-th point of its curve is where
    # our Deletion (which removes whole pixels) stands after each of its steps
    channels = x.shape[1]
    step = maps.shape[2] * maps.shape[3] // config["curve_steps"]
    flipping = quantus.PixelFlipping(features_in_step=step, perturb_baseline="black", **quiet)
    run("Deletion", lambda: np.mean(np.asarray(flipping(softmax=False, **common)),
                                    0)[channels - 1::channels])


WORKERS = dict(ours=_ours, tfkerasvis=_tfkerasvis, captum=_captum, zennit=_zennit,
               quantus=_quantus)


class _Runner:
    """Times one method (`run(name, fn)`) or records its error (`run.fail(name, error)`),
    saving its output under the name."""

    def __init__(self, config, n):
        self.config, self.n, self.results, self.outputs = config, n, {}, {}

    def __call__(self, name, fn, n=None):
        try:
            self.results[name], self.outputs[name] = _timed(fn, self.config["repeats"],
                                                            n or self.n)
        except Exception as error:  # reported in the table, never hidden
            self.fail(name, error)

    def fail(self, name, error):
        self.results[name] = dict(error=one_line(error))


def worker(config: Dict) -> Dict:
    """Run in a fresh process: one library's methods on the seeded model and images."""
    result = dict(peer=config["peer"], methods={})
    try:
        model, images, labels = _setup(config)
        runner = _Runner(config, len(images))
        WORKERS[config["peer"]](config, model, images, labels, runner)
        result["methods"] = runner.results
        np.savez(Path(config["maps_dir"]) / f"{config['peer']}.npz",
                 **{k: np.asarray(v, "float64") for k, v in runner.outputs.items()})
    except Exception as error:  # the whole library fails: every row says so
        result["error"] = one_line(error)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", required=True, help="the configuration, as JSON")
    serve(worker, parser.parse_args().worker, RESULT)
