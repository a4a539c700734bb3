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
import sys
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import PlanError, SynthfakeError
from .files import lock_nowait, write_json_atomic
from .manifest import Record, part_name, part_shard, read_records, resolve, source_file
from .plan import Plan, SampleTable, too_large
from .sources import SourceIndex, changed_files, load_index, read_otherwise, save_index, scan
from .tally import Held, Todo, read_held

PLAN_FILE = "plan.json"
SOURCES_FILE = "sources.json"


class _Under:
    """A folder under the dataset root, read as an attribute (`ds.manifest_dir`)."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, ds, owner=None) -> Path:
        return self if ds is None else ds.root / self.name


@dataclass
class DatasetFiles:
    """A dataset folder with its plan and sources index, and where a record's media and sources lie."""

    root: Path
    plan: Plan
    index: SourceIndex

    def media_path(self, record: Record) -> Path:
        return resolve(self.root, record)

    def source_path(self, ref) -> Path:
        return source_file(self.index.root, ref)


OWN_NAMES = (PLAN_FILE, SOURCES_FILE, "manifest", "failures", "media", "cache")  # what `gen run` writes at the top


def foreign_entries(root: Path) -> list[str]:
    """What a folder that holds no dataset yet (no plan.json) holds besides a dataset's own names and hidden
    files: `gen run --out` there would write its media among them (the sweep's run into a home-like folder)."""
    root = Path(root)
    if not root.is_dir() or (root / PLAN_FILE).exists():
        return []
    return sorted(e.name for e in root.iterdir() if not e.name.startswith(".") and e.name not in OWN_NAMES)


