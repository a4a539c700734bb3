"""The record of one sample (pydantic), and reading/writing the per-worker JSONL manifest files.

A dataset holds `manifest/part-RRRRR-of-WWWWW.jsonl` (one per worker) and the same names under
`failures/`. Lines are appended, flushed and fsynced one at a time; a torn last line from a kill is
cut off on the next start by the worker that owns the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Annotated, Iterator, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .errors import ManifestError
from .files import read_bytes
from .shared_types import MediaMeta, SampleType
VOLATILE_FIELDS = ("rank", "world_size", "host", "elapsed_s", "created")  # differ between identical runs


def check_relpath(path: str) -> str:
    """A path inside the dataset: relative, POSIX, no '..' component, not empty."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or "\\" in path or ".." in p.parts or path.startswith("~"):
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
    """Cut a partial last line (no newline, or not valid JSON) left by a kill; returns bytes removed."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    keep = len(data)
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
    else:
        last_start = data.rfind(b"\n", 0, len(data) - 1) + 1
        if data and _bad_json(data[last_start:]):
            keep = last_start
    if keep < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
    return len(data) - keep


def _bad_json(line: bytes) -> bool:
    try:
        json.loads(line)
        return False
    except ValueError:
        return True


def iter_jsonl(path: Path, model: type[BaseModel]) -> Iterator[tuple[int, BaseModel | ValidationError, bool]]:
    """(line number, the parsed model or its validation error, is-the-unfinished-last-line) per non-empty line."""
    data = read_bytes(path, "a JSONL manifest part", ManifestError)
    lines = data.split(b"\n")
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield no, model.model_validate_json(line), False
        except ValidationError as e:
            yield no, e, no == len(lines) and not data.endswith(b"\n")


def _read_jsonl(path: Path, model: type[BaseModel], strict: bool) -> list:
    out = []
    for no, item, torn_tail in iter_jsonl(path, model):
        if not isinstance(item, ValidationError):
            out.append(item)
        elif not (torn_tail and not strict):  # a live or killed writer's unfinished line is not a record yet
            err = item.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            raise ManifestError(f"{path}:{no}: invalid record ({loc}: {err['msg']})") from None
    return out


def read_records(dataset: str | Path, strict: bool = False) -> list[Record]:
    """Every record of every worker file; invalid lines and escaping paths raise ManifestError."""
    files = sorted((Path(dataset) / "manifest").glob("part-*.jsonl"))
    return [r for f in files for r in _read_jsonl(f, Record, strict)]


def read_failures(dataset: str | Path) -> list[Failure]:
    files = sorted((Path(dataset) / "failures").glob("part-*.jsonl"))
    return [r for f in files for r in _read_jsonl(f, Failure, False)]


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
