"""Crash safety: runs killed (SIGKILL, or a crash injected at every write) and resumed end with
exactly the explanations of an uninterrupted run; corrupt shards are recomputed; other settings
are refused with a one-line error."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_inputs, make_model, make_targets
from tests.helpers import ROOT
from tests.runs.child import METRICS, NB_INPUTS, SHARD_SIZE, setup
from xplique import runs
from xplique.attributions import Saliency, SmoothGrad
from xplique.metrics import Complexity
from xplique.runs import runner as explain_module
from xplique.runs import store


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The shared run's explainer, data, its uninterrupted run's explanations, and the
    Complexity of one call on the whole array."""
    explainer, inputs, targets = setup()
    folder = tmp_path_factory.mktemp("uninterrupted")
    runs.explain_dataset(explainer, inputs, targets, out_dir=folder, shard_size=SHARD_SIZE,
                         metrics=METRICS)
    explanations = np.array(runs.load(folder))
    # the run is one call on the whole array (up to float32 rounding of other batch shapes)
    whole = np.asarray(explainer(inputs, targets))
    np.testing.assert_allclose(explanations, whole, rtol=1e-5, atol=1e-6)
    complexity = Complexity().evaluate(whole)
    return explainer, inputs, targets, explanations, complexity


def _kill_runs(*jobs):
    """Run `python -m tests.runs.child kill OUT:WHEN ...`: one process per job, SIGKILLed."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.runs.child", "kill", *jobs], cwd=ROOT,
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def _resume_and_check(out_dir, reference):
    explainer, inputs, targets, explanations, complexity = reference
    manifest = runs.explain_dataset(explainer, inputs, targets, out_dir=out_dir,
                                    shard_size=SHARD_SIZE, metrics=METRICS)
    assert manifest["complete"]
    result = runs.load(out_dir, verify=True)
    # every row once, in input order, equal to the uninterrupted run
    np.testing.assert_array_equal(result, explanations)
    starts = [entry["start"] for entry in manifest["shards"]]
    assert starts == list(range(0, NB_INPUTS, SHARD_SIZE))
    for entry in manifest["shards"]:
        assert store.sha256_file(os.path.join(out_dir, entry["file"])) == entry["sha256"]
    assert runs.summary(out_dir)["Complexity"] == pytest.approx(complexity, rel=1e-5)
    leftovers = [name for folder in (out_dir, out_dir / "shards") for name in os.listdir(folder)
                 if ".tmp-" in name]
    assert leftovers == []


def test_sigkill_after_first_shard_and_at_random_moments_then_resume(tmp_path, reference):
    """Processes killed with SIGKILL once their first shard is recorded, and at random moments
    (three seeds), then resumed: each ends with exactly the uninterrupted run."""
    delays = [float(np.random.default_rng(seed).uniform(0.0, 0.8)) for seed in range(3)]
    jobs = [f"{tmp_path / 'first'}:first"] + [f"{tmp_path / f'seed{seed}'}:{delay:.3f}"
                                             for seed, delay in enumerate(delays)]
    reports = _kill_runs(*jobs)
    first = reports[0]
    assert first["killed"] and 1 <= first["recorded"] < NB_INPUTS // SHARD_SIZE
    assert not (tmp_path / "first" / "manifest.json").exists()
    with pytest.raises(ValueError, match="incomplete"):
        runs.load(tmp_path / "first")
    assert sum(report["killed"] for report in reports) >= 2
    for report in reports:
        _resume_and_check(Path(report["out"]), reference)


class _Crash(Exception):
    pass


@pytest.mark.parametrize("moment", ["before_write", "after_tmp", "after_rename"])
def test_crash_at_every_write_then_resume(tmp_path, monkeypatch, moment):
    """A crash injected at each atomic write of a run (before it, with the temporary file
    written but not renamed, or just after the rename), then a resume: always the rows of one
    uninterrupted call."""
    model = make_model("tabular", seed=2)
    inputs, targets = make_inputs("tabular", 10, seed=3), make_targets(10, seed=3)
    real = store.atomic_write
    calls = {"count": 0, "crash_at": None}

    def crashing(path, data):
        calls["count"] += 1
        if calls["count"] != calls["crash_at"]:
            return real(path, data)
        if moment == "after_tmp":
            with open(f"{path}.tmp-{os.getpid()}", "wb") as file:
                file.write(data[: len(data) // 2])  # torn temporary file
        elif moment == "after_rename":
            real(path, data)
        raise _Crash(path)

    monkeypatch.setattr(store, "atomic_write", crashing)
    monkeypatch.setattr(explain_module, "atomic_write", crashing)
    explainer = Saliency(model)  # one explainer: traced once for every run below
    run = dict(out_dir=tmp_path / "uninterrupted", shard_size=3)
    runs.explain_dataset(explainer, inputs, targets, **run)
    expected = np.array(runs.load(run["out_dir"]))
    writes = calls["count"]
    assert writes >= 2 * 4 + 2  # a shard and its record per shard, then the merge
    for crash_at in range(1, writes + 1):
        folder = tmp_path / f"crash{crash_at}"
        calls.update(count=0, crash_at=crash_at)
        with pytest.raises(_Crash):
            runs.explain_dataset(explainer, inputs, targets, out_dir=folder, shard_size=3)
        calls["crash_at"] = None
        runs.explain_dataset(explainer, inputs, targets, out_dir=folder, shard_size=3)
        np.testing.assert_array_equal(runs.load(folder, verify=True), expected)
        assert [name for name in os.listdir(folder) + os.listdir(folder / "shards")
                if ".tmp-" in name] == []  # the torn temporary files are gone


def test_corrupt_or_missing_shards_are_recomputed(tmp_path, monkeypatch):
    model = make_model("images", seed=4)
    inputs = make_inputs("images", 12, seed=5)
    explainer = SmoothGrad(model, nb_samples=6, seed=1)
    runs.explain_dataset(explainer, inputs, out_dir=tmp_path, shard_size=5)
    expected = np.array(runs.load(tmp_path))
    shard = tmp_path / "shards" / "shard-000001.npy"
    content = bytearray(shard.read_bytes())
    content[-3] ^= 0xFF  # one flipped bit pattern in the data, same size
    shard.write_bytes(bytes(content))
    os.remove(tmp_path / "shards" / "shard-000002.npy")
    explained = []
    real = explain_module.explain_at

    def spy(explainer_, x, y, first_input):
        explained.append(first_input)
        return real(explainer_, x, y, first_input)

    monkeypatch.setattr(explain_module, "explain_at", spy)
    runs.explain_dataset(explainer, inputs, out_dir=tmp_path, shard_size=5)
    assert explained == [5, 10]  # only the corrupt and the missing shards, at their offsets
    np.testing.assert_array_equal(runs.load(tmp_path, verify=True), expected)
    # a damaged merged file is detected too
    merged = tmp_path / "explanations.npy"
    content = bytearray(merged.read_bytes())
    content[-1] ^= 0xFF
    merged.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="checksum"):
        runs.load(tmp_path, verify=True)


def _one_line_error(call):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_other_settings_are_refused(tmp_path):
    model = make_model("images", seed=6)
    inputs = make_inputs("images", 9, seed=7)
    targets = make_targets(9, seed=7)
    base = dict(out_dir=tmp_path, shard_size=4, metrics=["Complexity"])
    runs.explain_dataset(SmoothGrad(model, nb_samples=4, seed=0), inputs, targets, **base)
    before = runs.load(tmp_path).copy()

    def run(explainer=None, x=inputs, y=targets, **changes):
        explainer = explainer or SmoothGrad(model, nb_samples=4, seed=0)
        return lambda: runs.explain_dataset(explainer, x, y, **{**base, **changes})

    other_model = make_model("images", seed=99)
    later = inputs.copy()
    later[-1] += 0.5  # same first shard: caught when that shard is read
    cases = {
        "method 'SmoothGrad' != 'Saliency'": run(Saliency(model)),
        "parameters seed": run(SmoothGrad(model, nb_samples=4, seed=1)),
        "parameters nb_samples": run(SmoothGrad(model, nb_samples=5, seed=0)),
        "model": run(SmoothGrad(other_model, nb_samples=4, seed=0)),
        "inputs differ": run(x=inputs[::-1].copy()),
        "inputs of shard 2 differ": run(x=later),
        "shard_size 4 != 3": run(shard_size=3),
        "metrics": run(metrics=["Sparseness"]),
    }
    for expected, call in cases.items():
        message = _one_line_error(call)
        assert expected in message and "other settings" in message, (expected, message)
    assert "already holds a run" in _one_line_error(run(resume=False))
    # nothing was mixed in; a batch size change does not change the explanations: accepted
    np.testing.assert_array_equal(runs.load(tmp_path), before)
    runs.explain_dataset(SmoothGrad(model, nb_samples=4, seed=0, batch_size=3), inputs,
                         targets, **base)
    np.testing.assert_array_equal(runs.load(tmp_path), before)
