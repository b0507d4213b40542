"""Shard-by-shard runs: seeded methods equal one call on the whole array whatever the input
reader, metrics aggregate to their whole-array value, several workers equal one, progress."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import make_inputs, make_model, make_targets, one_hot
from tests.helpers import ROOT
from tests.runs.child import NB_INPUTS, SHARD_SIZE, setup
from xplique import runs
from xplique.attributions import Rise, Saliency, SmoothGrad
from xplique.metrics import Complexity, Deletion, Insertion, MuFidelity
from xplique.runs.runner import explain_at
from xplique.runs.workers import worker_share

# Other batch shapes may round float32 differently (BLAS kernels): 1e-5 is far below the O(1)
# differences a misaligned noise stream gives (checked in test_shards_use_global_offsets).
TOLERANCE = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def images():
    model = make_model("images", seed=3)
    inputs = make_inputs("images", 11, seed=4)
    return model, inputs, make_targets(11, seed=4)


def _as_png_folder(folder, inputs):
    """Write inputs as 8-bit PNGs; return the float32 inputs they decode to."""
    quantised = np.round(inputs * 255.0).astype(np.uint8)
    folder.mkdir()
    for index, image in enumerate(quantised):
        tf.io.write_file(str(folder / f"img{index:03d}.png"), tf.io.encode_png(image))
    return quantised.astype("float32") / 255.0


@pytest.mark.parametrize("reader", ["array", "mmap", "dataset", "batched_pairs", "npy_folder",
                                    "png_folder", "tfrecord"])
def test_seeded_method_shard_by_shard_equals_one_call(tmp_path, images, reader):
    model, inputs, targets = images
    explainer = SmoothGrad(model, nb_samples=5, batch_size=7, seed=11)
    given, given_targets = inputs, targets
    if reader == "mmap":
        np.save(tmp_path / "x.npy", inputs)
        given = np.load(tmp_path / "x.npy", mmap_mode="r")
    elif reader == "dataset":
        given = tf.data.Dataset.from_tensor_slices(inputs)
        given_targets = None
        targets = None
    elif reader == "batched_pairs":
        given = tf.data.Dataset.from_tensor_slices((inputs, one_hot(targets))).batch(3)
        given_targets = None
    elif reader == "npy_folder":
        (tmp_path / "x").mkdir()
        for index, row in enumerate(inputs):
            np.save(tmp_path / "x" / f"{index:03d}.npy", row)
        given = str(tmp_path / "x")
    elif reader == "png_folder":
        inputs = _as_png_folder(tmp_path / "x", inputs[..., :3])
        given = str(tmp_path / "x")
    elif reader == "tfrecord":
        runs.write_tfrecord(str(tmp_path / "x.tfrecord"), inputs)
        given = str(tmp_path / "x.tfrecord")
    out = tmp_path / "run"
    manifest = runs.explain_dataset(explainer, given, given_targets, out_dir=out, shard_size=4)
    assert manifest["complete"] and manifest["nb_inputs"] == len(inputs)
    assert [(e["start"], e["stop"]) for e in manifest["shards"]] == [(0, 4), (4, 8), (8, 11)]
    np.testing.assert_allclose(runs.load(out), np.asarray(explainer(inputs, targets)),
                               **TOLERANCE)


def test_shards_use_global_offsets(images):
    """A shard explained at its global offset matches the whole call; at offset 0 it does not
    (the noise stream really depends on the global index), for two seeded methods."""
    model, inputs, targets = images
    for explainer in (SmoothGrad(model, nb_samples=6, seed=2), Rise(model, nb_samples=20,
                                                                    grid_size=3, seed=2)):
        whole = np.asarray(explainer(inputs, targets))
        shard = explain_at(explainer, inputs[5:9], targets[5:9], 5)
        np.testing.assert_allclose(shard, whole[5:9], **TOLERANCE)
        misaligned = explain_at(explainer, inputs[5:9], targets[5:9], 0)
        assert np.abs(misaligned - whole[5:9]).max() > 1e-3
        # the caller's explainer is untouched
        assert "_explain_group" not in vars(explainer)


def test_metrics_aggregated_equal_the_metric_on_the_whole_array(tmp_path, images):
    model, inputs, targets = images
    explainer = Saliency(model)
    metrics = ["deletion", ("Insertion", {"steps": 4, "baseline_mode": 0.5}), Complexity]
    runs.explain_dataset(explainer, inputs, targets, out_dir=tmp_path, shard_size=4,
                         metrics=metrics)
    explanations = np.asarray(explainer(inputs, targets))
    expected = {
        "Deletion": Deletion(model, inputs, targets).evaluate(explanations),
        "Insertion": Insertion(model, inputs, targets, steps=4,
                               baseline_mode=0.5).evaluate(explanations),
        "Complexity": Complexity().evaluate(explanations),
    }
    assert runs.summary(tmp_path) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    per_shard = [entry["metrics"]["Deletion"] for entry in manifest["shards"]]
    sizes = [entry["stop"] - entry["start"] for entry in manifest["shards"]]
    assert len(set(per_shard)) == 3  # three different shard values, weighted 4, 4, 3
    assert np.average(per_shard, weights=sizes) == pytest.approx(expected["Deletion"], rel=1e-6)


def test_stochastic_metric_is_the_size_weighted_mean_of_its_shards(tmp_path, images):
    """MuFidelity draws its subsets per shard: its run value is the weighted mean of the
    values of MuFidelity built on each shard."""
    model, inputs, targets = images
    explainer = Saliency(model)
    spec = ("MuFidelity", {"nb_samples": 8, "grid_size": 2, "seed": 0})
    runs.explain_dataset(explainer, inputs, targets, out_dir=tmp_path, shard_size=6,
                         metrics=[spec])
    explanations = np.asarray(explainer(inputs, targets))
    values = [MuFidelity(model, inputs[s], targets[s], **spec[1]).evaluate(explanations[s])
              for s in (slice(0, 6), slice(6, 11))]
    expected = (6 * values[0] + 5 * values[1]) / 11
    assert runs.summary(tmp_path)["MuFidelity"] == pytest.approx(expected, rel=1e-5)


def test_bad_arguments_fail_early(tmp_path, images):
    model, inputs, targets = images
    explainer = Saliency(model)
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        runs.explain_dataset(explainer, inputs, out_dir=tmp_path, metrics=["nope"])
    with pytest.raises(TypeError, match="shard_size"):
        runs.explain_dataset(explainer, inputs, out_dir=tmp_path, shard_size=2.5)
    with pytest.raises(ValueError, match="worker_index"):
        runs.explain_dataset(explainer, inputs, out_dir=tmp_path, num_workers=2, worker_index=2)
    with pytest.raises(ValueError, match="same number of samples"):
        runs.explain_dataset(explainer, inputs, targets[:3], out_dir=tmp_path)
    with pytest.raises(ValueError, match="no run"):
        runs.merge(str(tmp_path / "empty"))


def test_verbose_shows_a_progress_bar_with_rate_and_eta(tmp_path, images, capsys):
    model, inputs, targets = images
    runs.explain_dataset(Saliency(model), inputs, targets, out_dir=tmp_path, shard_size=4,
                         verbose=True)
    err = capsys.readouterr().err
    assert "11/11" in err and "input/s" in err
    assert "<" in err  # elapsed<remaining (the ETA)
    runs.explain_dataset(Saliency(model), inputs, targets, out_dir=tmp_path / "quiet",
                         shard_size=4)
    assert "input/s" not in capsys.readouterr().err


def test_tf_config_and_explicit_worker_share(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert worker_share(None, None) == (1, 0)
    assert worker_share(3, 2) == (3, 2)
    cluster = {"chief": ["localhost:1"], "worker": ["localhost:2", "localhost:3"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": 1}}))
    assert worker_share(None, None) == (3, 2)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "chief", "index": 0}}))
    assert worker_share(None, None) == (3, 0)
    assert worker_share(2, 1) == (2, 1)  # explicit arguments win


def test_two_worker_processes_and_merge_equal_one_process(tmp_path):
    explainer, inputs, targets = setup()
    single = tmp_path / "single"
    runs.explain_dataset(explainer, inputs, targets, out_dir=single, shard_size=SHARD_SIZE,
                         metrics=["Complexity"])
    shared = tmp_path / "shared"
    # two processes, each with the TF_CONFIG of one worker of a localhost cluster
    result = subprocess.run(
        [sys.executable, "-m", "tests.runs.child", "workers", str(shared), "2"], cwd=ROOT,
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    parts = {name: json.loads((shared / name).read_text())
             for name in ("part-0-of-2.json", "part-1-of-2.json")}
    for worker, part in enumerate(parts.values()):
        assert part["complete"] and part["shards"]
        assert all(int(index) % 2 == worker for index in part["shards"])
    # the last worker to finish merged; merging again is idempotent
    first = json.loads((shared / "manifest.json").read_text())
    merged = runs.merge(str(shared))
    assert merged["shards"] == first["shards"] and merged["parts"] == sorted(parts)
    np.testing.assert_array_equal(runs.load(shared, verify=True), runs.load(single))
    assert runs.summary(shared) == pytest.approx(runs.summary(single), rel=1e-12)
    assert len(merged["shards"]) == -(-NB_INPUTS // SHARD_SIZE)


def test_a_worker_alone_leaves_the_run_unmerged_until_the_other_finishes(tmp_path, images):
    model, inputs, targets = images
    explainer = Saliency(model)
    part = runs.explain_dataset(explainer, inputs, targets, out_dir=tmp_path, shard_size=3,
                                num_workers=2, worker_index=1)
    assert not part.get("explanations") and sorted(part["shards"]) == ["1", "3"]
    with pytest.raises(ValueError, match=r"incomplete .*missing or corrupt, e.g. \[0, 2\]"):
        runs.load(tmp_path)
    manifest = runs.explain_dataset(explainer, inputs, targets, out_dir=tmp_path,
                                    shard_size=3, num_workers=2, worker_index=0)
    assert manifest["complete"]
    np.testing.assert_allclose(runs.load(tmp_path), np.asarray(explainer(inputs, targets)),
                               **TOLERANCE)
