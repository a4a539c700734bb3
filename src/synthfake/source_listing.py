"""Which files under a sources folder can be sources, and why not the rest, before any is opened.

Files that cannot be read are excluded with their reason, and the scan goes on: a broken symlink, an
unreadable file or folder, something that is not a regular file. Symlinks: every source must resolve inside the
sources root (the same rule `manifest.inside` applies when a record's source is read back), so a file symlink
pointing outside the root is excluded, and a symlinked folder is not followed (excluded, with the reason);
point `--sources` at the real folder or copy the files in.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def list_files(root: Path) -> list[tuple[Path, str | None]]:
    """(path, why it cannot be read or None) for every file under root; folders that cannot be listed and
    symlinked folders appear as one excluded entry each."""
    out: list[tuple[Path, str | None]] = []

    def folder_error(e: OSError) -> None:
        out.append((Path(e.filename), f"unreadable folder ({e.strerror or type(e).__name__})"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=folder_error):
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d)) and not d.startswith(".")]
        out += [(Path(dirpath) / d, "symlinked folder, not followed (sources must lie under the root)")
                for d in links]
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in links)
        out += [(Path(dirpath) / f, None) for f in sorted(filenames) if not f.startswith(".")]
    out = [(p, why) for p, why in out if why or (p.name != "identities.csv" and p.suffix.lower() != ".md")]
    out = [_utf8_name(p, why) for p, why in out]
    return sorted(out, key=lambda x: x[0].relative_to(root).as_posix() if x[0] != root else "")


def _utf8_name(path: Path, why: str | None) -> tuple[Path, str | None]:
    """A path whose name is not UTF-8 (its bytes kept by Python as surrogates) cannot be written into the index or
    a record: excluded, named with its bad bytes shown as U+FFFD (one such file had ended `gen run` in a
    traceback)."""
    try:
        str(path).encode("utf-8")
        return path, why
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", "replace")
        return Path(shown), "file name is not UTF-8 (rename it to use it)"


def unreadable(root: Path, path: Path) -> tuple[str | None, os.stat_result | None]:
    """Why this listed file cannot be a source (None: it can), and its stat."""
    try:
        st = path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symlink loop (it leads back to itself)", None
        return ("broken symlink" if path.is_symlink() else f"cannot stat ({e.strerror})"), None
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file", None
    if path.is_symlink() and root not in path.resolve().parents:
        return f"symlink to {path.resolve()}, outside the sources root (not followed)", None
    if not os.access(path, os.R_OK):
        return "unreadable (permission denied)", None
    return None, st
