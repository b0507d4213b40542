"""Measuring tools shared by the benchmark scripts: seeded data, the bare model's compiled
passes, peak resident memory, the machine's description, the clocks and timing loops, and the
command-line options of the interleaved profiles (all_targets.py, lrp_profile.py,
distribution.py).

This module imports no `xplique`, so that `compare_xplique.py` can use it in a process where
`import xplique` must find the reference implementation.
"""

import gc
import os
import platform
import re
import resource
import statistics
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf
from models import MODELS, NB_CLASSES


def make_data(model_name: str, n: int, seed: int = 0):
    """`n` seeded uniform images for `model_name` and their integer labels."""
    shape = MODELS[model_name][1]
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 1.0, (n,) + shape).astype("float32")
    return images, np.arange(n) % NB_CLASSES


def model_and_data(model_name: str, n: int):
    """The benchmark model `model_name` (built), its input shape, and `n` seeded images and
    their labels (:func:`make_data`) as tensors (float32, int32)."""
    builder, shape = MODELS[model_name]
    model = builder()
    images, labels = make_data(model_name, n)
    return model, shape, tf.constant(images, tf.float32), tf.constant(labels, tf.int32)


class Bare:
    """The bare model: compiled forward and forward+backward passes, batch dimension relaxed."""

    def __init__(self, model, shape):
        spec = tf.TensorSpec((None,) + tuple(shape), tf.float32)
        self.forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])

        def gradient(x, y):
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = tf.reduce_sum(model(x, training=False) * y)
            return tape.gradient(score, x)

        self.gradient = tf.function(
            gradient, input_signature=[spec, tf.TensorSpec((None, NB_CLASSES), tf.float32)]
        )
        self.shape = tuple(shape)
        self._data: Dict[int, tuple] = {}

    def _batch(self, batch_size: int):
        if batch_size not in self._data:
            x = tf.random.stateless_uniform((batch_size,) + self.shape, seed=(1, 2))
            y = tf.one_hot(tf.range(batch_size) % NB_CLASSES, NB_CLASSES)
            self._data[batch_size] = (x, y)
        return self._data[batch_size]

    def seconds_per_evaluation(self, kind: str, batch_size: int, passes: int) -> float:
        """Wall time of `passes` full passes of `kind` ("forward" or "gradient"), per
        evaluation."""
        x, y = self._batch(batch_size)
        fn = (lambda: self.forward(x)) if kind == "forward" else (lambda: self.gradient(x, y))
        start = time.perf_counter()
        for _ in range(passes):
            np.asarray(fn())
        return (time.perf_counter() - start) / (passes * batch_size)

    def warm_up(self, batch_size: int) -> None:
        for kind in ("forward", "gradient"):
            self.seconds_per_evaluation(kind, batch_size, passes=1)


def _status_bytes(field: str) -> Optional[int]:
    """A memory field of /proc/self/status (`VmRSS`, `VmHWM`) in bytes, None without /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _ru_maxrss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _reset_peak_rss() -> bool:
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak resident memory growth of this process from the moment of :meth:`start`.

    Call :meth:`start` once the runtime is loaded (model built, one bare pass run); it records
    the resident memory (`VmRSS`) as the baseline and resets the peak
    (`/proc/self/clear_refs`). :meth:`mib` is then the peak resident memory (`VmHWM`) minus the
    baseline. `getrusage().ru_maxrss` is only the fallback where /proc is missing: it cannot be
    reset and, on Linux, keeps the peak of the process image before `exec` (a fork of the
    parent harness), which hides everything below the parent's size.
    """

    def start(self) -> "PeakMemory":
        gc.collect()
        self.baseline = _status_bytes("VmRSS") or _ru_maxrss_bytes()
        self.reset = _reset_peak_rss()
        return self

    def mib(self) -> float:
        peak = (_status_bytes("VmHWM") if self.reset else None) or _ru_maxrss_bytes()
        return (peak - self.baseline) / 2**20


def machine_description() -> str:
    """CPU count and model, Python, TensorFlow and Keras versions, GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = re.findall(r"^model name\s*:\s*(.+)$", info.read(), flags=re.M)
        cpu = names[0] if names else cpu
    except OSError:
        pass
    import keras

    return (
        f"{os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"GPU: {'yes' if tf.config.list_physical_devices('GPU') else 'none'}"
    )


def write_marked(path, section: str, start: str, end: str) -> None:
    """Replace the text between the markers `start` and `end` of the file `path` by `section`
    (which includes the markers); append `section` when the markers are absent."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
    path.write_text(text, encoding="utf-8")


def add_clock_options(parser) -> None:
    """`--cpu-time` and `--threads`: on a shared machine, the process CPU time of
    single-threaded kernels measures the work, where wall times swing with other processes."""
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process CPU time (all threads) instead of the wall "
                             "clock: the work done, much less sensitive to other processes")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra- and inter-op threads (0: TensorFlow's default)")


def chosen_clock(args):
    """Apply `args.threads` to TensorFlow and return the clock `args.cpu_time` asks for."""
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    return time.process_time if args.cpu_time else time.perf_counter


def clock_description(args) -> str:
    """`clock: ..., threads: ...` for the header of a report."""
    return (f"clock: {'process CPU time' if args.cpu_time else 'wall'}, "
            f"threads: {args.threads or 'default'}")


def timed(fn, clock) -> float:
    """Seconds on `clock` of one call of `fn`, its result read back (`.numpy()`)."""
    start = clock()
    out = fn()
    _ = out.numpy() if hasattr(out, "numpy") else out
    return clock() - start


def call_seconds(fn, repeats: int) -> List[float]:
    """Wall times of `repeats` calls of `fn`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of `repeats` calls of `fn`, after one warm-up call (tracing)."""
    fn()
    return statistics.median(call_seconds(fn, repeats))


def median_range(values, digits: int = 2) -> str:
    """`median (min-max)` of `values`: the median with `digits` decimals, the range with 2."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.2f}-{max(values):.2f})"


def add_profile_options(parser, methods: str, images: int, repeats: int) -> None:
    """The options of the interleaved profiles: `--models`, `--methods` (default `methods`),
    `--images`, `--batch-size`, `--repeats`, then the clock options (:func:`add_clock_options`)."""
    parser.add_argument("--models", default="small_cnn,resnet_like")
    parser.add_argument("--methods", default=methods)
    parser.add_argument("--images", type=int, default=images)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=repeats)
    add_clock_options(parser)
