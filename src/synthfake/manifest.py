"""The record of one sample (pydantic), and reading/writing the per-worker JSONL manifest files.

A dataset holds `manifest/part-RRRRR-of-WWWWW.jsonl` (one per worker) and the same names under
`failures/`. Lines are appended, flushed and fsynced one at a time; a torn last line from a kill is
cut off on the next start by the worker that owns the file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Iterator, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .errors import ManifestError
from .files import open_to_read
from .shared_types import MediaMeta, SampleType
VOLATILE_FIELDS = ("rank", "world_size", "host", "elapsed_s", "created")  # differ between identical runs


def check_relpath(path: str) -> str:
    """A path inside the dataset: relative, POSIX, no '..' component, not empty. (String tests equal to
    PurePosixPath's is_absolute and parts, at a fraction of the cost: every record and source path passes here.)"""
    if not path or path.startswith(("/", "~")) or "\\" in path or ".." in path.split("/"):
        raise ValueError(f"path escapes the dataset root: {path!r}")
    return path


RelPath = Annotated[str, AfterValidator(check_relpath)]  # a record's or source's path, checked on load


class SourceRef(BaseModel):
    """One source file a sample used, relative to the sources root."""

    model_config = ConfigDict(extra="forbid")
    path: RelPath
    sha256: str
    identity: str
    role: str


class Record(BaseModel):
    """One finished sample with full provenance (DESIGN.md, 'The record')."""

    model_config = ConfigDict(extra="forbid")
    id: str
    index: int = Field(ge=0)
    type: SampleType
    label: Literal[0, 1]
    backend: str
    backend_version: str
    weights: dict[str, str] = {}
    weights_unverified: list[str] = []  # weight files used without a published sha256 to check against
    params: dict
    seed: int
    sources: list[SourceRef]
    identities: list[str]
    path: RelPath
    sha256: str
    bytes: int = Field(ge=0)
    media: MediaMeta
    manipulated_frames: int = Field(ge=0)
    degradations: list[dict] = []
    attempt: int = Field(0, ge=0)  # 0, or k when sources/params were drawn again after k failed quality gates
    split: str
    rank: int
    world_size: int
    host: str
    elapsed_s: float
    created: str


class Failure(BaseModel):
    """A sample that could not be made, with a one-line reason."""

    model_config = ConfigDict(extra="forbid")
    id: str
    index: int
    type: SampleType
    backend: str
    split: str
    sources: list[SourceRef]
    reason: str
    attempts: int = 1  # draws tried (the last one's sources and reason are these)
    rank: int
    world_size: int
    host: str
    created: str


def part_name(rank: int, world_size: int) -> str:
    return f"part-{rank:05d}-of-{world_size:05d}.jsonl"


def append_line(fh, model: BaseModel) -> None:
    """Append one JSON line, flush and fsync: after this returns, the line survives a kill."""
    fh.write(model.model_dump_json() + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def repair_torn_tail(path: Path) -> int:
    """Cut a partial last line (not valid JSON) left by a kill; returns bytes removed. A last line that is whole
    JSON but lacks its newline (a write cut just before it, an editor that strips it) gets the newline instead:
    it was cut, and its sample made again. Reads only the end of the file, so a shard's start-up costs the same
    whatever its manifest holds."""
    if not path.exists():
        return 0
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(size - 1)
        if fh.read(1) != b"\n":
            keep = _last_newline(fh, size) + 1
            fh.seek(keep)
            if not _bad_json(fh.read(size - keep)):
                with open(path, "ab") as out:
                    out.write(b"\n")
                    out.flush()
                    os.fsync(out.fileno())
                return 0
        else:
            start = _last_newline(fh, size - 1) + 1
            fh.seek(start)
            keep = start if _bad_json(fh.read(size - start)) else size
    if keep < size:
        with open(path, "r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
    return size - keep


def _last_newline(fh, end: int, block: int = 1 << 16) -> int:
    """Offset of the last newline before `end` (-1 when there is none), read backwards a block at a time."""
    pos = end
    while pos > 0:
        start = max(0, pos - block)
        fh.seek(start)
        found = fh.read(pos - start).rfind(b"\n")
        if found >= 0:
            return start + found
        pos = start
    return -1


def _bad_json(line: bytes) -> bool:
    try:
        json.loads(line)
        return False
    except ValueError:
        return True


def iter_lines(path: Path, expected: str = "a JSONL manifest part") -> Iterator[tuple[int, int, bytes, bool]]:
    """(line number, byte offset, line without its newline, is-the-unfinished-last-line) per non-empty line,
    streamed (a part of a million lines is never held whole); a folder or an unreadable file is a ManifestError."""
    with open_to_read(path, expected, ManifestError) as fh:
        offset = 0
        try:
            for no, raw in enumerate(fh, 1):
                torn = not raw.endswith(b"\n")
                line = raw if torn else raw[:-1]
                if line.strip():
                    yield no, offset, line, torn
                offset += len(raw)
        except IsADirectoryError:
            raise ManifestError(f"{path}: is a folder, expected {expected}") from None


def iter_jsonl(path: Path, model: type[BaseModel]) -> Iterator[tuple[int, BaseModel | ValidationError, bool]]:
    """(line number, the parsed model or its validation error, is-the-unfinished-last-line) per non-empty line."""
    for no, _, line, torn in iter_lines(path):
        try:
            yield no, model.model_validate_json(line), False
        except ValidationError as e:
            yield no, e, torn


_HEAD = re.compile(rb'\{"id":"([0-9A-Za-z_-]{1,64})","index":(0|[1-9][0-9]{0,17}),')


def iter_heads(path: Path) -> Iterator[tuple[int, int, str, int]]:
    """(line number, byte offset, id, index) of every line of a manifest or failures part, without validating
    the rest of the record: what counting needs, at a few microseconds a line. A torn last line is skipped; any
    other line that is not a JSON object with a string `id` and an `index` >= 0 is a ManifestError."""
    for no, offset, line, torn in iter_lines(path):
        m = _HEAD.match(line)
        if m and line.endswith(b"}"):  # the writer's own field order: id, index first
            yield no, offset, m.group(1).decode(), int(m.group(2))
            continue
        try:
            obj = json.loads(line)
            sid, index = obj["id"], obj["index"]
            if not isinstance(sid, str) or not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise ValueError("id must be a string and index a whole number >= 0")
        except (ValueError, KeyError, TypeError) as e:
            if torn:
                continue  # a live or killed writer's unfinished line is not a record yet
            raise ManifestError(f"{path}:{no}: invalid line ({type(e).__name__}: {str(e)[:80]})") from None
        yield no, offset, sid, index


def read_at(path: Path, offset: int, model: type[BaseModel] = None) -> BaseModel:
    """The record (or failure) on the line that starts at `offset` of `path`."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        return (model or Record).model_validate_json(fh.readline())


def why_invalid(e: ValidationError) -> str:
    """'field: what is wrong' of a line that is not a valid record (the first error; 'line' when the line itself
    is not JSON)."""
    err = e.errors()[0]
    return f"{'.'.join(str(x) for x in err['loc']) or 'line'}: {err['msg']}"


def _read_jsonl(path: Path, model: type[BaseModel], strict: bool) -> list:
    out = []
    for no, item, torn_tail in iter_jsonl(path, model):
        if not isinstance(item, ValidationError):
            out.append(item)
        elif not (torn_tail and not strict):  # a live or killed writer's unfinished line is not a record yet
            raise ManifestError(f"{path}:{no}: invalid record ({why_invalid(item)})") from None
    return out


def part_files(folder: Path) -> list[Path]:
    """Every part file of a manifest or failures folder, in name order."""
    return sorted(Path(folder).glob("part-*.jsonl"))


def part_shard(path: Path) -> tuple[int, int] | None:
    """(rank, world size) from a part's name `part-RRRRR-of-WWWWW.jsonl`; None for another name."""
    m = re.fullmatch(r"part-(\d+)-of-(\d+)\.jsonl", Path(path).name)
    return (int(m.group(1)), int(m.group(2))) if m and int(m.group(2)) > 0 else None


def read_part(path: Path, strict: bool = False) -> list[Record]:
    """The records of one part file; invalid lines and escaping paths raise ManifestError."""
    return _read_jsonl(path, Record, strict)


def read_records(dataset: str | Path, strict: bool = False) -> list[Record]:
    """Every line of every worker file as it is (a second record of an index too: `tally.planned_records` counts
    each planned index once); invalid lines and escaping paths raise ManifestError."""
    return [r for f in part_files(Path(dataset) / "manifest") for r in _read_jsonl(f, Record, strict)]


def read_failures(dataset: str | Path) -> list[Failure]:
    return [r for f in part_files(Path(dataset) / "failures") for r in _read_jsonl(f, Failure, False)]


def inside(root: str | Path, rel: str, what: str = "path") -> Path:
    """THE way to turn a path read from a record (its media under the dataset, a source under the sources root)
    into a file to open: relative, no '..', and still inside `root` once every symlink is resolved."""
    base = Path(root).resolve()
    try:
        check_relpath(rel)
    except ValueError:
        raise ManifestError(f"{rel}: {what} escapes its root {base} (absolute or '..')") from None
    p = (base / rel).resolve()
    if base not in p.parents:
        raise ManifestError(f"{rel}: {what} escapes its root {base}: resolves to {p} (a symlink?)")
    return p


def resolve(dataset: str | Path, record: Record) -> Path:
    """Absolute path of a record's media, checked to stay inside the dataset root."""
    return inside(dataset, record.path, "media path")


def source_file(sources_root: str | Path, ref: SourceRef) -> Path:
    """Absolute path of one of a record's sources, checked to stay inside the sources root."""
    return inside(sources_root, ref.path, "source path")


def stable_view(record: Record) -> dict:
    """The record without the fields that differ between two identical runs (timing, host, shard)."""
    return record.model_dump(exclude=set(VOLATILE_FIELDS))
