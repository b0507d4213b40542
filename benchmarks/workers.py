"""Measurements in fresh Python processes (compare_xplique.py, compare_peers.py,
concepts.py --upstream): the environment that decides which `xplique` (or which peer library)
a process imports, and running a script's `--worker` mode and reading back its result.

A worker is a script run as `python SCRIPT --worker <config as JSON>` from benchmarks/; it
prints `<marker><result as JSON>` on a line of its own (:func:`serve`), and the parent reads
that line back (:func:`run_in_fresh_process`).
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def worker_env(first: Iterable, keep: Callable[[str], bool] = lambda path: True) -> Dict:
    """This process's environment with the folders `first` first on PYTHONPATH, then the
    inherited PYTHONPATH entries that `keep` accepts; TensorFlow's C++ logs quiet."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    inherited = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in first]
                                        + [p for p in inherited if keep(p)])
    return env


def xplique_env(upstream: Optional[Path]) -> Dict:
    """The environment of a process whose `import xplique` finds the reference installed at
    `upstream` (first on PYTHONPATH, the repository root dropped from it) or, when `upstream`
    is None, ours (the repository root first, every other folder holding an `xplique`
    dropped)."""
    if upstream is not None:
        return worker_env([upstream], keep=lambda p: Path(p).resolve() != ROOT)
    return worker_env([ROOT], keep=lambda p: not (Path(p) / "xplique").is_dir())


def run_in_fresh_process(script: Path, config: Dict, env: Dict, marker: str,
                         timeout: Optional[float] = None) -> Tuple[Optional[Dict], str]:
    """Run `script --worker <config>` in a fresh process (from benchmarks/, with `env`).

    Returns the dict it printed after `marker` and "", or None and the last line of its error
    output (its exit status when it wrote none). Raises `subprocess.TimeoutExpired` after
    `timeout` seconds.
    """
    command = [sys.executable, str(script), "--worker", json.dumps(config)]
    completed = subprocess.run(command, capture_output=True, text=True, env=env,
                               timeout=timeout, check=False, cwd=str(HERE))
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(marker):
            return json.loads(line[len(marker):]), ""
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    return None, lines[-1] if lines else f"exit status {completed.returncode}"


def serve(worker: Callable[[Dict], Dict], config: str, marker: str) -> None:
    """The worker's side: run `worker` on the JSON `config` and print its result after
    `marker`."""
    print(marker + json.dumps(worker(json.loads(config))), flush=True)
