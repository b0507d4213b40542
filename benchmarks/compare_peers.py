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

Each library runs in its own fresh subprocess (peer_workers.py, the measuring side), with its
folder (`--peers`/<name>) first on PYTHONPATH and only there; ours runs first, in its own
process. Every process builds the same
seeded `small_cnn` (models.py) and seeded images (measure.py), times one warm-up call (tracing
included) and the median of `--repeats` further calls, and saves its maps; this parent then
compares the maps with ours image by image (Pearson and Spearman correlations, mean and min
over the images; maps of different sizes are compared at the larger size, bilinear;
tf-keras-vis' CAMs at its conv resolution, upsampled as ours). Metric rows compare per-image
scores across the images (Pixel-Flipping: the mean curves). A peer that does not install or
import, or a method that raises, is reported as "fails: <error>". See benchmarks/README.md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from peer_workers import MODEL, RESULT  # noqa: E402
from report import (  # noqa: E402
    add_report_options,
    measured_on,
    one_line,
    publish,
    section,
    speedup_cell,
    time_cell,
)
from workers import ROOT, run_in_fresh_process, worker_env  # noqa: E402

START, END = "<!-- PEERS-COMPARISON:START -->", "<!-- PEERS-COMPARISON:END -->"
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


def run_worker(config: Dict, path: Optional[Path], timeout: float) -> Dict:
    """:func:`peer_workers.worker` in a fresh process: the peer's folder (`path`) first on
    PYTHONPATH, or the repository root for ours."""
    env = worker_env([path if path is not None else ROOT, HERE])
    try:
        result, last = run_in_fresh_process(HERE / "peer_workers.py", config, env, RESULT,
                                            timeout)
    except subprocess.TimeoutExpired:
        return dict(peer=config["peer"], methods={}, error=f"timed out after {timeout:.0f} s")
    if result is not None:
        return result
    return dict(peer=config["peer"], methods={}, error=f"process died: {last.strip()[:160]}")


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


def markdown(rows: List[Dict], config: Dict, note: Optional[str], versions: Dict) -> str:
    """The generated section of docs/benchmarks.md."""
    found = ", ".join(f"{k} {v}" for k, v in versions.items())
    lines = [
        f"{measured_on()}; peers: {found or 'none found'}.",
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
        our_time, their_time = time_cell(ours), time_cell(theirs)
        speedup = speedup_cell(theirs, ours)
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
    return section(START, note, lines, END)


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
    add_report_options(parser)
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
    import numpy as np

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
                row["agreement"] = dict(text=f"cannot compare: {one_line(error)}")
        rows.append(row)
        print(json.dumps(row), flush=True)

    publish(markdown(rows, config, args.note, versions), rows, args, START, END)
    return rows


if __name__ == "__main__":
    main()
