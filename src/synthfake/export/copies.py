"""Media copied into an export: whole copies by default, hard links with `--link`.

A copy is `shutil.copyfile` (sendfile on Linux; from Python 3.14 copy_file_range first, so on a reflink-capable
filesystem the blocks may be shared copy-on-write, which is safe: an edit copies them). A hard link is the
dataset's own file under a second name: editing the exported file in place (a PIL save, a resize script) edits
the dataset's media, and its records' sha256 no longer match. So links are opt-in (`--link`, to save space) and
fall back to a copy where the filesystem cannot link (another device). Either way the file appears under its
final name whole or not at all.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from synthfake.files import atomic_file, fsync_dir, fsync_file, removed_on_error, tmp_beside


def _linked(src: Path, dst: Path) -> bool:
    """Hard-link `src` as `dst`: True when linked, False where the filesystem cannot (another device: copy it).
    FileExistsError is the caller's: `dst` is there already."""
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        raise
    except OSError:
        return False


def copy_atomic(src: Path, final: Path, link: bool = False) -> None:
    """Copy `src` (or hard-link it, with `link`, where the filesystem allows) to a temporary name, then rename
    onto `final`."""
    with atomic_file(final) as tmp:
        if not (link and _linked(src, tmp)):
            shutil.copyfile(src, tmp)


def _same_size(src: Path, final: Path) -> bool:
    """Whether `final` is a file of `src`'s size (a copy a resumed export keeps; one cut short or replaced by a file
    of another size since is made again)."""
    try:
        return final.is_file() and final.stat().st_size == src.stat().st_size
    except OSError:
        return False


class MediaCopies:
    """Media copied into an export, many at a time, each folder fsynced once at `sync()`. A copy is written under
    a temporary name, fsynced and renamed; a hard link (`link`) needs no temporary name (the link appears whole
    or not at all, and its bytes are the dataset's, already on disk); where linking is not possible (another
    filesystem) it is copied. A file already there of the source's size (an interrupted export made it) is kept."""

    def __init__(self, link: bool = False):
        self.link = link
        self.folders: set[Path] = set()

    def __call__(self, src: Path, final: Path) -> None:
        if final.parent not in self.folders:
            final.parent.mkdir(parents=True, exist_ok=True)
            self.folders.add(final.parent)
        if _same_size(src, final):  # there already: an interrupted export made it (linked, or copied and renamed)
            return
        if self.link:
            final.unlink(missing_ok=True)  # one cut short or replaced since: linked again
            if _linked(src, final):
                return
        with removed_on_error(tmp_beside(final)) as tmp:
            shutil.copyfile(src, tmp)
            fsync_file(tmp)
            os.replace(tmp, final)  # the folder is fsynced at sync(), before the shard that names the file

    def sync(self) -> None:
        for folder in sorted(self.folders):
            fsync_dir(folder)
        self.folders.clear()
