"""Media copied into an export: hard links where the filesystem allows, else whole copies renamed into place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from synthfake.files import atomic_file, fsync_dir


def copy_atomic(src: Path, final: Path) -> None:
    """Copy (hard link when the filesystem allows) to a temporary name, then rename onto `final`."""
    with atomic_file(final) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


class MediaCopies:
    """Media copied into an export, many at a time: a hard link needs no temporary name (the link appears whole
    or not at all, and its bytes are the dataset's, already on disk), so only each folder is fsynced, once, at
    `sync()`; where linking is not possible (another filesystem), a copy goes through `copy_atomic`."""

    def __init__(self):
        self.folders: set[Path] = set()

    def __call__(self, src: Path, final: Path) -> None:
        if final.parent not in self.folders:
            final.parent.mkdir(parents=True, exist_ok=True)
            self.folders.add(final.parent)
        try:
            os.link(src, final)
        except FileExistsError:
            pass  # there already: an interrupted export made it (linked, or copied whole and renamed)
        except OSError:
            if not final.exists():  # another filesystem: copied whole under a temporary name, then renamed
                copy_atomic(src, final)

    def sync(self) -> None:
        for folder in sorted(self.folders):
            fsync_dir(folder)
        self.folders.clear()
