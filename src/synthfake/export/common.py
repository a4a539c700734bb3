"""What every export format shares: choosing the records whose media is intact, the shards, the marker.

An export reads records only through `synthfake.manifest` (part files, lines, relative paths checked to stay
inside), so it stays independent of how the dataset folder is organised. Each planned index is exported once:
a line that is not a valid record (a path leaving the dataset root, a missing field: what `gen audit` reports),
a second record of an index, a record whose id is not the plan's, or one whose media is missing, corrupt (size
or sha256 differs) or outside the dataset root is skipped with one line naming it and the reason; the rest go
on. Records stream: a Selection keeps where each one sits and reads them back a shard at a time.
"""

from __future__ import annotations

import os
import stat
from array import array
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import numpy as np
from pydantic import ValidationError

from synthfake.errors import ManifestError, SynthfakeError
from synthfake.files import sha256_file, write_json_atomic
from synthfake.manifest import Record, check_relpath, inside, iter_lines, part_files, why_invalid
from synthfake.progress import sample_progress
from synthfake.sample_spec import sample_id

from .folder import MARKER

COMPRESSION = "c23"  # FaceForensics++ / DeepfakeBench compression key; our H.264 at CRF 18 is closest to c23
SPLITS = ("train", "val", "test")


@dataclass
class Item:
    """A record whose media was found intact, and the media's absolute path."""

    record: Record
    media: Path


@dataclass
class Options:
    """Settings shared by the formats (CLI flags); a format ignores the ones it has no use for."""

    embed: bool = False  # hf: media bytes inside the Parquet files instead of paths
    link: bool = False  # ffpp, hf without embed: hard-link the media instead of copying (editing it edits the dataset)
    shard_mb: float = 256.0  # hf / webdataset: close a shard once it holds this many MB of media
    frames: int = 32  # deepfakebench: frames per video, np.linspace as its preprocess.py 'fixed_num_frames'
    workers: int = 2  # deepfakebench: processes cropping videos (two: the cores of the machine it was measured on)
    license: str | None = None  # hf: the card's YAML licence id (default `other`, explained in the card)
    verify: bool = True  # check every media file's sha256 against its record
    partial: bool = False  # export a dataset whose plan still has samples to make (refused otherwise)
    show: bool = True
    log: Callable[[str], None] = print  # one line per skipped record


@dataclass
class Result:
    """What an export wrote: how many records, which were skipped and why."""

    fmt: str
    out: Path
    dataset: Path
    exported: int = 0
    skipped: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)


def check_media(dataset: Path, r: Record, verify: bool) -> tuple[Path | None, str | None]:
    """(absolute media path, None) when the file is there and matches its record, else (None, reason)."""
    return _check(MediaPaths(dataset), r.path, r.bytes, r.sha256, verify)


class MediaPaths:
    """A record's media path checked to stay inside the dataset, resolving symlinks only where a folder on the way
    or the file itself is one (checked once per folder): what `manifest.resolve` does, at one lstat per record.
    Paths are strings until the end (a million records: pathlib's objects cost more than the stat)."""

    def __init__(self, dataset: Path):
        self.root, self.plain = Path(dataset).absolute(), {}
        self.prefix = str(self.root).rstrip("/") + "/"

    def __call__(self, rel: str) -> tuple[str, os.stat_result]:
        """(absolute path, its stat) of a record's media; ManifestError or ValueError when it leaves the root,
        OSError when it is not there."""
        folder = rel.rpartition("/")[0]
        if folder not in self.plain:
            p, self.plain[folder] = self.root, True
            for part in PurePosixPath(folder).parts:
                p = p / part
                self.plain[folder] = self.plain[folder] and not p.is_symlink()
        check_relpath(rel)
        full = self.prefix + rel
        st = os.lstat(full)
        if self.plain[folder] and not stat.S_ISLNK(st.st_mode):
            return full, st
        full = str(inside(self.root, rel, "media path"))  # a link on the way: where it leads must stay inside
        return full, os.stat(full)

    def path(self, rel: str) -> Path:
        return Path(self(rel)[0])


def _check(paths: MediaPaths, rel: str, size: int, sha: str, verify: bool) -> tuple[Path | None, str | None]:
    try:
        full, st = paths(rel)
    except (ManifestError, ValueError) as e:
        return None, str(e)
    except OSError:
        return None, "media file missing"
    if not stat.S_ISREG(st.st_mode):
        return None, "media file missing"
    if st.st_size != size:
        return None, f"corrupt media: {st.st_size} bytes, the record says {size}"
    if verify and sha256_file(full) != sha:
        return None, "corrupt media: sha256 differs from the record"
    return Path(full), None


