"""`explain_dataset`: explain a dataset shard by shard, resumably, on one or several workers."""

import copy
import os
from typing import Dict, Optional

import numpy as np
from tqdm.auto import tqdm

from xplique.commons.validation import ensure_positive_int
from xplique.runs.readers import open_inputs
from xplique.runs.results import coverage, merge, valid_shards
from xplique.runs.settings import (
    check_same_settings,
    inputs_fingerprint,
    run_settings,
    shard_inputs_sha256,
)
from xplique.runs.shard_metrics import ShardMetrics, resolve_metrics
from xplique.runs.store import (
    EXPLANATIONS,
    FORMAT,
    MANIFEST,
    SHARDS,
    array_bytes,
    atomic_write,
    part_name,
    read_json,
    read_parts,
    remove_leftovers,
    sha256_bytes,
    shard_name,
    write_json,
)
from xplique.runs.workers import worker_share


def explain_dataset(explainer, inputs, targets=None, out_dir: str = "xplique-run",
                    shard_size: int = 256, metrics=(), resume: bool = True,
                    verbose: bool = False, *, num_workers: Optional[int] = None,
                    worker_index: Optional[int] = None) -> Dict:
    """Explain `inputs` with `explainer` shard by shard into `out_dir`, resumably.

    The inputs are streamed: shard `i` holds inputs `[i * shard_size, (i + 1) * shard_size)`,
    is explained, written to `out_dir/shards/` (temporary file, fsync, rename) and recorded
    with its sha256 in this worker's manifest part (itself rewritten atomically). Killed at any
    moment, the run resumes where it stopped and ends with exactly the explanations of an
    uninterrupted run. When every shard is done, the parts are merged into `manifest.json` and
    `explanations.npy` (see :func:`xplique.runs.load` and :func:`xplique.runs.summary`).

    Parameters
    ----------
    explainer
        An attribution method, e.g. `Saliency(model)`. Seeded methods give exactly the
        explanations of one call on the whole array: each shard is explained with its global
        input offset, which feeds the noise streams.
    inputs
        A numpy array (a memory map included) or tensor `(N, ...)`, a `tf.data.Dataset`
        (batched or not) of inputs or `(inputs, targets)` pairs, or a path: a `.npy` file, a
        folder of `.npy`/`.png` files (one input each, in name order) or a TFRecord file of
        serialised float32 tensors (see :func:`xplique.runs.write_tfrecord`).
    targets
        Targets as `explain` takes them (class indices `(N,)` or one-hot rows; an array, a
        memory map or a `.npy` path), sliced per shard; None explains the top class.
    out_dir
        The run folder, created if needed.
    shard_size
        Inputs per shard (the unit of checkpointing and of metric evaluation).
    metrics
        Metrics evaluated on each shard and aggregated: names (`"Deletion"`), classes of
        :mod:`xplique.metrics`, or `(name, {parameter: value})` pairs.
    resume
        Continue the run already in `out_dir` (finished shards are verified by checksum and
        skipped; corrupt or missing ones recomputed). False refuses a folder holding a run.
    verbose
        Show a progress bar (inputs per second, ETA) on stderr.
    num_workers, worker_index
        Keyword-only. This process is worker `worker_index` of `num_workers` and explains the
        shards `i` with `i % num_workers == worker_index`. None reads them from `TF_CONFIG`
        (one worker without it).

    Returns
    -------
    manifest
        The merged manifest (a dict) when the run is complete, else this worker's part (the
        other workers are still running; any of them, or :func:`xplique.runs.merge`, merges).

    Notes
    -----
    A stochastic method with `seed=None` draws a new seed per shard and per resume: give a
    seed for reproducible, resumable runs. Settings (method class and parameters, a sha256 of
    the model's weights, the inputs' shape and a sha256 of their first shard, the shard size
    and metrics) are recorded; resuming with other ones raises a one-line ValueError, and each
    finished shard's inputs are re-hashed when read so different inputs are refused too.
    `batch_size` and `verbose` are not compared (they do not change the explanations). TTA
    around a stochastic method numbers its augmented copies per slice itself, so its shards
    are not bit-equal to one call (FORGrad's are).
    """
    shard_size = ensure_positive_int(shard_size, "shard_size")
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"`out_dir` must be a folder path. Received: {type(out_dir).__name__}")
    out_dir = os.fspath(out_dir)
    workers, worker = worker_share(num_workers, worker_index)
    specs = resolve_metrics(metrics)
    source = open_inputs(inputs, targets)
    first = next(source.shards(shard_size, lambda index: index == 0), None)
    if first is None:
        raise ValueError("`inputs` is empty: there is nothing to explain")
    settings = run_settings(explainer, specs, shard_size,
                            inputs_fingerprint(first[2], first[3], source.nb_inputs))

    os.makedirs(os.path.join(out_dir, SHARDS), exist_ok=True)
    parts = read_parts(out_dir)
    merged = read_json(os.path.join(out_dir, MANIFEST))
    recorded = list(parts.values()) + ([merged] if merged else [])
    if recorded and not resume:
        raise ValueError(f"`out_dir` {out_dir} already holds a run: pass resume=True "
                         "(--resume) to continue it, or write to another folder")
    for content in recorded:
        check_same_settings(content["settings"], settings, out_dir)

    def mine(index: int) -> bool:
        return index % workers == worker

    remove_leftovers(out_dir, lambda name: _is_own_file(name, mine, worker, workers))
    done = valid_shards(out_dir, parts)
    own_path = os.path.join(out_dir, part_name(worker, workers))
    own = parts.get(part_name(worker, workers), {}).get("shards", {})
    part = {"format": FORMAT, "settings": settings, "worker": [worker, workers],
            "nb_inputs": source.nb_inputs, "complete": False,
            "shards": {key: entry for key, entry in own.items() if int(key) in done}}
    write_json(own_path, part)

    evaluator = ShardMetrics(specs, explainer)
    with tqdm(total=_share(source.nb_inputs, shard_size, mine), disable=not verbose,
              unit="input", desc=f"{type(explainer).__name__} shards", dynamic_ncols=True,
              mininterval=0.0 if verbose else 0.1) as bar:
        for index, start, x, y in source.shards(shard_size, mine):
            digest = shard_inputs_sha256(x, y)
            if index in done:
                if done[index]["inputs_sha256"] != digest:
                    raise ValueError(
                        f"`out_dir` {out_dir} holds a run with other settings (inputs of shard "
                        f"{index} differ): resume it with the same inputs or write to another "
                        "folder")
                bar.update(len(x))
                continue
            explanations = explain_at(explainer, x, y, start)
            data = array_bytes(explanations)
            atomic_write(os.path.join(out_dir, shard_name(index)), data)
            part["shards"][str(index)] = {
                "start": start, "stop": start + len(x), "file": shard_name(index),
                "sha256": sha256_bytes(data), "inputs_sha256": digest,
                "metrics": evaluator.evaluate(x, y, explanations),
            }
            write_json(own_path, part)
            bar.update(len(x))
    part.update(nb_inputs=source.nb_inputs, complete=True)
    write_json(own_path, part)
    parts = read_parts(out_dir)
    _, missing = coverage(parts, valid_shards(out_dir, parts))
    if missing == []:
        return merge(out_dir)
    return part


