"""Launchers: the shards of one run as K local processes (one GPU each with cuda), K Ray tasks on a Ray
cluster, or this process alone (one shard from the flags, or from Slurm's or torchrun's environment).

Each takes the run's configuration and its dataset and runs the same `Shard(dataset, settings, rank, world)`;
nothing but the launcher differs, so a dataset can be started on one and resumed on another.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

from .errors import SynthfakeError
from .dataset import Dataset
from .pools import shard_context
from .progress import make_progress
from .run_config import RunConfig, RunSettings
from .runner import Shard, WorkerResult, worker_process
from .tally import LineCount


def visible_gpus() -> list[str]:
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env:
        return [g for g in env.split(",") if g.strip()]
    try:
        import torch  # optional: only to count GPUs

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        return []


def _lines(ds: Dataset) -> LineCount:
    """Records plus failures written so far: a counter that reads only what was appended since its last call."""
    return LineCount([ds.manifest_dir, ds.failures_dir])


def _wait(lines: LineCount, procs: list, left: int, start: int, show: bool) -> None:
    """Until every worker exits; with `show`, one progress bar fed by the lines the workers append to `ds`."""
    if show:
        with make_progress() as prog:
            task = prog.add_task(f"{len(procs)} workers", total=left)
            while any(p.is_alive() for p in procs):
                time.sleep(0.5)
                prog.update(task, completed=min(left, lines() - start))
    for p in procs:
        p.join()


def run_here(config: RunConfig, ds: Dataset) -> WorkerResult:
    """This process is one shard: `config.shard` (flags, or $SLURM_* / $RANK, $WORLD_SIZE)."""
    return Shard(ds, config.settings, *config.shard).run()


def run_local(config: RunConfig, ds: Dataset) -> list[int]:
    """Start `config.workers` processes, one shard each, with one progress bar over all; returns exit codes."""
    st, workers = config.settings, config.workers
    gpus = visible_gpus() if st.device == "cuda" else []
    if st.device == "cuda" and not gpus:
        raise SynthfakeError("--device cuda: no GPU visible (CUDA_VISIBLE_DEVICES empty and torch sees none)")
    claim = ds.claim(workers)  # refused here, before any worker starts, while another world size writes
    left = len(ds.todo(0, 1, st.retry_failed))
    lines = _lines(ds)
    start = lines()
    quiet = replace(st, show_progress=False)  # the launcher's bar shows
    ctx = shard_context()
    procs = [ctx.Process(target=worker_process, args=(str(ds.root), quiet, r, workers, gpus, os.getpid()),
                         name=f"synthfake-worker-{r}") for r in range(workers)]
    old = signal.signal(signal.SIGTERM, _raise_interrupt)  # SIGTERM to the launcher stops its workers too
    try:
        for p in procs:
            p.start()
        _wait(lines, procs, left, start, st.show_progress)
    except KeyboardInterrupt:
        stop_workers(procs)
        raise
    finally:
        signal.signal(signal.SIGTERM, old)
        claim.close()
    return [p.exitcode for p in procs]


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def stop_workers(procs, grace: float = 10.0) -> None:
    """SIGTERM every live worker (each releases its locks and exits), SIGKILL what is still alive after `grace`."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


def run_ray(config: RunConfig, ds: Dataset) -> list[dict]:
    """The same shards as Ray tasks; DATASET must be on storage every node sees (NFS, Lustre...)."""
    try:
        import ray
    except ImportError:
        raise SynthfakeError("--executor ray: Ray is not installed; pip install 'synthfake[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"))
    st = config.settings
    quiet = replace(st, show_progress=False)
    task = ray.remote(num_gpus=1 if st.device == "cuda" else 0)(_ray_shard)
    refs = [task.remote(str(ds.root), quiet, r, config.workers) for r in range(config.workers)]
    return ray.get(refs)


def _ray_shard(dataset: str, settings: RunSettings, rank: int, world: int) -> dict:
    res = Shard(dataset, settings, rank, world).run()
    return {"rank": res.rank, "done": res.done, "failed": res.failed, "skipped": res.skipped}
