"""Hugging Face datasets: Parquet shards `data/SPLIT-NNNNN-DIGEST.parquet` plus a dataset card (README.md).

Splits take Hugging Face's names (`train`, `validation`, `test`). One row per record: the fields a trainer
filters on as columns, `label` a ClassLabel (real, fake), the full record as JSON in `record`, and the media as
a typed feature: `image` (datasets.Image) for photos, `video` (datasets.Video) for clips, the other one empty.
The schema is `datasets.Features(...).arrow_schema`, which carries the feature types in the Parquet metadata,
so `datasets.load_dataset(OUT)` gives typed splits. With --embed the media bytes are inside the Parquet files
(what the Hub serves); without, the files are copied beside them (hard-linked with --link) and the feature holds
their path relative to the export folder, which `datasets` opens relative to the working directory (load it
from inside the folder).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from synthfake.files import atomic_file, write_bytes_atomic

from .card import card
from .common import Item, Options, Result, each_shard, kept_whole
from .copies import MediaCopies

VERSION = "2"  # 2: split `validation`, media as Image/Video features, card from huggingface_hub's card data
SETTINGS = ("embed", "shard_mb", "link")  # the Options fields this format reads (link: without embed)
LABEL_NAMES = ["real", "fake"]  # index = record label (0 real, 1 fake)
HF_SPLIT = {"val": "validation"}  # our split names -> Hugging Face's


def ready(o: Options) -> str | None:
    """Needs pyarrow (imported above) and datasets for the feature types (a missing one: the extra's pip line)."""
    import datasets  # noqa: F401  (ImportError -> one line naming synthfake[export])

    return None


def features():
    """The `datasets.Features` of a row (imported here: `datasets` is slow to import and only this format needs it)."""
    import datasets as d

    s = d.Value("string")
    return d.Features({
        "id": s, "index": d.Value("int64"), "type": s, "label": d.ClassLabel(names=LABEL_NAMES), "backend": s,
        "split": s, "identities": d.List(s), "media_kind": s, "image": d.Image(), "video": d.Video(),
        "sha256": s, "bytes": d.Value("int64"), "width": d.Value("int64"), "height": d.Value("int64"),
        "frames": d.Value("int64"), "fps": d.Value("float64"), "duration": d.Value("float64"), "record": s,
    })


def hf_split(split: str) -> str:
    return HF_SPLIT.get(split, split)


def row(it: Item, embed: bool) -> dict:
    r, m = it.record, it.record.media
    media = {"path": r.path, "bytes": it.media.read_bytes() if embed else None}
    return {"id": r.id, "index": r.index, "type": r.type, "label": r.label, "backend": r.backend,
            "split": hf_split(r.split), "identities": r.identities, "media_kind": m.kind,
            "image": media if m.kind == "image" else None, "video": media if m.kind == "video" else None,
            "sha256": r.sha256, "bytes": r.bytes, "width": m.width, "height": m.height, "frames": m.frames,
            "fps": m.fps, "duration": m.duration, "record": r.model_dump_json()}


def shard_path(split: str, n: int, items: list[Item], embed: bool) -> str:
    """`data/SPLIT-NNNNN-DIGEST.parquet`: the digest of the shard's content is in its name because `datasets`
    caches a local folder by its file names, so a re-export with other records must not reuse a stale cache."""
    digest = hashlib.sha256(f"{VERSION}:{embed}:{','.join(it.record.sha256 for it in items)}".encode()).hexdigest()
    return f"data/{hf_split(split)}-{n:05d}-{digest[:10]}.parquet"


def write_shard(final: Path, items: list[Item], embed: bool) -> None:
    table = pa.Table.from_pylist([row(it, embed) for it in items], schema=features().arrow_schema)
    with atomic_file(final) as tmp:
        pq.write_table(table, tmp)


def _rows(final: Path) -> int:
    return pq.read_metadata(final).num_rows  # the footer alone


def export(items: list[Item], out: Path, o: Options, res: Result) -> dict:
    files: dict[str, list[str]] = {}
    copies = MediaCopies(o.link)
    for split, n, chunk in each_shard(items, o, "parquet shards"):
        rel = shard_path(split, n, chunk, o.embed)
        files.setdefault(hf_split(split), []).append(rel)
        if not o.embed:
            for it in chunk:  # the media beside the table, at the record's own relative path (kept if there)
                copies(it.media, out / it.record.path)
            copies.sync()  # before the shard that names them
        if not kept_whole(out / rel, len(chunk), _rows, (pa.ArrowException, OSError)):
            write_shard(out / rel, chunk, o.embed)
    res.exported = len(items)
    text = card(res.dataset, out, res.counts, files, o.embed, res.skipped, o.license)
    write_bytes_atomic(out / "README.md", text.encode())
    return {"files": files, "embed": o.embed}
