"""Which worker this process is: explicit arguments, else the `TF_CONFIG` cluster, else one.

Shard `i` belongs to worker `i % num_workers`. In a `TF_CONFIG` cluster the chief (if any) is
worker 0 and `worker` task `k` is worker `k + 1` (`k` without a chief); evaluators and
parameter servers take no shard.
"""

import json
import os
from typing import Optional, Tuple

from xplique.commons.validation import ensure_positive_int


def worker_share(num_workers: Optional[int], worker_index: Optional[int]) -> Tuple[int, int]:
    """`(num_workers, worker_index)` of this process."""
    if num_workers is None and worker_index is None:
        return _from_tf_config()
    num_workers = ensure_positive_int(1 if num_workers is None else num_workers, "num_workers")
    worker_index = ensure_positive_int(0 if worker_index is None else worker_index,
                                       "worker_index", minimum=0)
    if worker_index >= num_workers:
        raise ValueError(f"`worker_index` must lie in [0, {num_workers - 1}] for "
                         f"num_workers={num_workers}. Received: worker_index={worker_index}")
    return num_workers, worker_index


def _from_tf_config() -> Tuple[int, int]:
    text = os.environ.get("TF_CONFIG")
    if not text:
        return 1, 0
    try:
        config = json.loads(text)
        cluster, task = config.get("cluster", {}), config.get("task", {})
        chiefs, workers = len(cluster.get("chief", [])), len(cluster.get("worker", []))
        kind, index = task.get("type"), int(task.get("index", 0))
    except (ValueError, AttributeError, TypeError) as error:
        raise ValueError(f"TF_CONFIG must be the JSON of a cluster and a task: {error}") from error
    if chiefs + workers == 0:
        return 1, 0
    if kind == "chief":
        return chiefs + workers, index
    if kind == "worker":
        return chiefs + workers, chiefs + index
    raise ValueError(f"TF_CONFIG task type {kind!r} takes no shard of a run: run it on the "
                     "chief and the workers")
