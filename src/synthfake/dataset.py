"""A dataset folder: its plan, its sources index, the resolved sample table, and every path inside it.

    DATASET/plan.json        written once; a run with another plan fails
    DATASET/sources.json     the sources index the plan was made from
    DATASET/manifest/        one JSONL file per worker (records), and each worker's lock
    DATASET/manifest/claim.json  the world size now writing (with .claim.lock and .world-W.lock)
    DATASET/failures/        one JSONL file per worker (failed samples)
    DATASET/logs/            one log per worker: tracebacks of unexpected exceptions (bugs)
    DATASET/media/SPLIT/TYPE/ID.(mp4|png)   (temporary names: .ID.rRofW.tmp*, beside the final one)
    DATASET/cache/           per-video landmark tracks, pre-degradation stills, detector crops
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

from .errors import PlanError, SynthfakeError
from .files import lock_nowait, write_json_atomic
from .manifest import Failure, Record, part_name, read_failures, read_records
from .plan import Plan, SampleTable
from .sample_spec import sample_id
from .sources import SourceIndex, load_index, save_index, scan

PLAN_FILE = "plan.json"
SOURCES_FILE = "sources.json"


@dataclass
class Dataset:
    """One dataset folder with its plan and sources index, read (or built) once per process."""

    root: Path
    plan: Plan
    index: SourceIndex

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, root: str | Path) -> "Dataset":
        """A dataset `gen run` made: its plan and sources index, as written."""
        root = Path(root)
        if not (root / PLAN_FILE).exists():
            raise SynthfakeError(f"{root / PLAN_FILE}: no plan here; is {root} a dataset made by `gen run`?")
        plan = Plan.from_file(root / PLAN_FILE)
        index = load_index(root / SOURCES_FILE)
        if index is None:
            raise SynthfakeError(f"{root / SOURCES_FILE}: sources index missing")
        return cls(root, plan, index)

    @classmethod
    def prepare(cls, root: str | Path, sources_dir: str | Path, plan_fields: dict, threshold: float,
                on_file: Callable[[str], None] | None = None, show: bool = False) -> "Dataset":
        """Scan (reusing the cached index) and build the plan from `plan_fields`; nothing is written (`save`).

        A dataset that already has a plan must get the same plan from the same sources; otherwise this fails.
        """
        root = Path(root)
        cached = load_index(root / SOURCES_FILE)
        index = _as_written(scan(sources_dir, cached, threshold, on_file, show=show))
        old = Plan.from_file(root / PLAN_FILE) if (root / PLAN_FILE).exists() else None
        if old is not None:  # a plan written by an older synthfake keeps the drawing rules of its version
            plan_fields = {**plan_fields, "version": old.version}
        plan = _as_written(Plan(**plan_fields, sources_digest=index.digest))
        if old is not None:
            if cached is not None and old.sources_digest != index.digest:
                raise PlanError(f"{root / PLAN_FILE}: the files under {sources_dir} changed since this plan was "
                                f"made; use a new --out or restore the sources")
            if old.model_dump() != plan.model_dump():
                raise PlanError(f"{root / PLAN_FILE}: this dataset holds another plan ({_diff(old, plan)}); "
                                f"rerun with the same settings or use a new --out")
            plan, index = old, cached or index  # the written plan keeps its ids
        return cls(root, plan, index)

    def save(self) -> None:
        """Build the sample table (a plan the sources cannot supply fails here), then write sources.json and
        plan.json once (a dataset that has a plan keeps it); temporary files of writes a kill cut are removed."""
        self.table  # noqa: B018
        self.clean_stale_tmp()
        if not self.plan_file.exists():
            made = next((p for p in reversed((self.root, *self.root.parents)) if not p.exists()), None)
            self.root.mkdir(parents=True, exist_ok=True)
            try:
                save_index(self.root / SOURCES_FILE, self.index)
                write_json_atomic(self.plan_file, self.plan.model_dump())
            except BaseException:  # a full disk: no half-made dataset folder is left behind
                if made is not None:
                    shutil.rmtree(made, ignore_errors=True)
                raise

    @cached_property
    def table(self) -> SampleTable:
        """The resolved sample table (checks that every split can supply its types)."""
        return SampleTable(self.plan, self.index)

    # ------------------------------------------------------------------ paths
    @property
    def plan_file(self) -> Path:
        return self.root / PLAN_FILE

    @property
    def manifest_dir(self) -> Path:
        return self.root / "manifest"

    @property
    def failures_dir(self) -> Path:
        return self.root / "failures"

    @property
    def media_root(self) -> Path:
        return self.root / "media"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def media_dir(self, split: str, sample_type: str) -> Path:
        return self.media_root / split / sample_type

    def tmp_stem(self, split: str, sample_type: str, sample: str, rank: int, world: int) -> Path:
        """Where a worker writes a sample before it is complete; the writer adds the suffix."""
        return self.media_dir(split, sample_type) / f".{sample}.r{rank}of{world}.tmp"

    def tmp_files(self, rank: int, world: int, split: str = "*", sample_type: str = "*", sample: str = "*"):
        """Temporary files of worker (rank, world) left in media/ (of one sample, or all)."""
        return self.media_root.glob(f"{split}/{sample_type}/.{sample}.r{rank}of{world}.tmp*")

    def worker_files(self, rank: int, world: int) -> tuple[Path, Path, Path]:
        """(manifest file, failures file, lock file) of worker (rank, world)."""
        name = part_name(rank, world)
        return self.manifest_dir / name, self.failures_dir / name, self.manifest_dir / f".{name}.lock"

    def worker_log(self, rank: int, world: int) -> Path:
        """Worker (rank, world)'s log: tracebacks of unexpected exceptions, named by the failure's reason."""
        return self.root / "logs" / f"worker-{rank:05d}-of-{world:05d}.log"

    def clean_stale_tmp(self) -> list[Path]:
        """Remove `.NAME.PID.tmp` files of atomic JSON writes (plan.json, sources.json) whose process is gone."""
        gone = []
        for p in self.root.glob(".*.json.*.tmp") if self.root.is_dir() else []:
            pid = p.name.rsplit(".", 2)[-2]
            if pid.isdigit() and not _alive(int(pid)):
                p.unlink(missing_ok=True)
                gone.append(p)
        return gone

    def claim(self, world: int):
        """Claim the dataset for world size `world` (held until the returned handle is closed).

        Every worker of world size W holds a shared lock on `.world-W.lock` while it runs; `claim.json` names
        the W writing now. Another W is refused while a worker of the claimed one is live; a finished or dead
        claim (no one holds its lock) is taken over. Shards of two partitions never write together."""
        self.manifest_dir.mkdir(parents=True, exist_ok=True)
        claim_file = self.manifest_dir / "claim.json"
        with open(self.manifest_dir / ".claim.lock", "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                held = json.loads(claim_file.read_text()).get("world_size")
            except (OSError, ValueError, AttributeError):
                held = None
            if isinstance(held, int) and held != world:
                other = lock_nowait(self.manifest_dir / f".world-{held}.lock")
                if other is None:
                    raise SynthfakeError(f"{claim_file}: workers of world size {held} are writing this "
                                         f"dataset; a world size of {world} would duplicate records (wait "
                                         f"for them, or stop them and rerun)")
                other.close()
            mine = open(self.manifest_dir / f".world-{world}.lock", "a")
            fcntl.flock(mine, fcntl.LOCK_SH)
            if held != world:
                write_json_atomic(claim_file, {"world_size": world, "host": socket.gethostname(),
                                               "pid": os.getpid()})
        return mine

    def pristine_still(self, sample: str) -> Path:
        """A sample's middle frame before degradation (kept only when the plan degrades)."""
        return self.cache_dir / "pristine" / f"{sample}.png"

    # ------------------------------------------------------------------ progress
    def records(self, strict: bool = False) -> list[Record]:
        return read_records(self.root, strict)

    def finished(self) -> tuple[list[Record], list[Failure]]:
        """Every record, and the failures of samples that have no record (one per id), as on disk now."""
        records = self.records()
        done = {r.id for r in records}
        failures = {f.id: f for f in read_failures(self.root) if f.id not in done}
        return records, list(failures.values())

    def todo(self, rank: int = 0, world: int = 1, retry_failed: bool = False) -> list[int]:
        """Indices of shard (rank, world) with no record (and, unless retry_failed, no failure)."""
        records, failures = self.finished()
        skip = {r.id for r in records} | (set() if retry_failed else {f.id for f in failures})
        return [i for i in range(rank, self.plan.total, world) if sample_id(self.table.hash, i) not in skip]

    def counts(self) -> dict[str, dict[str, int]]:
        """Planned / done / failed / left per type (types the plan holds), and per shard of every world size
        whose files are on disk."""
        records, failures = self.finished()
        done, failed = Counter(r.type for r in records), Counter(f.type for f in failures)
        types = {t: {"planned": c, "done": done[t], "failed": failed[t], "left": c - done[t] - failed[t]}
                 for t, c in self.table.expected.items() if c}
        worlds = sorted({int(f.stem.split("-of-")[1]) for d in (self.manifest_dir, self.failures_dir)
                         for f in d.glob("part-*.jsonl")}) or [1]
        done_idx, fail_idx = {r.index for r in records}, {f.index for f in failures}
        shards: dict[str, dict[str, int]] = {}
        for w in worlds:
            for r in range(w):
                mine = range(r, self.plan.total, w)
                d = sum(1 for i in mine if i in done_idx)
                f = sum(1 for i in mine if i in fail_idx)
                shards[f"{r}/{w}"] = {"planned": len(mine), "done": d, "failed": f, "left": len(mine) - d - f}
        return {"types": types, "shards": shards}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def _diff(a: Plan, b: Plan) -> str:
    da, db = a.model_dump(), b.model_dump()
    return ", ".join(f"{k}: {da[k]!r} in plan.json vs {db[k]!r} now" for k in da if da[k] != db[k])


def _as_written(model):
    """The model as a fresh process reads it back from disk: plan.json is written with sorted keys, and the
    sample table follows the order of plan.ratios, so every process must see that same order."""
    if isinstance(model, Plan):
        data = json.loads(json.dumps(model.model_dump(), sort_keys=True))
        plan = Plan.model_validate(data)
        plan._written = data
        return plan
    return type(model).model_validate_json(model.model_dump_json())


def as_dataset(dataset: "str | Path | Dataset") -> Dataset:
    """A Dataset as given, or opened from its folder."""
    return dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
