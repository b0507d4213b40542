"""The distribution contract: every attribution method and metric, on 2 replicas of a
`MirroredStrategy`, gives its single-device result, and evaluates its model only inside the
replicas. Run once in a subprocess (the logical devices must be set before TensorFlow starts);
see tests/contract/distributed_check.py."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.contract.distributed_check import EXTRA
from tests.contract.subjects import SUBJECTS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = [param.values[0].name for param in SUBJECTS] + [subject.name for subject in EXTRA]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    path = tmp_path_factory.mktemp("distribution") / "reports.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-m", "tests.contract.distributed_check", str(path)],
                          cwd=ROOT, env=env, timeout=600, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def test_two_replicas_and_every_public_class_covered(reports):
    assert reports["replicas"] == 2
    assert reports["uncovered"] == []  # every public method and metric is checked
    assert reports["without_strategy"] == []  # and takes the keyword-only `strategy`


def test_the_detector_sees_an_undistributed_kernel(reports):
    control = reports["subjects"]["control"]
    assert control["cross"] > 0 and control["replica"] == 0


@pytest.mark.parametrize("name", sorted(set(NAMES)))
def test_distributed_equals_single_device(reports, name):
    report = reports["subjects"][name]
    assert "error" not in report, report.get("error")
    assert report["max_difference"] <= 1e-5 * max(1.0, report["scale"])
    assert report["replica_traces"] > 0  # its kernels ran through strategy.run
    assert report["cross"] == 0, f"layers evaluated outside the replicas: {report['cross_layers']}"


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_multi_worker_cluster_of_two_processes_equals_one_device(tmp_path):
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(config), TF_CPP_MIN_LOG_LEVEL="2")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "tests.contract.multi_worker_check",
             str(tmp_path / f"worker{index}.npz")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output.decode()[-3000:]
    results = [np.load(tmp_path / f"worker{index}.npz") for index in range(2)]
    names = sorted({key.split("/")[0] for key in results[0].files if "/" in key})
    assert names == ["Deletion", "GradCAM", "MuFidelity", "Rise", "Saliency", "SmoothGrad"]
    for result in results:
        assert int(result["replicas"]) == 2
        for name in names:
            np.testing.assert_allclose(result[f"{name}/distributed"], result[f"{name}/single"],
                                       rtol=1e-5, atol=1e-6, err_msg=name)
    for name in names:  # every worker ends with the same, whole result
        np.testing.assert_array_equal(results[0][f"{name}/distributed"],
                                      results[1][f"{name}/distributed"])
