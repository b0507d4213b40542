"""`python -m xplique explain-dataset`: end to end on .npy, folder and TFRecord inputs, resume,
one-line errors, and a --help that does not import TensorFlow."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import make_inputs, make_model, make_targets
from tests.helpers import ROOT
from xplique import runs
from xplique.attributions import Saliency, SmoothGrad
from xplique.cli import main
from xplique.metrics import Deletion


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_dataset")
    model = make_model("images", seed=8)
    model.save(folder / "m.keras")
    inputs, targets = make_inputs("images", 10, seed=9), make_targets(10, seed=9)
    np.save(folder / "x.npy", inputs)
    np.save(folder / "y.npy", targets)
    return folder, model, inputs, targets


def _run(folder, out, *extra):
    return main(["explain-dataset", "--model", str(folder / "m.keras"), "--inputs",
                 str(folder / "x.npy"), "--targets", str(folder / "y.npy"), "--out", str(out),
                 "--shard-size", "4", *extra])


def test_explain_dataset_end_to_end(files, tmp_path, capsys):
    folder, model, inputs, targets = files
    out = tmp_path / "run"
    code = _run(folder, out, "--method", "smooth_grad", "--param", "nb_samples=6", "--param",
                "seed=3", "--metric", "Deletion")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "SmoothGrad: explanations (10, 8, 10, 1) in 3 shard(s)" in captured.out
    assert "Deletion=" in captured.out and "input/s" in captured.err  # progress by default
    expected = np.asarray(SmoothGrad(model, nb_samples=6, seed=3)(inputs, targets))
    np.testing.assert_allclose(runs.load(out, verify=True), expected, rtol=1e-5, atol=1e-6)
    assert runs.summary(out)["Deletion"] == pytest.approx(
        Deletion(model, inputs, targets).evaluate(expected), rel=1e-5, abs=1e-6)
    # without --resume an existing run is refused; with it, it is verified and kept
    assert _run(folder, out, "--method", "SmoothGrad", "--param", "nb_samples=6", "--param",
                "seed=3", "--metric", "Deletion", "--quiet") == 2
    error = capsys.readouterr().err
    assert error.startswith("xplique: error: ") and error.count("\n") == 1
    assert "--resume" in error
    assert _run(folder, out, "--method", "SmoothGrad", "--param", "nb_samples=6", "--param",
                "seed=3", "--metric", "Deletion", "--quiet", "--resume") == 0
    capsys.readouterr()
    # other settings: one line naming what differs
    assert _run(folder, out, "--method", "SmoothGrad", "--param", "nb_samples=7", "--param",
                "seed=3", "--metric", "Deletion", "--resume") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "other settings" in error and "nb_samples" in error


@pytest.mark.parametrize("kind", ["folder", "tfrecord"])
def test_explain_dataset_reads_folders_and_tfrecords(files, tmp_path, capsys, kind):
    folder, model, inputs, targets = files
    if kind == "folder":
        source = tmp_path / "x"
        source.mkdir()
        for index, row in enumerate(inputs):
            np.save(source / f"{index:02d}.npy", row)
    else:
        source = tmp_path / "x.tfrecord"
        runs.write_tfrecord(str(source), inputs)
    out = tmp_path / "run"
    code = main(["explain-dataset", "--model", str(folder / "m.keras"), "--inputs", str(source),
                 "--targets", str(folder / "y.npy"), "--method", "Saliency", "--out", str(out),
                 "--shard-size", "3", "--quiet", "--num-workers", "1", "--worker-index", "0"])
    assert code == 0, capsys.readouterr().err
    np.testing.assert_allclose(runs.load(out), np.asarray(Saliency(model)(inputs, targets)),
                               rtol=1e-5, atol=1e-6)


def test_explain_dataset_user_errors_are_one_line(files, tmp_path, capsys):
    folder, _, _, _ = files
    cases = [
        (["--method", "nope"], "unknown method 'nope'"),
        (["--method", "Saliency", "--param", "steps=3"], "has no parameter 'steps'"),
        (["--method", "Saliency", "--metric", "nope"], "unknown metric 'nope'"),
        (["--method", "Saliency", "--num-workers", "2"], "--worker-index together"),
        (["--method", "Saliency", "--num-workers", "2", "--worker-index", "2"],
         "--worker-index must lie in [0, 1]"),
    ]
    for extra, expected in cases:
        assert _run(folder, tmp_path / "bad", *extra) == 2, extra
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and expected in error, (extra, error)
    code = main(["explain-dataset", "--model", str(folder / "m.keras"), "--inputs",
                 str(tmp_path / "missing.npy"), "--method", "Saliency", "--out", str(tmp_path)])
    assert code == 2 and "inputs not found" in capsys.readouterr().err


def test_explain_dataset_help_does_not_import_tensorflow():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "xplique", "explain-dataset", "--help"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert [name for name in imported if name.split(".")[0] in ("tensorflow", "keras")] == []
    text = " ".join(result.stdout.split())
    for option in ("--shard-size", "--resume", "--metric", "--num-workers", "--worker-index",
                   "SmoothGrad"):
        assert option in text