@dataclass
class Dataset(DatasetFiles):
    """One dataset folder with its plan and sources index, read (or built) once per process."""

    manifest_dir, failures_dir, media_root, cache_dir = map(_Under, ("manifest", "failures", "media", "cache"))

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
                on_file: Callable[[str], None] | None = None, show: bool = False,
                warn: Callable[[str], None] | None = None) -> "Dataset":
        """Scan (reusing the cached index) and build the plan from `plan_fields`; nothing is written (`save`).

        A dataset that already has a plan must get the same plan from the same files (`changed_files`: added,
        removed or of other content); otherwise this fails. The same files scanned under other rules (an older
        synthfake's) or identities keep the cached index and plan, with one WARN line (to `warn`, else stderr).
        """
        root = Path(root)
        why = too_large(plan_fields.get("n", 0), plan_fields.get("reals", 0))
        if why:  # before the scan: nothing to wait for
            raise PlanError(why)
        cached = load_index(root / SOURCES_FILE)
        index = _as_written(scan(sources_dir, cached, threshold, on_file, show=show))
        old = Plan.from_file(root / PLAN_FILE) if (root / PLAN_FILE).exists() else None
        if old is not None:  # a plan written by an older synthfake keeps the drawing rules of its version
            plan_fields = {**plan_fields, "version": old.version}
        digest, note = index.digest, None
        if old is not None and cached is not None:
            if cached.identity_threshold != threshold:
                raise PlanError(f"{root / SOURCES_FILE}: this dataset's identities were drawn at --identity-threshold "
                                f"{cached.identity_threshold}, not {threshold}; rerun with it or use a new --out")
            changed = changed_files(cached, index)
            if changed:
                raise PlanError(f"{root / PLAN_FILE}: {len(changed)} file(s) under {sources_dir} changed since this "
                                f"plan was made ({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''}); "
                                f"use a new --out or restore the sources")
            was, now, moved = read_otherwise(cached, Path(sources_dir))
            if moved:  # its landmarks and tracks were taken on frames other than this code reads
                raise PlanError(f"{root / SOURCES_FILE}: begun by a synthfake that read {was}; "
                                f"{', '.join(moved[:3])}{', ...' if len(moved) > 3 else ''} now read {now} "
                                f"would not match its landmarks or its samples so far; finish it with the synthfake "
                                f"that began it, or use a new --out")
            if old.sources_digest != digest:  # the same files, scanned under other rules or identities.csv
                digest = old.sources_digest  # the cached index is used: the plan stays the one it was drawn from
                note = (f"{root / SOURCES_FILE}: this dataset's sources index was made under other rules or "
                        f"identities than a fresh scan of {sources_dir} gives (no file changed; an older synthfake, "
                        f"or identities.csv edited); the cached index is used, so the dataset stays as planned; a "
                        f"new --out applies the current ones")
        plan = _as_written(Plan(**plan_fields, sources_digest=digest))
        if old is not None:
            if old.model_dump() != plan.model_dump():
                raise PlanError(f"{root / PLAN_FILE}: this dataset holds another plan ({_diff(old, plan)}); "
                                f"rerun with the same settings or use a new --out")
            # the written plan keeps its ids; the same files found in another folder (moved, or mounted elsewhere)
            # are read from there
            plan, index = old, cached.model_copy(update={"root": index.root}) if cached else index
        if note:  # once every check has passed
            (warn or (lambda line: print(f"WARN: {line}", file=sys.stderr)))(note)
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
        elif (written := load_index(self.root / SOURCES_FILE)) is not None and written.root != self.index.root:
            save_index(self.root / SOURCES_FILE, self.index)  # the sources moved: the workers read them there

    @cached_property
    def table(self) -> SampleTable:
        """The resolved sample table (checks that every split can supply its types)."""
        return SampleTable(self.plan, self.index)

    # ------------------------------------------------------------------ paths
    @property
    def plan_file(self) -> Path:
        return self.root / PLAN_FILE

    def media_dir(self, split: str, sample_type: str) -> Path:
        return self.media_root / split / sample_type

    def tmp_stem(self, split: str, sample_type: str, sample: str, rank: int, world: int) -> Path:
        """Where a worker writes a sample before it is complete; the writer adds the suffix."""
        return self.media_dir(split, sample_type) / f".{sample}.r{rank}of{world}.tmp"

    def tmp_files(self, rank: int, world: int, split: str = "*", sample_type: str = "*", sample: str = "*"):
        """Temporary files of worker (rank, world) left in media/ (of one sample, or all; rank -1: any worker's)."""
        worker = "*" if rank < 0 else f"{rank}of{world}"
        return self.media_root.glob(f"{split}/{sample_type}/.{sample}.r{worker}.tmp*")

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

    def claim(self, world: int, has_work: Callable[[], bool] | None = None):
        """Claim the dataset for world size `world` (held until the returned handle is closed).

        Every worker of world size W holds a shared lock on `.world-W.lock` while it runs; `claim.json` names
        the W writing now. Another W is refused while a worker of the claimed one is live; a finished or dead
        claim (no one holds its lock) is taken over. Shards of two partitions never write together.

        `has_work`: asked (under the claim's guard) before claim.json is rewritten for another world size; when
        it says False (a rerun of a finished dataset, or of a shard with nothing left) claim.json keeps naming
        the world size that wrote last, so `gen status` still shows that partition. A claim.json that cannot be
        read as a file (a folder, no permission) is one line naming it, work or not."""
        self.manifest_dir.mkdir(parents=True, exist_ok=True)
        claim_file = self.manifest_dir / "claim.json"
        with open(self.manifest_dir / ".claim.lock", "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                held = json.loads(claim_file.read_text()).get("world_size")
            except (FileNotFoundError, ValueError, AttributeError):
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
            try:
                if held != world and (has_work is None or has_work()):
                    write_json_atomic(claim_file, {"world_size": world, "host": socket.gethostname(),
                                                   "pid": os.getpid()})
            except BaseException:
                mine.close()
                raise
        return mine

    def pristine_still(self, sample: str) -> Path:
        """A sample's middle frame before degradation (kept only when the plan degrades)."""
        return self.cache_dir / "pristine" / f"{sample}.png"

    # ------------------------------------------------------------------ progress
    def records(self, strict: bool = False) -> list[Record]:
        return read_records(self.root, strict)

    def held(self, shard: tuple[int, int] | None = None) -> Held:
        """What the manifest and failures parts hold, each planned index once (tally.py), for one shard
        (rank, world: only the parts that can hold its indices are read) or for all."""
        return read_held(self.root, self.plan.hash, self.plan.total, shard)

    def todo(self, rank: int = 0, world: int = 1, retry_failed: bool = False, held: Held | None = None) -> Todo:
        """Indices of shard (rank, world) with no record (of any id: a second record is never made) and, unless
        retry_failed, no failure; lazily, in order."""
        held = held or self.held((rank, world) if world > 1 else None)
        return Todo(rank, world, self.plan.total, held.skip(retry_failed))

    def claimed_world(self) -> int | None:
        """The world size claim.json names (the partition writing now, or the last one that wrote); None when
        there is no readable claim."""
        try:
            world = json.loads((self.manifest_dir / "claim.json").read_text()).get("world_size")
        except (OSError, ValueError, AttributeError):
            return None
        return world if isinstance(world, int) and not isinstance(world, bool) and world > 0 else None

    def part_worlds(self) -> dict[int, float]:
        """World sizes whose part files (manifest or failures) are on disk, each with its newest part's mtime."""
        out: dict[int, float] = {}
        for f in (f for d in (self.manifest_dir, self.failures_dir) for f in d.glob("part-*.jsonl")):
            shard = part_shard(f)
            if shard:
                try:
                    out[shard[1]] = max(out.get(shard[1], 0.0), f.stat().st_mtime)
                except OSError:
                    continue
        return out

    def counts(self, held: Held | None = None) -> dict[str, dict]:
        """Planned / done / failed / left per type (types the plan holds), per shard of the current world size,
        and what was not counted (duplicate records, foreign ids, indices outside the plan).
        Left = planned - done - failed - held by a foreign record: every planned index in exactly one column,
        per type and per shard alike. The current world size is the one claim.json names (else that of the
        newest part file, else 1); a shard's counts come from the indices held (index i is shard i % world),
        not from which part files exist: after a change of world size, the records the old partition wrote
        count in the new shards that own their indices, and a shard that never ran shows what others made of
        its indices (so a run of it makes only the rest). `other_world_sizes` names the older partitions whose
        parts are on disk."""
        held = held or self.held()
        total = self.plan.total
        by_type = {name: Counter(dict(zip(*np.unique(self.table.types_of(a), return_counts=True)))) if len(a) else
                   Counter() for name, a in (("done", held.done), ("failed", held.failed), ("foreign", held.foreign))}
        types = {}
        for t, c in self.table.expected.items():
            if c:
                row = {k: int(by_type[k][t]) for k in ("done", "failed")}
                foreign = int(by_type["foreign"][t])
                types[t] = {"planned": c, **row, "left": c - row["done"] - row["failed"] - foreign}
                if foreign:
                    types[t]["foreign"] = foreign
        on_disk = self.part_worlds()
        w = self.claimed_world() or (max(on_disk, key=lambda k: (on_disk[k], k)) if on_disk else 1)
        shards: dict[str, dict[str, int]] = {}
        done, failed, other = (np.bincount(a % w, minlength=w) for a in (held.done, held.failed, held.foreign))
        for r in range(w):
            planned = len(range(r, total, w))
            shards[f"{r}/{w}"] = {"planned": planned, "done": int(done[r]), "failed": int(failed[r]),
                                  "left": planned - int(done[r]) - int(failed[r]) - int(other[r])}
            if other[r]:
                shards[f"{r}/{w}"]["foreign"] = int(other[r])
        return {"types": types, "world_size": w, "other_world_sizes": sorted(k for k in on_disk if k != w),
                "shards": shards, "not_counted": held.problems(), "notes": held.notes}


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
