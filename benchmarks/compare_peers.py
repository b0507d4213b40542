"""Our methods and metrics against other libraries on the same model and inputs (run by hand).

Usage::

    pip install --no-deps --target /tmp/peers/tfkerasvis tf-keras-vis deprecated wrapt
    pip install --no-deps --target /tmp/peers/captum captum
    pip install --no-deps --target /tmp/peers/zennit zennit
    pip install --no-deps --target /tmp/peers/quantus quantus pandas pytz tzdata cachetools \\
        opencv-python-headless
    python benchmarks/compare_peers.py [--peers /tmp/peers] [--quick] [--inputs N]
        [--repeats K] [--timeout S] [--only tfkerasvis,captum,zennit,quantus]
        [--markdown docs/benchmarks.md] [--note TEXT] [--json FILE]

Peers: tf-keras-vis (on the Keras model itself: Saliency, SmoothGrad, Grad-CAM, Grad-CAM++,
Score-CAM, Layer-CAM, activation maximization), Captum (Saliency, IntegratedGradients,
SmoothGrad, Occlusion) and zennit (LRP composites EpsilonPlus and EpsilonGammaBox) on a
PyTorch twin of the model with the same weights (torch_twins.py), and Quantus (Sparseness,
Complexity, Pixel-Flipping against our Deletion) on our Saliency maps and the twin.

Each library runs in its own fresh subprocess, with its folder (`--peers`/<name>) first on
PYTHONPATH and only there; ours runs first, in its own process. Every process builds the same
seeded `small_cnn` (models.py) and seeded images (measure.py), times one warm-up call (tracing
included) and the median of `--repeats` further calls, and saves its maps; this parent then
compares the maps with ours image by image (Pearson and Spearman correlations, mean and min
over the images; maps of different sizes are compared at the larger size, bilinear;
tf-keras-vis' CAMs at its conv resolution, upsampled as ours). Metric rows compare per-image
scores across the images (Pixel-Flipping: the mean curves). A peer that does not install or
import, or a method that raises, is reported as "fails: <error>". See benchmarks/README.md.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

START, END = "<!-- PEERS-COMPARISON:START -->", "<!-- PEERS-COMPARISON:END -->"
RESULT = "PEERS-RESULT "
MODEL = "small_cnn"
CONV = "last_conv"
PEERS = ("tfkerasvis", "captum", "zennit", "quantus")
#: The package each peer folder must provide (checked before the peer's process runs).
PACKAGES = dict(tfkerasvis="tf_keras_vis", captum="captum", zennit="zennit", quantus="quantus")
#: What to install into each peer folder (`pip install --no-deps --target <folder> ...`).
INSTALL = dict(tfkerasvis="tf-keras-vis deprecated wrapt", captum="captum", zennit="zennit",
               quantus="quantus pandas pytz tzdata cachetools opencv-python-headless")

#: (row label, peer, kind): kind "map" compares maps, "metric" per-image scores, "curve" the
#: mean curves, "score" the target logits reached by activation maximization.
ROWS = (
    ("Saliency", "tfkerasvis", "map"), ("SmoothGrad", "tfkerasvis", "map"),
    ("GradCAM", "tfkerasvis", "map"), ("GradCAMPP", "tfkerasvis", "map"),
    ("ScoreCAM", "tfkerasvis", "map"), ("LayerCAM", "tfkerasvis", "map"),
    ("ActivationMaximization", "tfkerasvis", "score"),
    ("Saliency", "captum", "map"), ("IntegratedGradients", "captum", "map"),
    ("SmoothGrad", "captum", "map"), ("Occlusion", "captum", "map"),
    ("LRP-EpsilonPlus", "zennit", "map"), ("LRP-EpsilonGammaBox", "zennit", "map"),
    ("Sparseness", "quantus", "metric"), ("Complexity", "quantus", "metric"),
    ("Deletion", "quantus", "curve"),
)
#: What each row's peer computes, shown in the table.
PEER_NAMES = {
    ("Deletion", "quantus"): "PixelFlipping",
    ("ActivationMaximization", "tfkerasvis"): "ActivationMaximization vs our optimize",
}


def settings(quick: bool) -> Dict:
    """Sizes of the run: images, samples (SmoothGrad), steps (IG), patch (Occlusion), steps
    of activation maximization."""
    if quick:
        return dict(inputs=8, samples=16, steps=16, patch=8, am_steps=32, curve_steps=8)
    return dict(inputs=32, samples=50, steps=50, patch=4, am_steps=256, curve_steps=16)


def _one_line(error: BaseException, limit: int = 160) -> str:
    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _timed(fn: Callable, repeats: int, n: int) -> Dict:
    """One warm-up call (its time: `first_s`), then the median of `repeats` calls per image,
    and the warm-up call's output (as numpy)."""
    import numpy as np

    start = time.perf_counter()
    out = np.asarray(fn())
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(fn())
        times.append(time.perf_counter() - start)
    return dict(time_ms=1000 * statistics.median(times) / n, first_s=first), out


# ------------------------------------------------------------------------------- workers


