"""What every export format shares: choosing the records whose media is intact, atomic writes, the marker.

An export reads records only through `synthfake.manifest` (read_records / resolve), so it stays independent of
how the dataset folder is organised. A record whose media is missing, corrupt (size or sha256 differs) or whose
path escapes the dataset root is skipped with one line naming the file and the reason; the rest go on.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from synthfake.errors import ManifestError, SynthfakeError
from synthfake.files import atomic_file, sha256_file, write_json_atomic
from synthfake.manifest import Record, read_records, resolve
from synthfake.progress import sample_progress

MARKER = "export.json"  # written last: an export folder holding it is complete
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
    shard_mb: float = 256.0  # hf / webdataset: close a shard once it holds this many MB of media
    frames: int = 32  # deepfakebench: frames per video, np.linspace as its preprocess.py 'fixed_num_frames'
    workers: int = 2  # deepfakebench: processes cropping videos (two: the cores of the machine it was measured on)
    license: str | None = None  # hf: the card's YAML licence id (default `other`, explained in the card)
    verify: bool = True  # check every media file's sha256 against its record
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
    try:
        p = resolve(dataset, r)
    except (ManifestError, ValueError) as e:
        return None, str(e)
    if not p.is_file():
        return None, "media file missing"
    size = p.stat().st_size
    if size != r.bytes:
        return None, f"corrupt media: {size} bytes, the record says {r.bytes}"
    if verify and sha256_file(p) != r.sha256:
        return None, "corrupt media: sha256 differs from the record"
    return p, None


def select(dataset: Path, verify: bool, log: Callable[[str], None]) -> tuple[list[Item], list[str]]:
    """Intact records sorted by (split, index), and one line per skipped record."""
    dataset = Path(dataset)
    records = read_records(dataset)
    if not records:
        raise SynthfakeError(f"{dataset}: no records under manifest/; is this a dataset made by `gen run`?")
    items, skipped = [], []
    for r in sorted(records, key=lambda r: (r.split, r.index)):
        p, why = check_media(dataset, r, verify)
        if p is None:
            line = f"skipped {r.path} (id {r.id}): {why}"
            skipped.append(line)
            log(line)
        else:
            items.append(Item(r, p))
    return items, skipped


def counts_of(items: list[Item]) -> dict:
    """Records per type, split, backend and label."""
    out: dict = {"type": {}, "split": {}, "backend": {}, "label": {}}
    for it in items:
        r = it.record
        for key, val in (("type", r.type), ("split", r.split), ("backend", r.backend), ("label", str(r.label))):
            out[key][val] = out[key].get(val, 0) + 1
    return out


def copy_atomic(src: Path, final: Path) -> None:
    """Copy (hard link when the filesystem allows) to a temporary name, then rename onto `final`."""
    with atomic_file(final) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def write_bytes_atomic(final: Path, data: bytes) -> None:
    with atomic_file(final) as tmp:
        tmp.write_bytes(data)


def commit_dir(tmp: Path, final: Path) -> None:
    """Rename a finished temporary folder onto its final name (a folder exists only when complete)."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def write_marker(res: Result, dataset: Path, extra: dict | None = None) -> None:
    """The last file an export writes: format, source, counts, skipped lines."""
    write_json_atomic(res.out / MARKER, {"format": res.fmt, "dataset": str(Path(dataset).resolve()),
                                         "exported": res.exported, "counts": res.counts,
                                         "skipped": res.skipped, **(extra or {})})


def read_marker(out: Path) -> dict | None:
    p = Path(out) / MARKER
    return json.loads(p.read_text()) if p.is_file() else None


def each_shard(items: list[Item], o: Options, label: str) -> Iterator[tuple[str, int, list[Item]]]:
    """`shard_plan`'s shards in order, with a progress bar advanced as each one is done."""
    with sample_progress(len(items), label, o.show) as advance:
        for split, n, chunk in shard_plan(items, o.shard_mb):
            yield split, n, chunk
            advance(len(chunk))


def shard_plan(items: list[Item], shard_mb: float) -> list[tuple[str, int, list[Item]]]:
    """(split, shard number, items) in a fixed order: shards never mix splits and close once their media
    reaches `shard_mb` MB. Pure function of the manifest, so a resumed export makes the same shards."""
    limit = max(1, int(shard_mb * 1e6))
    shards: list[tuple[str, int, list[Item]]] = []
    for split in sorted({it.record.split for it in items}):
        cur: list[Item] = []
        size, n = 0, 0
        for it in (i for i in items if i.record.split == split):
            if cur and size + it.record.bytes > limit:
                shards.append((split, n, cur))
                cur, size, n = [], 0, n + 1
            cur.append(it)
            size += it.record.bytes
        if cur:
            shards.append((split, n, cur))
    return shards
