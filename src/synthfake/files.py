"""File helpers: sha256, fsync, atomic rename, JSON written whole or not at all."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import SynthfakeError


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _fsync(path: str | Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    _fsync(path, os.O_RDONLY)


def fsync_dir(path: str | Path) -> None:
    _fsync(path, os.O_RDONLY | os.O_DIRECTORY)


def commit_file(tmp: Path, final: Path) -> None:
    """fsync a finished temporary file and rename it onto its final name (atomic on POSIX)."""
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def write_json_atomic(path: str | Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    commit_file(tmp, path)


def canonical_hash(obj, n: int = 16) -> str:
    """Short sha256 of an object's canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:n]


def read_json(path: str | Path):
    """A JSON file's content; a file that is not there whole (a folder, unreadable, cut, not JSON) fails with one
    line naming it and what is wrong (the shared reader of plan.json and sources.json)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        return json.loads(text)
    except IsADirectoryError:
        raise SynthfakeError(f"{path}: is a folder, expected a JSON file") from None
    except OSError as e:
        raise SynthfakeError(f"{path}: cannot be read ({e.strerror or type(e).__name__})") from None
    except UnicodeDecodeError as e:
        raise SynthfakeError(f"{path}: not UTF-8 text (byte {e.start}); the file is corrupt") from None
    except json.JSONDecodeError as e:
        raise SynthfakeError(f"{path}: corrupt JSON at line {e.lineno} column {e.colno} ({e.msg})") from None


def validate_json(path: str | Path, model, data):
    """`model` validated from `data` read out of `path`; the first problem as one line naming the file."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        more = f" (+{e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise SynthfakeError(f"{path}: not a valid {model.__name__} ({loc}: {err['msg']}){more}") from None
