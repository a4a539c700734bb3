"""File helpers: sha256, fsync, atomic rename, JSON written whole or not at all."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


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
