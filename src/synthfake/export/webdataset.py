"""WebDataset: tar shards `SPLIT-NNNNN.tar` of (media, label, record JSON) per sample, keyed by record id.

Each sample is three members written by `webdataset.TarWriter`: `ID.mp4|ID.jpg|ID.png`, `ID.cls` (the label,
0 real / 1 fake, what `wds` pipelines' `.to_tuple("jpg;png;mp4", "cls")` read) and `ID.json` (the full record),
grouped by the name up to the first dot as the package expects. TarWriter is given mtime 0 and fixed owner and mode and
writes a sample's members in sorted order, so an export is byte-for-byte repeatable; each shard is written to
a temporary name and renamed, and a resumed export skips the shards already there whole (a tar that reads to
its end with three members a sample; one cut short or altered since is written again).
"""

from __future__ import annotations

import contextlib
import tarfile
from pathlib import Path

from synthfake.files import atomic_file

from .common import Item, Options, Result, each_shard, kept_whole

VERSION = "2"  # 2: a .cls member with the label; written by webdataset.TarWriter
SETTINGS = ("shard_mb",)  # the Options fields this format reads


def ready(o: Options) -> str | None:
    """Needs the webdataset package (the export extra)."""
    import webdataset  # noqa: F401  (ImportError -> one line naming synthfake[export])

    return None


def shard_name(split: str, n: int) -> str:
    return f"{split}-{n:05d}.tar"


def write_shard(final: Path, items: list[Item]) -> None:
    from webdataset import TarWriter

    with atomic_file(final) as tmp, open(tmp, "wb") as fh:
        sink = TarWriter(fh, user="synthfake", group="synthfake", mode=0o644, encoder=False, mtime=0,
                         format="PAX_FORMAT")
        try:
            for it in items:
                key = it.record.id
                if "." in key or "/" in key:
                    raise ValueError(f"record id {key!r} cannot be a webdataset key (no '.' or '/')")
                sink.write({"__key__": key, it.media.suffix.lower().lstrip("."): it.media.read_bytes(),
                            "cls": str(it.record.label).encode(), "json": it.record.model_dump_json().encode()})
        except BaseException:
            # the tar stream is closed while its file is open (the temporary file goes anyway): left open, it
            # is closed when collected, writing to the closed file ("Exception ignored in: _Stream.__del__")
            with contextlib.suppress(Exception):
                sink.close()
            raise
        sink.close()  # before the file: the tar's end blocks go into it, and a failure here is the shard's


def _members(final: Path) -> int:
    with tarfile.open(final) as tar:
        return len(tar.getmembers())


def export(items: list[Item], out: Path, o: Options, res: Result) -> dict:
    names = []
    for split, n, chunk in each_shard(items, o, "webdataset shards"):
        final = out / shard_name(split, n)
        names.append(final.name)
        if not kept_whole(final, 3 * len(chunk), _members, (tarfile.TarError, EOFError, OSError)):
            write_shard(final, chunk)
    res.exported = len(items)
    return {"shards": names}
