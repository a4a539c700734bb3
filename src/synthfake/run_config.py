"""One `gen run` as asked for, built once from the flags (a recipe under them) and checked before anything is
written: what the dataset holds (the plan's fields), how this run goes (`RunSettings`: nothing there changes a
sample's bytes) and how it is launched (local processes, Ray tasks, or the one shard this process is).
Launchers (`executors.py`) take this object and the dataset; shards (`runner.Shard`) take the settings."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import checks
from .errors import SynthfakeError
from .generators import Context

ENV_WORLD = [("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"), ("SLURM_PROCID", "SLURM_NTASKS"),
             ("RANK", "WORLD_SIZE")]
EXECUTORS = ("local", "ray")
# Variables earlier versions read, and what took their place (the environment keeps only secrets and machine paths)
RETIRED_ENV = {"SYNTHFAKE_ALLOW_UNVERIFIED": "--allow-unverified",
               "SYNTHFAKE_DIFFUSERS_BATCH": "--backend-opt diffusers_t2i.batch=K",
               **{f"SYNTHFAKE_HTTP_{k.upper()}": f"--backend-opt http_t2i.{k}=..." for k in (
                   "timeout", "retries", "backoff", "max_wait", "concurrency", "poll_interval", "deadline", "key_env",
                   "key_origins")}}
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class RunSettings:
    """How a run goes on this machine: device, weights folder, whether failed samples are tried again, progress,
    the backends' run options (`--backend-opt` of an `Option(run=True)`: timeouts, batch sizes) and whether
    weights that differ from their published sha256 may be used (`--allow-unverified`). None of it is in the
    plan: a dataset may be resumed with other values."""

    device: str = "cpu"
    weights_dir: Path | None = None
    retry_failed: bool = False
    show_progress: bool = True
    backend_opts: dict = field(default_factory=dict)
    allow_unverified: bool = False
    check_records: bool = True  # a shard validates its part's records at start (False: its launcher just did)

    def context(self, cache_dir: Path, backend_opts: dict) -> Context:
        """What a backend is handed: these settings with the dataset's cache and the plan's backend options (this
        run's options beside them)."""
        merged = {b: {**backend_opts.get(b, {}), **self.backend_opts.get(b, {})}
                  for b in (*backend_opts, *self.backend_opts)}
        return Context(cache_dir=cache_dir, device=self.device, weights_dir=self.weights_dir,
                       backend_opts=merged, allow_unverified=self.allow_unverified)


@dataclass(frozen=True)
class RunConfig:
    """Everything one `gen run` was asked for. `launcher`: 'local' (K processes), 'ray' (K Ray tasks) or 'here'
    (this process is the shard `shard`: flags, or Slurm's / torchrun's environment)."""

    out: Path
    sources: Path
    plan_fields: dict
    identity_threshold: float
    settings: RunSettings = field(default_factory=RunSettings)
    launcher: str = "here"
    workers: int = 1
    shard: tuple[int, int] = (0, 1)

    @classmethod
    def build(cls, out: Path, sources: Path, plan_fields: dict, identity_threshold: float, settings: RunSettings,
              executor: str, workers: int | None, rank: int | None, world_size: int | None) -> "RunConfig":
        """Checked from the flags, before anything is written; one line naming the option on a bad value."""
        for flag, value, known in (("--executor", executor, EXECUTORS), ("--device", settings.device, DEVICES)):
            if value not in known:  # the one that is wrong, not both (--executor Ray had named --device cpu too)
                raise SynthfakeError(f"{flag} {value}: expected {' or '.join(known)}")
        if workers and (rank is not None or world_size is not None):
            raise SynthfakeError("--workers starts its own shards; do not combine it with --rank/--world-size")
        if plan_fields["n"] + plan_fields["reals"] == 0:
            raise SynthfakeError(f"--n {plan_fields['n']} --reals {plan_fields['reals']}: nothing to make; give "
                                 f"--n (and/or --reals) of at least 1")
        if not sources.is_dir():
            raise SynthfakeError(f"--sources {sources}: not a folder")
        checks.output_dir(out, "--out", {"--sources": sources})  # a dataset inside its sources would change them
        from .dataset import foreign_entries

        if other := foreign_entries(out):
            raise SynthfakeError(f"--out {out}: holds no dataset but {len(other)} other entr"
                                 f"{'y' if len(other) == 1 else 'ies'} ({', '.join(other[:3])}"
                                 f"{', ...' if len(other) > 3 else ''}), among which the dataset's media and manifest "
                                 f"would go; give a new or empty folder")
        if executor == "ray":
            if rank is not None:  # Ray runs every shard of --world-size itself
                raise SynthfakeError(f"--rank {rank}: --executor ray runs all --world-size shards as Ray tasks; "
                                     f"drop --rank (or run one shard without Ray)")
            if importlib.util.find_spec("ray") is None:
                raise SynthfakeError("--executor ray: Ray is not installed; pip install 'synthfake[ray]'")
            return cls(out, sources, plan_fields, identity_threshold, settings, "ray", workers or world_size or 1)
        if workers and workers > 1:
            return cls(out, sources, plan_fields, identity_threshold, settings, "local", workers)
        shard = (0, 1) if workers else world_from_env(rank, world_size)  # --workers 1: one shard, whatever $RANK says
        return cls(out, sources, plan_fields, identity_threshold, settings, "here", 1, shard)


def _env_order() -> list[tuple[str, str]]:
    """ENV_WORLD, with torchrun's RANK/WORLD_SIZE before Slurm's tasks when torchrun started this process: under
    sbatch every process torchrun starts inherits SLURM_PROCID=0 and SLURM_NTASKS=1, and all of them had run as
    shard 0 of 1 (one made the dataset, the others stopped on its lock; 7 Dec sweep). torchrun inside an array task
    is refused: which of the two numbers the shards is not for us to guess."""
    if not (os.environ.get("TORCHELASTIC_RUN_ID") or os.environ.get("LOCAL_RANK")) or os.environ.get("RANK") is None:
        return ENV_WORLD
    if os.environ.get("SLURM_ARRAY_TASK_ID") is not None:
        raise SynthfakeError("$SLURM_ARRAY_TASK_ID and torchrun's $RANK are both set: give --rank and --world-size "
                             "(e.g. task * nproc + $RANK of tasks * nproc)")
    return [ENV_WORLD[2], ENV_WORLD[0], ENV_WORLD[1]]


def world_from_env(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """Each of rank and world size from its flag, else from the environment: the first of Slurm array, Slurm
    tasks, torchrun whose variables for what the flags leave out are set (torchrun first when it started this
    process: `_env_order`); else rank 0 of a single worker. A
    script that writes `--world-size N` keeps N when one index is resubmitted (`sbatch --array=3` sets
    SLURM_ARRAY_TASK_COUNT=1) and takes its rank from $SLURM_ARRAY_TASK_ID. Checked before anything is written:
    a bad value (RANK=x, rank >= world size) is one line naming where each came from."""
    r, w, r_from, w_from = rank, world_size, "--rank", "--world-size"
    if rank is None or world_size is None:
        for kr, kw in _env_order():
            read = [k for k, flag in ((kr, rank), (kw, world_size)) if flag is None]
            if all(os.environ.get(k) is not None for k in read):
                try:
                    got = {k: int(os.environ[k]) for k in read}
                except ValueError:
                    given = " / ".join(f"${k}={os.environ[k]!r}" for k in read)
                    raise SynthfakeError(f"{given}: expected whole numbers") from None
                if rank is None:
                    r, r_from = got[kr], f"${kr}"
                if world_size is None:
                    w, w_from = got[kw], f"${kw}"
                break
    r, w = (0 if r is None else r), (1 if w is None else w)
    if not (w >= 1 and 0 <= r < w):
        raise SynthfakeError(f"{r_from}/{w_from}: rank {r} / world size {w}: need 0 <= rank < world size")
    return r, w


def retired_env() -> list[str]:
    """One line per variable an earlier version read that is set here: it is ignored now; what replaces it."""
    return [f"${k} is no longer read; use {v}" for k, v in RETIRED_ENV.items() if os.environ.get(k) is not None]
