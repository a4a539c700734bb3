"""Every worker process the project starts comes from here: forked directly when the parent is in a state
that copies safely, else from a forkserver that has already imported the work's module (`quick_context`, for
pools of short tasks and the scoring workers), or spawned from nothing (`shard_context`, for `gen run`'s shards)."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import cv2  # noqa: F401  (imported before the thread baseline below: see quick_context)
import numpy  # noqa: F401


def _tasks() -> set[str] | None:
    """Ids of this process's threads, native ones included, where /proc tells (Linux); else None."""
    try:
        return set(os.listdir("/proc/self/task"))
    except OSError:
        return None


# the threads numpy's and OpenCV's OpenBLAS start on import: idle, and fork-safe (OpenBLAS has atfork handlers)
IMPORT_THREADS = _tasks()


def forkserver_context(preload: str):
    """A forkserver context whose server imports `preload` once: fast starts, no parent threads or locks copied."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([preload])
    return ctx


def quick_context(preload: str):
    """Fork when it is safe, else `forkserver_context(preload)`. A fork starts a worker in ~10 ms with every
    module the parent imported (a forkserver takes ~0.9 s to import the work's module first); it is safe when
    the parent runs no thread beyond those its imports started (OpenCV's pool, once a resize has run, deadlocks
    a forked child's first cv2 call) and has loaded neither torch nor onnxruntime (their locks would be copied
    half-held)."""
    now = _tasks()
    quiet = threading.active_count() == 1 and (now is None or IMPORT_THREADS is None or now <= IMPORT_THREADS)
    if quiet and not {"torch", "onnxruntime"} & set(sys.modules):
        return mp.get_context("fork")
    return forkserver_context(preload)


def shard_context():
    """`gen run`'s shards are spawned: each runs for hours, pins its own GPU, and must die with the launcher
    (PR_SET_PDEATHSIG names the launcher as parent, which a forkserver's child does not have); the launcher has
    scanned sources by then (OpenCV's thread pool runs), so a fork would not be safe."""
    return mp.get_context("spawn")


def process_pool(workers: int, preload: str, initializer: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """`workers` processes from `quick_context(preload)`, each running `initializer` once (the audit's decoding
    checks, the detector's crops, the DeepfakeBench export)."""
    return ProcessPoolExecutor(workers, mp_context=quick_context(preload), initializer=initializer)
