"""Runs in other processes, for the kill/resume and multi-worker tests.

`python -m tests.runs.child kill OUT:WHEN [OUT:WHEN ...]` and
`python -m tests.runs.child workers OUT N` (from the repository root). The process imports
TensorFlow once, then forks one process per run before any TensorFlow op has run (each fork
starts its own runtime), which saves a TensorFlow start-up per run:

- `kill`: for each `OUT:WHEN`, a process explains the shared run of :func:`setup` into OUT and
  is killed with SIGKILL, `WHEN` = `first` once its first shard is recorded, or `WHEN` =
  seconds after it has written its manifest part; prints one JSON line per run;
- `workers`: N processes, each with the `TF_CONFIG` of worker i of a localhost cluster of N,
  explain the shared run into OUT together; exits with 1 if one of them fails.
"""

import json
import os
import signal
import sys
import time

from tests.conftest import make_inputs, make_model, make_targets

#: Inputs and shard size of the shared run (many small shards: many moments to be killed at).
NB_INPUTS, SHARD_SIZE = 60, 4
METRICS = ["Complexity"]


def setup():
    """`(explainer, inputs, targets)` of the shared run: a seeded SmoothGrad."""
    from xplique.attributions import SmoothGrad  # pylint: disable=C0415

    model = make_model("images", seed=0)
    explainer = SmoothGrad(model, nb_samples=24, batch_size=32, seed=7)
    return explainer, make_inputs("images", NB_INPUTS, seed=1), make_targets(NB_INPUTS, seed=1)


def recorded_shards(out_dir: str) -> int:
    """Shards recorded in worker 0's manifest part, -1 before it is written."""
    try:
        with open(os.path.join(out_dir, "part-0-of-1.json"), encoding="utf-8") as file:
            return len(json.load(file)["shards"])
    except FileNotFoundError:
        return -1


def _fork_run(out_dir: str, env=None) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        from xplique import runs  # pylint: disable=C0415

        os.environ.update(env or {})
        explainer, inputs, targets = setup()
        runs.explain_dataset(explainer, inputs, targets, out_dir=out_dir,
                             shard_size=SHARD_SIZE, metrics=METRICS)
        code = 0
    finally:
        os._exit(code)  # pylint: disable=protected-access


def _kill(jobs):
    for job in jobs:
        out_dir, when = job.rsplit(":", 1)
        pid = _fork_run(out_dir)
        ready = (lambda: recorded_shards(out_dir) >= 1) if when == "first" \
            else (lambda: recorded_shards(out_dir) >= 0)
        deadline = time.monotonic() + 120
        finished = False
        while not ready() and time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                finished = True
                break
            time.sleep(0.002)
        if not finished:
            if when != "first":
                time.sleep(float(when))
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            finished = not os.WIFSIGNALED(status)
        print(json.dumps({"out": out_dir, "killed": not finished,
                          "recorded": recorded_shards(out_dir)}), flush=True)


def _workers(out_dir, count):
    cluster = {"worker": [f"localhost:{23456 + index}" for index in range(count)]}
    pids = [_fork_run(out_dir, {"TF_CONFIG": json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}})})
        for index in range(count)]
    codes = [os.waitpid(pid, 0)[1] for pid in pids]
    sys.exit(0 if all(code == 0 for code in codes) else 1)


if __name__ == "__main__":
    if sys.argv[1] == "kill":
        _kill(sys.argv[2:])
    else:
        _workers(sys.argv[2], int(sys.argv[3]))