def _setup(config):
    from measure import make_data
    from models import MODELS

    model = MODELS[MODEL][0]()
    images, labels = make_data(MODEL, config["inputs"])
    return model, images, labels


def _ours(config, model, images, labels, run):
    import numpy as np
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
    import numpy as np
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
    import numpy as np
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
        self.results[name] = dict(error=_one_line(error))


def worker(config: Dict) -> Dict:
    """Run in a fresh process: one library's methods on the seeded model and images."""
    import numpy as np

    result = dict(peer=config["peer"], methods={})
    try:
        model, images, labels = _setup(config)
        runner = _Runner(config, len(images))
        WORKERS[config["peer"]](config, model, images, labels, runner)
        result["methods"] = runner.results
        np.savez(Path(config["maps_dir"]) / f"{config['peer']}.npz",
                 **{k: np.asarray(v, "float64") for k, v in runner.outputs.items()})
    except Exception as error:  # the whole library fails: every row says so
        result["error"] = _one_line(error)
    return result


# -------------------------------------------------------------------------------- parent


def run_worker(config: Dict, path: Optional[Path], timeout: float) -> Dict:
    """:func:`worker` in a fresh process: the peer's folder (`path`) first on PYTHONPATH, or
    the repository root for ours."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    inherited = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    first = [str(path)] if path is not None else [str(ROOT)]
    env["PYTHONPATH"] = os.pathsep.join(first + [str(HERE)] + inherited)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(config)]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, env=env,
                                   timeout=timeout, check=False, cwd=str(HERE))
    except subprocess.TimeoutExpired:
        return dict(peer=config["peer"], methods={}, error=f"timed out after {timeout:.0f} s")
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT):])
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    last = lines[-1].strip() if lines else f"exit status {completed.returncode}"
    return dict(peer=config["peer"], methods={}, error=f"process died: {last[:160]}")


def _as_maps(array):
    """(N, H, W) float maps from (N, H, W), (N, H, W, 1) or (N, 1, H, W)."""
    import numpy as np

    array = np.asarray(array, "float64")
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    elif array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    return array


def _same_size(a, b):
    """Both map stacks at the larger spatial size (bilinear), as numpy."""
    import numpy as np
    from scipy.ndimage import zoom

    if a.shape == b.shape:
        return a, b
    if a.shape[1] * a.shape[2] < b.shape[1] * b.shape[2]:
        b, a = _same_size(b, a)
        return a, b
    factors = (1, a.shape[1] / b.shape[1], a.shape[2] / b.shape[2])
    return a, np.asarray(zoom(b, factors, order=1))


def _correlations(a, b) -> Dict:
    """Pearson and Spearman correlations of each pair of rows (mean and min)."""
    import numpy as np
    from scipy.stats import pearsonr, spearmanr

    pearson, spearman = [], []
    for row_a, row_b in zip(a.reshape(len(a), -1), b.reshape(len(b), -1)):
        if np.ptp(row_a) == 0 or np.ptp(row_b) == 0:
            same = np.allclose(row_a, row_b)
            pearson.append(1.0 if same else float("nan"))
            spearman.append(1.0 if same else float("nan"))
            continue
        pearson.append(float(pearsonr(row_a, row_b)[0]))
        spearman.append(float(spearmanr(row_a, row_b)[0]))
    return dict(pearson=float(np.mean(pearson)), pearson_min=float(np.min(pearson)),
                spearman=float(np.mean(spearman)), spearman_min=float(np.min(spearman)))


def agreement(kind: str, ours, theirs) -> Dict:
    """How far the peer's output agrees with ours, by row kind."""
    import numpy as np
    from scipy.stats import pearsonr, spearmanr

    if kind == "map":
        return _correlations(*_same_size(_as_maps(ours), _as_maps(theirs)))
    ours, theirs = np.ravel(ours), np.ravel(theirs)
    if kind == "score":  # activation maximization: mean target logit reached
        return dict(text=f"target logit reached: ours {ours.mean():.2f}, "
                         f"theirs {theirs.mean():.2f}")
    if kind == "curve":  # ours starts with the intact image, Pixel-Flipping after step one
        if len(ours) != len(theirs) + 1:
            raise ValueError(f"curves of {len(ours)} and {len(theirs)} points")
        ours = ours[1:]
    return dict(pearson=float(pearsonr(ours, theirs)[0]),
                spearman=float(spearmanr(ours, theirs)[0]))


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("`", "'")