@dataclass
class Selection:
    """The records an export writes: one per planned index (the first record; a second one, or one whose id is
    not the plan's, is skipped with a line), media intact, in (split, index) order. Only where each record sits
    (part, offset) and what shards and counts need is kept; records are read back a shard at a time, so a
    million-record dataset exports in bounded memory at a flat rate."""

    dataset: Path
    files: list[Path]
    split_names: list[str]
    part: np.ndarray
    offset: np.ndarray
    split: np.ndarray
    index: np.ndarray
    size: np.ndarray
    id_list: list[str]
    counts: dict

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[Item]:
        for start in range(0, len(self), SHARD_RECORDS):
            yield from self.items(range(start, min(len(self), start + SHARD_RECORDS)))

    def items(self, rows) -> list[Item]:
        """The Items of some rows (positions in this selection), read from their part files."""
        paths, out, handles = MediaPaths(self.dataset), [], {}
        try:
            for k in rows:
                fh = handles.get(int(self.part[k])) or handles.setdefault(int(self.part[k]),
                                                                          open(self.files[self.part[k]], "rb"))
                fh.seek(int(self.offset[k]))
                rec = Record.model_validate_json(fh.readline())
                out.append(Item(rec, paths.path(rec.path)))
        finally:
            for fh in handles.values():
                fh.close()
        return out

    def ids(self) -> list[str]:
        return sorted(self.id_list)


SHARD_RECORDS = 10_000  # a shard also closes at this many records (bounded memory whatever the media's size)


def select(dataset: Path, verify: bool, log: Callable[[str], None]) -> tuple[Selection, list[str]]:
    """The records to export (see Selection) and one line per record skipped: a line that is not a valid record
    (naming its part file and line), a second record of an index, an id that is not the plan's, or media
    missing, corrupt or outside the dataset."""
    dataset = Path(dataset)
    plan = _plan(dataset)
    plan_hash, total = (plan.hash, plan.total) if plan is not None else (None, 0)  # the hash once, not per record
    files = part_files(dataset / "manifest")
    paths, seen, skipped = MediaPaths(dataset), set(), []
    rows: dict[str, array] = {k: array("q") for k in ("part", "offset", "split", "index", "size")}
    splits: dict[str, int] = {}
    ids: list[str] = []
    counts: dict = {"type": {}, "split": {}, "backend": {}, "label": {}}

    def skip(line: str) -> None:
        skipped.append(line)
        log(line)

    for n, f in enumerate(files):
        for no, offset, r in _records(f):
            where = f"{f.parent.name}/{f.name}:{no}"
            if isinstance(r, str):  # skipped as `gen audit` reports it; it holds no index (audit's view too)
                skip(f"skipped {where}: invalid record ({r})")
                continue
            if r.index in seen:
                skip(f"skipped {r.path} (id {r.id}, {where}): a second record of index {r.index}; "
                     f"the first is exported")
                continue
            seen.add(r.index)
            if plan_hash is not None and (r.index >= total or r.id != sample_id(plan_hash, r.index)):
                skip(f"skipped {r.path} (id {r.id}, {where}): not a sample of this plan (index {r.index} has id "
                     f"{sample_id(plan_hash, r.index) if r.index < total else 'none: outside the plan'})")
                continue
            p, why = _check(paths, r.path, r.bytes, r.sha256, verify)
            if p is None:
                skip(f"skipped {r.path} (id {r.id}): {why}")
                continue
            for key, val in (("part", n), ("offset", offset), ("split", splits.setdefault(r.split, len(splits))),
                             ("index", r.index), ("size", r.bytes)):
                rows[key].append(val)
            ids.append(r.id)
            for key, val in (("type", r.type), ("split", r.split), ("backend", r.backend), ("label", str(r.label))):
                counts[key][val] = counts[key].get(val, 0) + 1
    if not ids and not skipped:
        failed = sum(1 for f in part_files(dataset / "failures") for _ in iter_lines(f))
        raise SynthfakeError(f"{dataset}: no records under manifest/" + (
            f": every sample so far failed ({failed} in failures/; `gen status` shows why)" if failed
            else "; is this a dataset made by `gen run`?"))
    cols = {k: np.frombuffer(v, np.int64) if len(v) else np.zeros(0, np.int64) for k, v in rows.items()}
    names = sorted(splits)
    rank = np.array([names.index(s) for s in splits], np.int64)  # code -> position in sorted split names
    split = rank[cols["split"]] if len(ids) else cols["split"]
    order = np.lexsort((cols["index"], split))
    return Selection(dataset, files, names, cols["part"][order], cols["offset"][order], split[order],
                     cols["index"][order], cols["size"][order], [ids[k] for k in order], counts), skipped


