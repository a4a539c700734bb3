"""Worker processes: forked from a forkserver that has already imported the work's module, or forked directly
when the parent is in a state that copies safely (`quick_context`)."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Callable


def forkserver_context(preload: str):
    """A forkserver context whose server imports `preload` once: fast starts, no parent threads or locks copied."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([preload])
    return ctx


def quick_context(preload: str):
    """Fork when it is safe, else `forkserver_context(preload)`. A fork starts a worker in ~10 ms with every
    module the parent imported (a forkserver takes ~0.9 s to import the work's module first); it is safe when
    the parent runs one thread, native ones included (OpenCV's pool, once a resize has run, deadlocks a forked
    child's first cv2 call), and has loaded neither torch nor onnxruntime (their locks would be copied
    half-held)."""
    if _threads() == 1 and not {"torch", "onnxruntime"} & set(sys.modules):
        return mp.get_context("fork")
    return forkserver_context(preload)


def _threads() -> int:
    """Threads of this process, native ones included where /proc tells (Linux); else Python's own."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 2 if threading.active_count() > 1 else 1


def process_pool(workers: int, preload: str, initializer: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """`workers` processes from `forkserver_context(preload)`, each running `initializer` once."""
    return ProcessPoolExecutor(workers, mp_context=forkserver_context(preload), initializer=initializer)
