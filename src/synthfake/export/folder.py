"""What an export folder holds besides the export: its marker (written last), `gen detect`'s unpacked view, and the
temporary files a killed export leaves (removed when it resumes, never anything else)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Callable

MARKER = "export.json"  # written last: an export folder holding it is complete
VIEW = ".dataset"  # in an export folder: `gen detect`'s unpacked view of it (reader.py), not the export's own
TMP = re.compile(r"\.(.+)\.([0-9]+)\.tmp")  # files.tmp_beside's `.NAME.PID.tmp`, what every format writes under
TMP_FOLDERS = ("frames", "landmarks")  # where deepfakebench writes whole folders under that name


def stale_tmp(out: Path) -> list[Path]:
    """What a killed export left in `out`: files named as `files.tmp_beside` names a file being written
    (`.NAME.PID.tmp`, e.g. `.test-00002.tar.4081.tmp`, `data/.train-00000-....parquet.4943.tmp`,
    `.../images/004/.0000.jpg.5118.tmp`) and deepfakebench's temporary folders of that name in its frames/ and
    landmarks/ folders. Nothing else: no other name, no folder elsewhere, nothing under `.dataset/` (gen detect's
    unpacked view) and no symlinked folder is followed."""
    out = Path(out)
    found: list[Path] = []
    for root, dirs, files in os.walk(out):
        if root == str(out):
            dirs[:] = [d for d in dirs if d != VIEW]
        for d in [d for d in dirs if TMP.fullmatch(d)]:
            dirs.remove(d)  # never descended into: a temporary folder is removed whole or left alone
            if os.path.basename(root) in TMP_FOLDERS:
                found.append(Path(root, d))
        found += [Path(root, f) for f in files if TMP.fullmatch(f)]
    return sorted(found)


def remove_stale_tmp(out: Path, log: Callable[[str], None]) -> None:
    """Remove what `stale_tmp` finds (an export folder holds one export at a time: another process's temporary
    files here are a killed export's), with one line saying how many."""
    found = stale_tmp(out)
    for p in found:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
    if found:
        log(f"removed {len(found)} temporary file(s) an interrupted export left in {out} "
            f"(e.g. {found[0].relative_to(out)})")


def read_marker(out: Path) -> dict | None:
    p = Path(out) / MARKER
    return json.loads(p.read_text()) if p.is_file() else None