def markdown(rows: List[Dict], config: Dict, note: Optional[str], versions: Dict) -> str:
    """The generated section of docs/benchmarks.md."""
    from measure import machine_description

    lines = [START, ""]
    if note:
        lines += [f"!!! warning \"{note}\"", ""]
    found = ", ".join(f"{k} {v}" for k, v in versions.items())
    lines += [
        f"Measured on {datetime.date.today().isoformat()}, {machine_description()}; peers: "
        f"{found or 'none found'}.",
        f"Model `{MODEL}`, {config['inputs']} seeded images, SmoothGrad {config['samples']} "
        f"samples, IntegratedGradients {config['steps']} steps, Occlusion {config['patch']}x"
        f"{config['patch']} patches, activation maximization {config['am_steps']} steps; median "
        f"of {config['repeats']} calls after one warm-up call, each library in its own "
        "process. Speed-up = the peer's time / ours (above 1: ours is faster). Agreement: "
        "Pearson / Spearman correlation of the maps per image (mean, min in parentheses); for "
        "metrics, of the per-image scores (Pixel-Flipping: of the mean curves).",
        "",
        "| method | peer | ours, time / image (ms) | peer, time / image (ms) | speed-up | "
        "Pearson | Spearman |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ours, theirs = row["ours"], row["theirs"]
        our_time = f"fails: `{_cell(ours['error'])}`" if "error" in ours \
            else f"{ours['time_ms']:.2f}"
        their_time = f"fails: `{_cell(theirs['error'])}`" if "error" in theirs \
            else f"{theirs['time_ms']:.2f}"
        both = "error" not in ours and "error" not in theirs
        speedup = f"{theirs['time_ms'] / ours['time_ms']:.2f}x" if both else "-"
        agree = row.get("agreement", {})
        if "text" in agree:
            pearson, spearman = agree["text"], ""
        elif "pearson" in agree:
            pearson, spearman = (
                f"{agree[k]:.3f}" + (f" ({agree[k + '_min']:.3f})" if k + "_min" in agree
                                     else "") for k in ("pearson", "spearman"))
        else:
            pearson = spearman = "-"
        lines.append(f"| {row['method']} | {row['peer']} | {our_time} | {their_time} | "
                     f"{speedup} | {pearson} | {spearman} |")
    lines += ["", END]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", type=Path, default=Path("/tmp/peers"),
                        help="folder holding one pip --target folder per peer")
    parser.add_argument("--only", default="", help=f"comma-separated peers (default {PEERS})")
    parser.add_argument("--quick", action="store_true", help="fewer images, samples, steps")
    parser.add_argument("--inputs", type=int, default=None, help="images per call")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per method")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds allowed to one library's process")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="write the table between the markers of this file")
    parser.add_argument("--note", default=None, help="warning shown above the table")
    parser.add_argument("--json", type=Path, default=None, help="also dump raw results here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _version(folder: Path, package: str) -> Optional[str]:
    names = sorted(folder.glob("*.dist-info"))
    for name in names:
        stem = name.name[: -len(".dist-info")]
        dist, _, version = stem.rpartition("-")
        if dist.replace("-", "_").lower() == package.lower():
            return version
    return None


def main(argv=None) -> List[Dict]:
    args = parse_args(argv)
    if args.worker:
        print(RESULT + json.dumps(worker(json.loads(args.worker))), flush=True)
        return []
    import numpy as np
    from measure import write_marked

    peers = [p.strip() for p in args.only.split(",") if p.strip()] or list(PEERS)
    if [p for p in peers if p not in PEERS]:
        raise SystemExit(f"Unknown peer(s) in {peers}. Available: {PEERS}")
    config = settings(args.quick)
    config["repeats"] = args.repeats or (2 if args.quick else 5)
    if args.inputs:
        config["inputs"] = args.inputs

    with tempfile.TemporaryDirectory(prefix="compare_peers_") as maps_dir:
        base = dict(config, maps_dir=maps_dir)
        results = {"ours": run_worker(dict(base, peer="ours"), None, args.timeout)}
        print(f"ours: {results['ours'].get('error', 'done')}", flush=True)
        versions = {}
        for peer in peers:
            folder = (args.peers / peer).resolve()
            if not (folder / PACKAGES[peer]).is_dir():
                results[peer] = dict(peer=peer, methods={}, error=(
                    f"not installed at {folder} (pip install --no-deps --target {folder} "
                    f"{INSTALL[peer]})"))
            else:
                versions[peer] = _version(folder, PACKAGES[peer]) or "?"
                results[peer] = run_worker(dict(base, peer=peer), folder, args.timeout)
            print(f"{peer}: {results[peer].get('error', 'done')}", flush=True)
        outputs = {}
        for side in results:
            path = Path(maps_dir) / f"{side}.npz"
            outputs[side] = dict(np.load(path)) if path.exists() else {}

    rows = []
    for method, peer, kind in ROWS:
        if peer not in peers:
            continue
        ours = results["ours"]["methods"].get(method) or dict(
            error=results["ours"].get("error", "not run"))
        theirs = results[peer]["methods"].get(method) or dict(
            error=results[peer].get("error", "not run"))
        label = f" ({PEER_NAMES[method, peer]})" if (method, peer) in PEER_NAMES else ""
        row = dict(method=method, peer=peer + label,
                   ours=ours, theirs=theirs)
        if "error" not in ours and "error" not in theirs:
            try:
                row["agreement"] = agreement(kind, outputs["ours"][method],
                                             outputs[peer][method])
            except Exception as error:  # shown, not hidden
                row["agreement"] = dict(text=f"cannot compare: {_one_line(error)}")
        rows.append(row)
        print(json.dumps(row), flush=True)

    section = markdown(rows, config, args.note, versions)
    print(section)
    if args.markdown:
        write_marked(args.markdown, section, START, END)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return rows


if __name__ == "__main__":
    main()
