"""This machine's cache of what is computed from a file's bytes alone: a source file's scan (faces, embedding,
media properties) and a video's face track, keyed by the file's sha256 under `$XDG_CACHE_HOME/synthfake`
(default `~/.cache/synthfake`), in a folder named by the version of the code that computed them.

A second dataset made from the same sources (another recipe, a larger n, a learning curve) then skips the
scan's face detection and the tracking. Each dataset still keeps its own copies (`sources.json`,
`cache/tracks`), so it stays complete on a machine without this cache. The cache only saves work: an entry
that cannot be read or written is computed again, never an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .files import write_json_atomic, write_npy_atomic


def root() -> Path:
    """`$XDG_CACHE_HOME/synthfake`, else `~/.cache/synthfake`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "synthfake"


def entry(kind: str, key: str, suffix: str) -> Path:
    """Where entry `key` of `kind` (a name that carries its version, e.g. 'scan-1-dlib19.24.6') lives."""
    return root() / kind / key[:2] / f"{key}{suffix}"


def read_json(kind: str, key: str) -> dict | None:
    try:
        data = json.loads(entry(kind, key, ".json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(kind: str, key: str, data: dict) -> None:
    _write(write_json_atomic, entry(kind, key, ".json"), data)


def read_array(kind: str, key: str) -> np.ndarray | None:
    try:
        return np.load(entry(kind, key, ".npy"), allow_pickle=False)
    except (OSError, ValueError):
        return None


def write_array(kind: str, key: str, arr: np.ndarray) -> None:
    _write(write_npy_atomic, entry(kind, key, ".npy"), arr)


def _write(write, path: Path, content) -> None:
    """`write(path, content)` (atomic); a cache folder that cannot be made or written is left alone."""
    try:
        write(path, content)
    except OSError:
        pass
