"""File helpers: sha256, fsync, atomic rename, JSON written whole or not at all, locks taken without waiting."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import SynthfakeError


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_sized(path: str | Path, size: int) -> str:
    """sha256 of a file its stat says holds `size` bytes, read in one system call (a million small files hash in
    half the time a buffered loop takes); a file that holds any other number of bytes by now is read whole."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, size + 1)
    finally:
        os.close(fd)
    return hashlib.sha256(data).hexdigest() if len(data) == size else sha256_file(path)


def sha256_or_none(path: str | Path, size: int | None = None) -> str | None:
    """sha256 of a file, or None when it cannot be read (gone, a folder, no permission); `size`: what its stat
    said, for a small file (`sha256_sized`)."""
    try:
        return sha256_file(path) if size is None else sha256_sized(path, size)
    except OSError:
        return None


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


def tmp_beside(final: Path) -> Path:
    """The hidden temporary name a process writes `final` under before the rename."""
    return final.with_name(f".{final.name}.{os.getpid()}.tmp")


@contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """A temporary path beside `final`, in its folder, to write; committed onto `final` when the block ends without
    an error. When the block or the commit fails (a full disk, `final` a folder) the temporary file is removed:
    nothing is left but what was there before."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_beside(final)
    try:
        with removed_on_error(tmp):
            yield tmp
            commit_file(tmp, final)
    except OSError as e:
        if not e.filename:  # a failed write() names no file: name the one meant
            e.filename = str(final)
        raise


@contextmanager
def removed_on_error(tmp: Path) -> Iterator[Path]:
    """`tmp` is removed when the block fails (a full disk, Ctrl-C, a bug): a failed write leaves nothing behind."""
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, obj) -> None:
    with atomic_file(Path(path)) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_file(Path(path)) as tmp:
        tmp.write_bytes(data)


def write_npy_atomic(path: str | Path, arr) -> None:
    """A numpy array as .npy (no pickles), whole or not at all."""
    import numpy as np

    with atomic_file(Path(path)) as tmp, open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)


def lock_nowait(path: Path) -> IO | None:
    """`path` opened for appending with an exclusive flock taken without waiting; None when another holds it."""
    fh = open(path, "a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def canonical_hash(obj, n: int = 16) -> str:
    """Short sha256 of an object's canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:n]


def open_to_read(path: Path, expected: str, error: type[SynthfakeError] = SynthfakeError) -> IO[bytes]:
    """`path` opened for binary reading; a folder or an unreadable file raises `error` with one line naming it and
    why (`expected` says what it should have been)."""
    try:
        return open(path, "rb")
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected {expected}") from None
    except OSError as e:
        raise _unreadable(path, e, error) from None


def _unreadable(path: Path, e: OSError, error: type[SynthfakeError]) -> SynthfakeError:
    """The one line for a file the system would not read (its reason, or the exception's name)."""
    return error(f"{path}: cannot be read ({e.strerror or type(e).__name__})")


def read_bytes(path: Path, expected: str, error: type[SynthfakeError] = SynthfakeError) -> bytes:
    """A file's bytes; a folder or an unreadable file raises `error` with one line naming it and why."""
    with open_to_read(path, expected, error) as fh:
        try:
            return fh.read()
        except OSError as e:
            raise _unreadable(path, e, error) from None


class DuplicateKey(ValueError):
    """A JSON object that names one key twice (json keeps the last value without a word)."""


def _unique_keys(pairs: list) -> dict:
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise DuplicateKey(k)
        seen.add(k)
    return dict(pairs)


def read_json(path: str | Path, unique_keys: bool = False):
    """A JSON file's content; a file that is not there whole (a folder, unreadable, cut, not JSON) fails with one
    line naming it and what is wrong (the shared reader of plan.json, sources.json and recipes). `unique_keys`: an
    object naming a key twice fails too (a file people write, where the second value silently won)."""
    path = Path(path)
    try:
        return loads_json(read_bytes(path, "a JSON file").decode("utf-8"), unique_keys)
    except DuplicateKey as e:
        raise SynthfakeError(f"{path}: key {e.args[0]!r} is given twice; keep one") from None
    except UnicodeDecodeError as e:
        raise SynthfakeError(f"{path}: not UTF-8 text (byte {e.start}); the file is corrupt") from None
    except json.JSONDecodeError as e:
        raise SynthfakeError(f"{path}: corrupt JSON at line {e.lineno} column {e.colno} ({e.msg})") from None


def loads_json(text: str, unique_keys: bool = False):
    """json.loads, refusing an object that names a key twice (DuplicateKey) when `unique_keys`."""
    return json.loads(text, object_pairs_hook=_unique_keys if unique_keys else None)


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


def file_state(path: str | Path) -> tuple[int, int] | None:
    """(size, mtime in ns) of a file as it is now, the key of caches that must see it rewritten; None when it
    cannot be stat'ed (absent)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns
