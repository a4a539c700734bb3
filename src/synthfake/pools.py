"""Every worker process the project starts comes from here: forked directly when the parent is in a state
that copies safely, else from a forkserver that has already imported the work's module (`quick_context`, for
pools of short tasks and the scoring workers), or spawned from nothing (`shard_context`, for `gen run`'s shards).

Every worker dies with the process that started it, even when that one is killed by SIGKILL (the OOM killer,
Slurm): `die_with_parent` (PR_SET_PDEATHSIG). A worker of `quick_context` does so on its own as it starts, and a
forkserver too, so that the chain launcher -> forkserver -> worker ends whole (a forkserver otherwise outlives its
launcher while a worker lives, and an idle worker waits for work forever). Such a worker ignores SIGINT: Ctrl-C
reaches the whole process group, and the launcher is the one to stop the pool (`Pool.stop`)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import context as _mpc
from typing import Callable

import cv2  # noqa: F401  (imported before the thread baseline below: see quick_context)
import numpy  # noqa: F401

from .errors import EXIT_KILLED


def _tasks() -> set[str] | None:
    """Ids of this process's threads, native ones included, where /proc tells (Linux); else None."""
    try:
        return set(os.listdir("/proc/self/task"))
    except OSError:
        return None


# the threads numpy's and OpenCV's OpenBLAS start on import: idle, and fork-safe (OpenBLAS has atfork handlers)
IMPORT_THREADS = _tasks()


def die_with_parent(parent: int) -> None:
    """Linux: the kernel sends this process SIGTERM when its parent dies (even by SIGKILL), so no orphan holds a
    lock or its memory; exits at once (143) when `parent` died before that took effect. The kernel watches the
    parent's *thread* that started this process: start a worker from a thread that outlives it."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(EXIT_KILLED)


_FORKER: list[int | None] = [None]  # in a forked child: the pid of the process that forked it (set before each fork)
os.register_at_fork(before=lambda: _FORKER.__setitem__(0, os.getpid()))


def _worker_start() -> None:
    """First thing in a worker of `quick_context`: SIGINT ignored, dies with the process that forked it (the
    launcher, or the forkserver, which itself dies with the launcher)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the launcher's to handle: it stops the pool
    die_with_parent(_FORKER[0] if _FORKER[0] is not None else os.getppid())


class _StartsAsWorker:
    """Mixed into a context's Process class: `_worker_start` runs before the process's target."""

    def run(self):
        _worker_start()
        super().run()


class _ForkProcess(_StartsAsWorker, _mpc.ForkProcess):
    pass


class _ForkServerProcess(_StartsAsWorker, _mpc.ForkServerProcess):
    pass


class _ForkContext(_mpc.ForkContext):
    Process = _ForkProcess


class _ForkServerContext(_mpc.ForkServerContext):
    Process = _ForkServerProcess


def _in_forkserver_start() -> bool:
    """True while a forkserver imports its preload modules (this one, first: `forkserver_context`)."""
    fs = sys.modules.get("multiprocessing.forkserver")
    f = sys._getframe(1)
    while fs is not None and f is not None:
        if f.f_code is fs.main.__code__:
            return True
        f = f.f_back
    return False


if _in_forkserver_start():  # a launcher that died before this is seen by the server's alive pipe: it exits too
    die_with_parent(os.getppid())


def forkserver_context(preload: str):
    """A forkserver context whose server imports `preload` once: fast starts, no parent threads or locks copied.
    The server is started here, if it is not running: it imports this module first and so dies with this process
    (PR_SET_PDEATHSIG follows the thread that started it: call this from a thread that outlives the pools)."""
    ctx = _ForkServerContext()
    ctx.set_forkserver_preload([__name__, preload])
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return ctx


def quick_context(preload: str):
    """Fork when it is safe, else `forkserver_context(preload)`. A fork starts a worker in ~10 ms with every
    module the parent imported (a forkserver takes ~0.9 s to import the work's module first); it is safe when
    the parent runs no thread beyond those its imports started (OpenCV's pool, once a resize has run, deadlocks
    a forked child's first cv2 call) and has loaded neither torch nor onnxruntime (their locks would be copied
    half-held). Its workers ignore SIGINT and die with the launcher (module docstring)."""
    now = _tasks()
    quiet = threading.active_count() == 1 and (now is None or IMPORT_THREADS is None or now <= IMPORT_THREADS)
    if quiet and not {"torch", "onnxruntime"} & set(sys.modules):
        return _ForkContext()
    return forkserver_context(preload)


def shard_context():
    """`gen run`'s shards are spawned: each runs for hours, pins its own GPU, and must die with the launcher
    (`die_with_parent` in runner.worker_process: it names the launcher, so no forkserver between); the launcher
    has scanned sources by then (OpenCV's thread pool runs), so a fork would not be safe."""
    return mp.get_context("spawn")


class Pool(ProcessPoolExecutor):
    """A ProcessPoolExecutor whose workers ignore Ctrl-C: the launcher stops them. On a KeyboardInterrupt (or
    SystemExit) leaving its `with` block, or a `shutdown()` while one unwinds, it cancels the queued work and
    ends the workers now (`stop`), rather than letting them finish every task already submitted."""

    def stop(self, grace: float = 5.0) -> None:
        """Cancel every task not started, end the workers (SIGTERM, then SIGKILL after `grace` s) and wait for
        them and the pool's manager thread; a second Ctrl-C meanwhile is ignored (main thread)."""
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            procs = list((self._processes or {}).values())
            manager = self._executor_manager_thread
            super().shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.exitcode is None:
                    p.terminate()
            for p in procs:
                p.join(grace)
                if p.exitcode is None:
                    p.kill()
                    p.join(grace)
            if manager is not None:
                manager.join(grace)
        finally:
            if main:
                signal.signal(signal.SIGINT, old)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if isinstance(sys.exc_info()[1], (KeyboardInterrupt, SystemExit)):
            self.stop()
        else:
            super().shutdown(wait, cancel_futures=cancel_futures)

    def __exit__(self, exc_type, exc_val, exc_tb):
        if exc_type is not None and issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            self.stop()
        else:
            super().shutdown(wait=True)
        return False


def process_pool(workers: int, preload: str, initializer: Callable[[], None] | None = None) -> Pool:
    """`workers` processes from `quick_context(preload)`, each running `initializer` once (the audit's decoding
    checks, the detector's crops, the DeepfakeBench export). They are started by the thread that first submits,
    and die with it (PR_SET_PDEATHSIG): use a pool from a thread that outlives it."""
    return Pool(workers, mp_context=quick_context(preload), initializer=initializer)
