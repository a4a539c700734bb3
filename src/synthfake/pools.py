"""Worker process pools, started one way: forked from a forkserver that has already imported the work's module."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from typing import Callable


def forkserver_context(preload: str):
    """A forkserver context whose server imports `preload` once: fast starts, no parent threads or locks copied."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([preload])
    return ctx


def process_pool(workers: int, preload: str, initializer: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """`workers` processes from `forkserver_context(preload)`, each running `initializer` once."""
    return ProcessPoolExecutor(workers, mp_context=forkserver_context(preload), initializer=initializer)
