"""WebDataset: tar shards `SPLIT-NNNNN.tar` of (media, record JSON) per sample, keyed by record id.

Each sample is two members, `ID.mp4|ID.png` and `ID.json` (the full record), next to each other as the
webdataset package expects (it groups members by the name up to the first dot). Members carry mtime 0 and
sorted order so an export is byte-for-byte repeatable; each shard is written to a temporary name and renamed,
and a resumed export skips the shards already there.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from synthfake.files import atomic_file

from .common import Item, Options, Result, each_shard

VERSION = "1"
SETTINGS = ("shard_mb",)  # the Options fields this format reads


def ready(o: Options) -> str | None:
    """Needs nothing beyond the core install (tar files by the standard library)."""
    return None




def shard_name(split: str, n: int) -> str:
    return f"{split}-{n:05d}.tar"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def write_shard(final: Path, items: list[Item]) -> None:
    with atomic_file(final) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for it in items:
            key = it.record.id
            if "." in key or "/" in key:
                raise ValueError(f"record id {key!r} cannot be a webdataset key (no '.' or '/')")
            _add(tar, f"{key}{it.media.suffix.lower()}", it.media.read_bytes())
            _add(tar, f"{key}.json", it.record.model_dump_json().encode())


def export(items: list[Item], out: Path, o: Options, res: Result) -> dict:
    names = []
    for split, n, chunk in each_shard(items, o, "webdataset shards"):
        final = out / shard_name(split, n)
        names.append(final.name)
        if not final.exists():
            write_shard(final, chunk)
    res.exported = len(items)
    return {"shards": names}
