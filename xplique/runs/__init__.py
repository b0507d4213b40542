"""Dataset-scale runs: explain thousands of inputs shard by shard, resumably, on one or
several workers, with metrics computed on the fly (see docs/runs.md).

`explain_dataset(explainer, inputs, out_dir=...)` writes the explanations of a stream of
inputs shard by shard into a folder, each shard written atomically and recorded with its
checksum in a manifest; a killed run resumes where it stopped. `load(out_dir)` memory-maps
the explanations in input order, `summary(out_dir)` returns the aggregated metrics and
`merge(out_dir)` merges the manifest parts of several workers.
"""

from xplique.runs.readers import write_tfrecord
from xplique.runs.results import load, merge, summary
from xplique.runs.runner import explain_dataset

__all__ = ["explain_dataset", "load", "summary", "merge", "write_tfrecord"]
