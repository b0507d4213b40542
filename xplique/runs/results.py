"""Merge the manifest parts of a run, and read its results back.

:func:`merge` checks that every shard of the inputs is recorded by some part with a matching
checksum, writes `explanations.npy` (every shard in input order) and `manifest.json` (settings,
shard ranges and checksums, aggregated metrics), both atomically. :func:`load` memory-maps the
explanations; :func:`summary` returns the metrics.
"""

import os
from typing import Dict

import numpy as np

from xplique.runs.settings import check_same_settings
from xplique.runs.shard_metrics import aggregate
from xplique.runs.store import (
    _TMP,
    EXPLANATIONS,
    FORMAT,
    MANIFEST,
    fsync_folder,
    read_json,
    read_parts,
    sha256_file,
    write_json,
)


def valid_shards(out_dir: str, parts: Dict[str, Dict]) -> Dict[int, Dict]:
    """`{index: entry}` of the recorded shards whose file matches its checksum."""
    found, hashes = {}, {}
    for part in parts.values():
        for key, entry in part.get("shards", {}).items():
            index = int(key)
            if index in found:
                continue
            if entry["file"] not in hashes:
                hashes[entry["file"]] = sha256_file(os.path.join(out_dir, entry["file"]))
            if hashes[entry["file"]] == entry["sha256"]:
                found[index] = entry
    return found


def coverage(parts: Dict[str, Dict], shards: Dict[int, Dict]):
    """`(nb_inputs, missing shard indices)`; nb_inputs is None while no worker knows it."""
    counts = {part["nb_inputs"] for part in parts.values() if part.get("nb_inputs") is not None}
    if not counts:
        return None, None
    nb_inputs = counts.pop()
    size = next(iter(parts.values()))["settings"]["shard_size"]
    nb_shards = -(-nb_inputs // size)
    return nb_inputs, [index for index in range(nb_shards) if index not in shards]


def merge(out_dir: str) -> Dict:
    """Merge the manifest parts of the run in `out_dir` into `manifest.json` and write
    `explanations.npy`; return the manifest.

    Raises a ValueError when a shard is missing or corrupt (resume the worker that owns it).
    """
    parts = read_parts(out_dir)
    if not parts:
        raise ValueError(f"`out_dir` {out_dir} holds no run (no manifest part)")
    first = next(iter(parts.values()))["settings"]
    for part in parts.values():
        check_same_settings(first, part["settings"], out_dir)
    shards = valid_shards(out_dir, parts)
    nb_inputs, missing = coverage(parts, shards)
    if nb_inputs is None or missing:
        done = len(shards)
        detail = "the number of inputs is unknown until a worker finishes" if missing is None \
            else f"{len(missing)} shard(s) missing or corrupt, e.g. {missing[:5]}"
        raise ValueError(f"the run in {out_dir} is incomplete ({done} shard(s) done; {detail}): "
                         "resume it (every worker) to finish it")
    ordered = [shards[index] for index in sorted(shards)]
    path = os.path.join(out_dir, EXPLANATIONS)
    tmp = f"{path}{_TMP}{os.getpid()}"
    output = None
    for entry in ordered:
        values = np.load(os.path.join(out_dir, entry["file"]), allow_pickle=False)
        if output is None:
            output = np.lib.format.open_memmap(tmp, mode="w+", dtype=values.dtype,
                                               shape=(nb_inputs,) + values.shape[1:])
        output[entry["start"]:entry["stop"]] = values
    shape, dtype = list(output.shape), str(output.dtype)
    output.flush()
    del output
    with open(tmp, "rb+") as file:
        os.fsync(file.fileno())
    os.replace(tmp, path)
    fsync_folder(out_dir)
    manifest = {
        "format": FORMAT,
        "complete": True,
        "settings": first,
        "nb_inputs": nb_inputs,
        "shards": ordered,
        "metrics": aggregate(ordered),
        "explanations": {"file": EXPLANATIONS, "shape": shape, "dtype": dtype,
                         "sha256": sha256_file(path)},
        "parts": sorted(parts),
    }
    write_json(os.path.join(out_dir, MANIFEST), manifest)
    return manifest


def _manifest(out_dir: str) -> Dict:
    manifest = read_json(os.path.join(out_dir, MANIFEST))
    return merge(out_dir) if manifest is None else manifest


def load(out_dir: str, verify: bool = False) -> np.ndarray:
    """The explanations of a finished run in input order, as a read-only memory-mapped array.

    Parameters
    ----------
    out_dir
        The run folder. When its parts are complete but not merged yet, they are merged first.
    verify
        Check the sha256 of the explanations file first (reads it whole once).
    """
    manifest = _manifest(out_dir)
    path = os.path.join(out_dir, manifest["explanations"]["file"])
    if verify and sha256_file(path) != manifest["explanations"]["sha256"]:
        raise ValueError(f"{path} does not match its checksum in the manifest: resume the run "
                         "to rewrite it")
    return np.load(path, mmap_mode="r", allow_pickle=False)


def summary(out_dir: str) -> Dict[str, float]:
    """The metrics of a finished run, `{name: value}`, each the mean over the inputs (shard
    values weighted by the shard sizes)."""
    return dict(_manifest(out_dir)["metrics"])
