"""Hugging Face datasets: Parquet shards `data/SPLIT-NNNNN-DIGEST.parquet` plus a dataset card (README.md).

One row per record: the fields a trainer filters on as columns, `label` as a ClassLabel (real, fake), the full
record as JSON in `record`, and the media either as a path inside the export (`media_path`, the file copied
there) or, with --embed, as bytes (`media_bytes`). The Hugging Face feature types ride in the Parquet schema
metadata (key `huggingface`), and the card's YAML names the files of each split, so
`datasets.load_dataset(OUT)` gives train/val/test with the right label names.
"""

from __future__ import annotations

import hashlib

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from synthfake.files import atomic_file

from .card import card
from .common import Item, MediaCopies, Options, Result, each_shard, write_bytes_atomic

VERSION = "1"
SETTINGS = ("embed", "shard_mb")  # the Options fields this format reads


def ready(o: Options) -> str | None:
    """Needs pyarrow (imported above: a missing one fails the import, named by the registry)."""
    return None



LABEL_NAMES = ["real", "fake"]  # index = record label (0 real, 1 fake)


def _value(dtype: str) -> dict:
    return {"dtype": dtype, "_type": "Value"}


# column -> (arrow type, Hugging Face feature)
COLUMNS: dict[str, tuple[pa.DataType, dict]] = {
    "id": (pa.string(), _value("string")),
    "index": (pa.int64(), _value("int64")),
    "type": (pa.string(), _value("string")),
    "label": (pa.int64(), {"names": LABEL_NAMES, "_type": "ClassLabel"}),
    "backend": (pa.string(), _value("string")),
    "split": (pa.string(), _value("string")),
    "identities": (pa.list_(pa.string()), {"feature": _value("string"), "_type": "List"}),
    "media_kind": (pa.string(), _value("string")),
    "media_path": (pa.string(), _value("string")),
    "media_bytes": (pa.binary(), _value("binary")),
    "sha256": (pa.string(), _value("string")),
    "bytes": (pa.int64(), _value("int64")),
    "width": (pa.int64(), _value("int64")),
    "height": (pa.int64(), _value("int64")),
    "frames": (pa.int64(), _value("int64")),
    "fps": (pa.float64(), _value("float64")),
    "duration": (pa.float64(), _value("float64")),
    "record": (pa.string(), _value("string")),
}


def schema() -> pa.Schema:
    features = {name: feat for name, (_, feat) in COLUMNS.items()}
    return pa.schema([(name, typ) for name, (typ, _) in COLUMNS.items()],
                     metadata={"huggingface": json.dumps({"info": {"features": features}})})


def row(it: Item, embed: bool) -> dict:
    r, m = it.record, it.record.media
    return {"id": r.id, "index": r.index, "type": r.type, "label": r.label, "backend": r.backend, "split": r.split,
            "identities": r.identities, "media_kind": m.kind, "media_path": None if embed else r.path,
            "media_bytes": it.media.read_bytes() if embed else None, "sha256": r.sha256, "bytes": r.bytes,
            "width": m.width, "height": m.height, "frames": m.frames, "fps": m.fps, "duration": m.duration,
            "record": r.model_dump_json()}


def shard_path(split: str, n: int, items: list[Item], embed: bool) -> str:
    """`data/SPLIT-NNNNN-DIGEST.parquet`: the digest of the shard's content is in its name because `datasets`
    caches a local folder by its file names, so a re-export with other records must not reuse a stale cache."""
    digest = hashlib.sha256(f"{embed}:{','.join(it.record.sha256 for it in items)}".encode()).hexdigest()[:10]
    return f"data/{split}-{n:05d}-{digest}.parquet"


def write_shard(final: Path, items: list[Item], embed: bool) -> None:
    table = pa.Table.from_pylist([row(it, embed) for it in items], schema=schema())
    with atomic_file(final) as tmp:
        pq.write_table(table, tmp)


def export(items: list[Item], out: Path, o: Options, res: Result) -> dict:
    files: dict[str, list[str]] = {}
    copies = MediaCopies()
    for split, n, chunk in each_shard(items, o, "parquet shards"):
        rel = shard_path(split, n, chunk, o.embed)
        files.setdefault(split, []).append(rel)
        if not o.embed:
            for it in chunk:  # the media beside the table, at the record's own relative path (kept if there)
                copies(it.media, out / it.record.path)
            copies.sync()  # before the shard that names them
        if not (out / rel).exists():
            write_shard(out / rel, chunk, o.embed)
    res.exported = len(items)
    write_bytes_atomic(out / "README.md", card(res.dataset, res.counts, files, o.embed, res.skipped).encode())
    return {"files": files, "embed": o.embed}
