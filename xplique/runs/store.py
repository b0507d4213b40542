"""Crash-safe files of a run: atomic writes, checksums and the manifests.

Every file a run writes goes through :func:`atomic_write`: the bytes go to a temporary file in
the same folder, which is flushed, fsynced and renamed over the final name (then the folder is
fsynced), so a reader sees either the old file or the new one, never a torn one, whenever the
process is killed. A shard is recorded in its worker's manifest part only after its file is in
place; a shard file present but not recorded (killed in between) is simply recomputed.

Layout of a run folder::

    shards/shard-000000.npy ...        explanations of inputs [i * shard_size, (i + 1) * shard_size)
    part-{w}-of-{n}.json               the manifest part of worker w of n (its finished shards)
    manifest.json                      the merged manifest, written once every shard is done
    explanations.npy                   every shard in input order (memory-mapped by `load`)
"""

import hashlib
import io
import json
import os
import re
from typing import Dict, Optional

import numpy as np

#: Version tag written in every manifest.
FORMAT = "xplique.runs/1"
MANIFEST = "manifest.json"
EXPLANATIONS = "explanations.npy"
SHARDS = "shards"
_PART = re.compile(r"^part-(\d+)-of-(\d+)\.json$")
_TMP = ".tmp-"


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str, chunk: int = 1 << 22) -> Optional[str]:
    """Hex sha256 of the file at `path`, None when it does not exist."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(chunk), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def fsync_folder(folder: str) -> None:
    """Make a rename inside `folder` durable (no-op where folders cannot be opened)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def atomic_write(path: str, data: bytes) -> None:
    """Write `data` to `path` through a fsynced temporary file renamed over it."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = f"{path}{_TMP}{os.getpid()}"
    with open(tmp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    fsync_folder(folder)


def array_bytes(array: np.ndarray) -> bytes:
    """`array` serialised in the .npy format."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_json(path: str, content: Dict) -> None:
    """Atomically write `content` as indented JSON."""
    atomic_write(path, (json.dumps(content, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def read_json(path: str) -> Optional[Dict]:
    """The JSON content of `path`, None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as error:  # only a foreign file: ours are written atomically
        raise ValueError(f"`out_dir` holds an unreadable manifest {path}: {error}") from error


def shard_name(index: int) -> str:
    """Path of shard `index` relative to the run folder."""
    return f"{SHARDS}/shard-{index:06d}.npy"


def part_name(worker: int, workers: int) -> str:
    """File name of the manifest part of `worker` among `workers`."""
    return f"part-{worker}-of-{workers}.json"


def read_parts(out_dir: str) -> Dict[str, Dict]:
    """Every manifest part of the run folder, by file name."""
    if not os.path.isdir(out_dir):
        return {}
    parts = {}
    for name in sorted(os.listdir(out_dir)):
        if _PART.match(name):
            content = read_json(os.path.join(out_dir, name))
            if content is not None:
                parts[name] = content
    return parts


def remove_leftovers(out_dir: str, mine) -> None:
    """Delete the temporary files a killed worker left (`mine(name)` says which are ours)."""
    for folder in (out_dir, os.path.join(out_dir, SHARDS)):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if _TMP in name and mine(name.split(_TMP)[0]):
                try:
                    os.remove(os.path.join(folder, name))
                except FileNotFoundError:  # another worker removed it first
                    pass
