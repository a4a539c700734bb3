"""Error types. Every message is one line naming the file (or setting) and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Callable


# Exit codes of every `gen` command (README "Exit codes and failures").
EXIT_FAILED = 1  # samples failed (recorded in failures/) or an audit check failed
EXIT_USAGE = 2  # bad input or usage: one line, nothing written
EXIT_BROKEN = 3  # the environment or configuration broke: the shard stopped, nothing recorded as failed
EXIT_KILLED = 143  # SIGTERM


class SynthfakeError(Exception):
    """Base class: bad input or usage; the CLI prints it as one line and exits 2."""


class MediaError(SynthfakeError):
    """A media file is missing, corrupt, truncated, empty or of the wrong format."""

    def __init__(self, path: str | Path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


class PlanError(SynthfakeError):
    """The plan cannot be built from these sources, or conflicts with the dataset's plan."""


class ManifestError(SynthfakeError):
    """A manifest line is invalid or points outside the dataset root."""


class EnvironmentBroken(SynthfakeError):
    """Not the sample's fault (disk full, weights that do not load, a key refused): the shard stops with this
    one line, nothing is recorded as failed, and a rerun after the fix resumes (exit 3)."""


class BackendNotReady(EnvironmentBroken):
    """A backend cannot run here: missing extra or weights file."""


class SampleFailed(SynthfakeError):
    """One sample could not be made; recorded in failures/ and the run goes on."""


class ServiceFailed(SynthfakeError):
    """One sample failed outside its draw (a hosted API erred, timed out or answered garbage); recorded in
    failures/ like SampleFailed, but not drawn again: other sources would not help."""


def require_one_of(value, choices, prefix: str, error: type[Exception] = SynthfakeError, suffix: str = "") -> None:
    """Raise `error(prefix + the choices, comma-separated, + suffix)` unless value is one of them."""
    if value not in choices:
        raise error(prefix + ", ".join(map(str, choices)) + suffix)


def not_ready_reason(check: Callable, *args) -> str | None:
    """The one-line reason `check(*args)` raises BackendNotReady with, or None: a raising check as ready()'s answer."""
    try:
        check(*args)
    except BackendNotReady as e:
        return str(e)
    return None


ENVIRONMENT_ERRNOS = {28, 122, 27, 30, 5, 24, 12}  # ENOSPC, EDQUOT, EFBIG, EROFS, EIO, EMFILE, ENOMEM
PATH_ERRNOS = {21, 20, 13, 1, 36}  # EISDIR, ENOTDIR, EACCES, EPERM, ENAMETOOLONG: a path that cannot serve


def environment_cause(e: BaseException) -> str | None:
    """The one-line reason when `e` is the environment's fault rather than the sample's, else None."""
    if isinstance(e, EnvironmentBroken):
        return str(e)
    if isinstance(e, ImportError):
        return f"missing dependency {e.name or e} (install the extra this backend needs)"
    if isinstance(e, MemoryError):
        return "out of memory (MemoryError)"
    if isinstance(e, OSError) and e.errno in ENVIRONMENT_ERRNOS:
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror or type(e).__name__} (errno {e.errno})"
    return None


def os_error(e: OSError) -> tuple[str, int]:
    """An OSError as (one line naming the file and the reason, exit code): EXIT_BROKEN when the environment broke
    (disk full, read-only file system, I/O error...), EXIT_USAGE for a path that cannot serve (a folder where a
    file belongs, no permission). A failed rename names its target."""
    name = e.filename2 or e.filename
    where = f"{name}: " if name else ""
    code = EXIT_BROKEN if e.errno in ENVIRONMENT_ERRNOS else EXIT_USAGE
    return f"{where}{e.strerror or type(e).__name__}" + (f" (errno {e.errno})" if e.errno else ""), code
