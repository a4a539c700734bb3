"""Reading a webdataset or hf export back as a dataset folder, so `gen detect train` needs no original folder.

The export's records and media are unpacked once into `EXPORT/.dataset/` (manifest/part-00000-of-00001.jsonl
and the media at each record's own path), which the detector reads like any dataset. Every member name and
media path is checked to stay inside that folder, every record is validated, and a media file whose sha256
differs from its record is left out with one line. A second call reuses what is there.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Callable, Iterator

from pydantic import ValidationError

from synthfake.errors import SynthfakeError
from synthfake.files import write_bytes_atomic, write_json_atomic
from synthfake.manifest import Record, inside, part_name

from .folder import VIEW, read_marker

UNPACKED = "unpacked.json"  # in the view: where it came from and the plan hash the export was made under


def view_plan(view: Path) -> str:
    """The plan hash an unpacked view's export was made under ("" when unknown: an export made before 6 Dec
    evening, or a view without its note)."""
    try:
        return str(json.loads((Path(view) / UNPACKED).read_text()).get("plan") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def _webdataset(out: Path, shards: list[str]) -> Iterator[tuple[str, bytes | None, bytes | None]]:
    """(where, record JSON, media bytes) per sample of the tar shards."""
    for name in shards:
        path = inside(out, name)
        group: dict[str, dict[str, bytes]] = {}
        try:
            with tarfile.open(path) as tar:
                for m in tar:
                    if m.isfile():
                        key, _, ext = m.name.partition(".")
                        group.setdefault(key, {})[ext] = tar.extractfile(m).read()
        except (tarfile.TarError, EOFError) as e:  # a shard cut short (a copy or download that stopped) or not a tar
            raise SynthfakeError(f"{path}: not a whole tar shard ({e}); copy it again, or export anew") from None
        for key, parts in group.items():
            media = next((v for e, v in parts.items() if e not in ("json", "cls")), None)  # cls: the label
            yield f"{path.name}:{key}", parts.get("json"), media


def _parquet(out: Path, files: dict[str, list[str]]) -> Iterator[tuple[str, bytes | None, bytes | None]]:
    """(where, record JSON, media bytes) per row: the media from the `image`/`video` feature (bytes, or a path
    inside the export); exports before hf VERSION 2 held `media_bytes`/`media_path` columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for rel in (f for fs in files.values() for f in fs):
        path = inside(out, rel)
        try:
            typed = "image" in pq.read_schema(path).names
            table = pq.read_table(path, columns=["record", "image", "video"] if typed else
                                  ["record", "media_path", "media_bytes"])
        except pa.ArrowException as e:  # cut short or not Parquet (a missing file stays an OSError, said upstream)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise SynthfakeError(f"{path}: not a whole Parquet file ({first}); copy it again, or export anew") from None
        for i, row in enumerate(table.to_pylist()):
            if typed:
                feature = row["image"] or row["video"] or {}
                media, where = feature.get("bytes"), feature.get("path")
            else:
                media, where = row["media_bytes"], row["media_path"]
            if media is None and where:
                p = inside(out, where)
                media = p.read_bytes() if p.is_file() else None
            yield f"{rel}:{i}", (row["record"] or "").encode(), media


def as_dataset(path: str | Path, log: Callable[[str], None] = print) -> Path:
    """`path` itself when it is a dataset; for a finished webdataset or hf export, its unpacked view."""
    path = Path(path)
    marker = read_marker(path)
    if marker is None or marker.get("format") not in ("webdataset", "hf"):
        return path
    view = path / VIEW
    manifest = view / "manifest" / part_name(0, 1)
    if manifest.is_file():
        return view
    samples = (_webdataset(path, marker["shards"]) if marker["format"] == "webdataset"
               else _parquet(path, marker["files"]))
    lines = []
    for where, rec_json, media in samples:
        try:
            r = Record.model_validate_json(rec_json or b"")
        except ValidationError as e:
            log(f"skipped {where}: invalid record ({e.errors()[0]['msg']})")
            continue
        if media is None or hashlib.sha256(media).hexdigest() != r.sha256:
            log(f"skipped {where} ({r.path}): media {'missing' if media is None else 'sha256 differs from the record'}")
            continue
        target = inside(view, r.path, "record path")
        if not (target.is_file() and target.stat().st_size == len(media)):
            write_bytes_atomic(target, media)
        lines.append(r.model_dump_json())
    if not lines:
        raise SynthfakeError(f"{path}: the {marker['format']} export holds no readable sample")
    write_bytes_atomic(manifest, ("\n".join(lines) + "\n").encode())
    write_json_atomic(view / UNPACKED, {"from": str(path.resolve()), "format": marker["format"],
                                         "plan": marker.get("plan"), "records": len(lines)})
    return view


__all__ = ["as_dataset"]
