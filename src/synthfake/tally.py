"""What a dataset holds, each planned index counted once: the one reader behind status, resume and export.

A planned index is held by its first record (its id the plan's: done; another id: foreign, left as it is, never
made again), and failed when a failure line of the plan's id and no record names it. A second record of an index
is a duplicate: named, never counted. Lines are read by their head (id and index) only, streamed, a few
microseconds each. A shard reads only the part files that can hold its indices: its own, and those of another
world size whose rank is congruent with its own (gcd of the two world sizes), so its start-up does not grow with
the other shards' manifests.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .manifest import Record, iter_heads, part_files, part_shard, read_part
from .plan import Plan
from .sample_spec import sample_id

NOTES = 20  # example lines kept per kind; the counts are always complete


@dataclass
class Held:
    """Sorted index arrays of what the parts hold (of one shard, or of all), and the lines not counted."""

    done: np.ndarray
    foreign: np.ndarray  # indices whose first record carries an id this plan does not give them
    failed: np.ndarray  # indices with a failure (of this plan's id) and no record
    duplicates: int = 0  # records of an index that had one already
    outside: int = 0  # records (or failures) of an index the plan does not have
    foreign_failures: int = 0
    notes: list[str] = field(default_factory=list)

    def skip(self, retry_failed: bool) -> np.ndarray:
        """Indices a run must not make again."""
        held = np.union1d(self.done, self.foreign)
        return held if retry_failed else np.union1d(held, self.failed)

    def problems(self) -> dict[str, int]:
        return {"duplicate_records": self.duplicates, "foreign_records": len(self.foreign),
                "outside_plan": self.outside, "foreign_failures": self.foreign_failures}

    def summary(self) -> str:
        """One line naming what was not counted, or '' when every line was."""
        p = {k.replace("_", " "): v for k, v in self.problems().items() if v}
        return ("not counted: " + ", ".join(f"{v} {k}" for k, v in p.items()) + " (" + "; ".join(self.notes[:3]) +
                ")") if p else ""


def shard_parts(folder: Path, shard: tuple[int, int] | None) -> list[Path]:
    """The part files that can hold shard (rank, world)'s indices (all of them for shard None)."""
    out = []
    for f in part_files(folder):
        own = part_shard(f)
        if shard is None or own is None or own[0] % gcd(own[1], shard[1]) == shard[0] % gcd(own[1], shard[1]):
            out.append(f)
    return out


def _lines(folder: Path, shard, plan_hash: str, total: int, notes: list[str], kind: str):
    """(index, id is the plan's, part number, line) arrays of the lines in range; counts of those outside."""
    idx, ok, where, lines = array("q"), array("b"), array("i"), array("i")
    outside = 0
    files = shard_parts(folder, shard)
    for n, f in enumerate(files):
        for no, _, sid, i in iter_heads(f):
            if shard is not None and i % shard[1] != shard[0]:
                continue
            if i >= total:
                outside += 1
                if len(notes) < NOTES:
                    notes.append(f"{f.parent.name}/{f.name}:{no}: {kind} of index {i}, outside the plan "
                                 f"(0..{total - 1})")
                continue
            good = sid == sample_id(plan_hash, i)
            if not good and len(notes) < NOTES:
                notes.append(f"{f.parent.name}/{f.name}:{no}: {kind} of index {i} has id {sid}, not this plan's "
                             f"{sample_id(plan_hash, i)}")
            idx.append(i)
            ok.append(good)
            where.append(n)
            lines.append(no)
    return (np.frombuffer(idx, np.int64), np.frombuffer(ok, np.int8).astype(bool), np.frombuffer(where, np.int32),
            np.frombuffer(lines, np.int32), files, outside)


def read_held(root: Path, plan_hash: str, total: int, shard: tuple[int, int] | None = None) -> Held:
    """What the manifest and failures parts of `root` hold for `shard` (rank, world), or for all shards."""
    notes: list[str] = []
    idx, ok, where, lines, files, outside = _lines(Path(root) / "manifest", shard, plan_hash, total, notes, "record")
    uniq, first = np.unique(idx, return_index=True)
    firsts = np.zeros(len(idx), bool)
    firsts[first] = True
    for k in np.nonzero(~firsts)[0][:NOTES]:
        notes.append(f"manifest/{files[where[k]].name}:{lines[k]}: a second record of index {idx[k]} (counted once)")
    done, foreign = uniq[ok[first]], uniq[~ok[first]]
    f_idx, f_ok, _, _, _, f_outside = _lines(Path(root) / "failures", shard, plan_hash, total, notes, "failure")
    failed = np.setdiff1d(np.unique(f_idx[f_ok]), uniq, assume_unique=True)
    return Held(done, foreign, failed, len(idx) - len(uniq), outside + f_outside, int((~f_ok).sum()), notes)


def planned_records(dataset: Path, log: Callable[[str], None] | None = None) -> list[Record]:
    """Every record of a dataset, one per planned index (the first; a second one, or one whose id is not its
    plan's, is left out with a line to `log`, stderr by default); without a plan.json (an unpacked export) each
    index once. What a reader that wants the dataset's samples (the detector's training) takes."""
    log = log or (lambda line: print(line, file=sys.stderr))
    plan = Plan.from_file(Path(dataset) / "plan.json") if (Path(dataset) / "plan.json").is_file() else None
    out, seen = [], set()
    for f in part_files(Path(dataset) / "manifest"):
        for r in read_part(f):
            if r.index in seen:
                log(f"{f.name}: left out a second record of index {r.index} (id {r.id}): the first one counts")
                continue
            seen.add(r.index)
            if plan is not None and (r.index >= plan.total or r.id != sample_id(plan.hash, r.index)):
                log(f"{f.name}: left out record {r.id} of index {r.index}: not a sample of this dataset's plan")
                continue
            out.append(r)
    return out


class Todo:
    """The indices of shard (rank, world) still to make, in order: its range minus `skip` (sorted), lazily."""

    def __init__(self, rank: int, world: int, total: int, skip: np.ndarray):
        self.range = range(rank, total, world)
        self.skip = skip

    def __len__(self) -> int:
        return len(self.range) - len(self.skip)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[int]:
        skip, p = self.skip.tolist(), 0
        for i in self.range:
            if p < len(skip) and skip[p] == i:
                p += 1
                continue
            yield i

    def __getitem__(self, cut: slice) -> list[int]:
        from itertools import islice

        return list(islice(iter(self), cut.start, cut.stop, cut.step))


class LineCount:
    """Lines appended to a dataset's parts since it was made, read incrementally (a launcher polls it)."""

    def __init__(self, folders: list[Path]):
        self.folders, self.seen = folders, {}

    def __call__(self) -> int:
        total = 0
        for f in (f for d in self.folders for f in part_files(d)):
            size, lines = self.seen.get(f, (0, 0))
            try:
                with open(f, "rb") as fh:
                    fh.seek(size)
                    data = fh.read()
            except OSError:
                continue
            self.seen[f] = (size + len(data), lines + data.count(b"\n"))
            total += self.seen[f][1]
        return total