def explain_at(explainer, inputs: np.ndarray, targets, first_input: int) -> np.ndarray:
    """`explainer(inputs, targets)` for inputs starting at global index `first_input`.

    Methods draw their noise from counter-based streams indexed by the global input index
    (`_explain_group(inputs, targets, first_input)`): a shallow copy of the explainer (sharing
    its compiled kernels, so nothing is retraced) shifts that index, and `explain` does the rest
    (targets, batching, channel reduction), so a shard gets exactly the rows of one call on the
    whole array. The caller's explainer is not modified.
    """
    return np.asarray(shifted(explainer, first_input).explain(inputs, targets))


def shifted(explainer, offset: int):
    """A shallow copy of `explainer` whose inputs are numbered from `offset` (through a wrapper
    such as FORGrad, the wrapped explainer is shifted); `explainer` itself when `offset` is 0
    or it numbers no inputs."""
    if not offset:
        return explainer
    if hasattr(explainer, "_explain_group"):
        group = explainer._explain_group  # pylint: disable=protected-access
        copied = copy.copy(explainer)
        copied._explain_group = (  # pylint: disable=protected-access
            lambda x, y, first: group(x, y, first + offset))
        return copied
    inner = getattr(explainer, "explainer", None)
    if inner is not None and hasattr(inner, "explain"):
        copied = copy.copy(explainer)
        copied.explainer = shifted(inner, offset)
        return copied
    return explainer


def _share(nb_inputs, shard_size: int, mine) -> Optional[int]:
    """Inputs of this worker's shards (None when the number of inputs is unknown)."""
    if nb_inputs is None:
        return None
    return sum(min(shard_size, nb_inputs - start)
               for index, start in enumerate(range(0, nb_inputs, shard_size)) if mine(index))


def _is_own_file(name: str, mine, worker: int, workers: int) -> bool:
    if name == part_name(worker, workers):
        return True
    if name in (MANIFEST, EXPLANATIONS):  # a merge killed midway (any worker may merge)
        return workers == 1
    base = os.path.basename(name)
    if base.startswith("shard-") and base.endswith(".npy"):
        return mine(int(base[len("shard-"):-len(".npy")]))
    return False