def _plan(dataset: Path):
    """The Plan of `dataset`, or None when it has no plan.json (an unpacked export has none)."""
    if not (dataset / "plan.json").is_file():
        return None
    from synthfake.plan import Plan

    return Plan.from_file(dataset / "plan.json")


def _records(f: Path) -> Iterator[tuple[int, int, Record | str]]:
    """(line number, offset, record) of a part; for a line that is not a valid record (a path leaving the dataset
    root, a missing field) the record is a string saying why, as `gen audit` words it; a torn tail is skipped."""
    for no, offset, line, torn in iter_lines(f):
        try:
            yield no, offset, Record.model_validate_json(line)
        except ValidationError as e:
            if torn:
                continue
            yield no, offset, why_invalid(e)


def kept_whole(final: Path, expected: int, count: Callable[[Path], int], errors: tuple) -> bool:
    """Whether a file a resumed export finds already there is whole: `count(final)` (its rows or members, read
    without the rest) is `expected`; one cut short or altered since (`errors`, or another count) is written again.
    Files had been kept by their names alone (7 Dec sweep)."""
    if not final.is_file():
        return False
    try:
        return count(final) == expected
    except errors:
        return False


def unfinished(dataset: Path) -> tuple[int, int, int] | None:
    """(left, failed, planned) of a dataset whose plan has samples not made yet (neither recorded nor failed)."""
    from synthfake.tally import read_held

    plan = _plan(dataset)
    if plan is None:
        return None
    held = read_held(dataset, plan.hash, plan.total)
    left = plan.total - len(held.done) - len(held.foreign) - len(held.failed)
    return left, len(held.failed), plan.total


def counts_of(items) -> dict:
    """Records per type, split, backend and label."""
    if isinstance(items, Selection):
        return items.counts
    out: dict = {"type": {}, "split": {}, "backend": {}, "label": {}}
    for it in items:
        r = it.record
        for key, val in (("type", r.type), ("split", r.split), ("backend", r.backend), ("label", str(r.label))):
            out[key][val] = out[key].get(val, 0) + 1
    return out


def write_marker(res: Result, dataset: Path, extra: dict | None = None) -> None:
    """The last file an export writes: format, source, its plan's hash (what a detector trained on the export
    records as its dataset), counts, skipped lines."""
    plan = _plan(Path(dataset))
    write_json_atomic(res.out / MARKER, {"format": res.fmt, "dataset": str(Path(dataset).resolve()),
                                         "plan": plan.hash if plan is not None else None,
                                         "exported": res.exported, "counts": res.counts,
                                         "skipped": res.skipped, **(extra or {})})


def each_shard(items, o: Options, label: str) -> Iterator[tuple[str, int, list[Item]]]:
    """`shard_plan`'s shards in order, each read when its turn comes, with a progress bar advanced as each is done."""
    with sample_progress(len(items), label, o.show) as advance:
        for split, n, chunk in shard_plan(items, o.shard_mb):
            yield split, n, chunk
            advance(len(chunk))


def shard_plan(items, shard_mb: float) -> Iterator[tuple[str, int, list[Item]]]:
    """(split, shard number, items) in a fixed order: shards never mix splits and close once their media
    reaches `shard_mb` MB or SHARD_RECORDS records. Pure function of the manifest, so a resumed export makes the
    same shards. A Selection is cut from its sizes and read a shard at a time."""
    limit = max(1, int(shard_mb * 1e6))
    if not isinstance(items, Selection):
        items = list(items)
    sizes = items.size.tolist() if isinstance(items, Selection) else [it.record.bytes for it in items]
    splits = [items.split_names[k] for k in items.split.tolist()] if isinstance(items, Selection) else \
        [it.record.split for it in items]
    order = sorted(range(len(sizes)), key=lambda k: splits[k]) if not isinstance(items, Selection) else \
        range(len(sizes))  # a Selection is in (split, index) order already
    cuts: list[tuple[str, int, list[int]]] = []
    cur: list[int] = []
    size, n, split = 0, 0, None
    for k in order:
        if cur and (splits[k] != split or size + sizes[k] > limit or len(cur) >= SHARD_RECORDS):
            cuts.append((split, n, cur))
            n = n + 1 if splits[k] == split else 0
            cur, size = [], 0
        split = splits[k]
        cur.append(k)
        size += sizes[k]
    if cur:
        cuts.append((split, n, cur))
    for split, n, rows in cuts:
        yield split, n, items.items(rows) if isinstance(items, Selection) else [items[k] for k in rows]
