"""Labels CSVs of folders that are not synthfake datasets: `path,label[,kind,model]`, paths relative to the folder
(Windows separators, and absolute paths under the folder, are read as such). A competition's answer sheet
(`filename,label` with Real / Fake) reads as it is.

Used by `gen detect eval --labels` and `gen audit --labels`. A bad label or a path leaving the folder is a
one-line error naming the CSV and its line; a listed file that is absent is skipped with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import media
from .checks import existing_folder, not_found_reason, read_csv, refuse_repeats
from .errors import ManifestError, SynthfakeError
from .files import sha256_file
from .manifest import inside


@dataclass
class Labelled:
    """One row of a labels CSV."""

    path: str
    label: int
    kind: str
    model: str


# the competition's answer sheets say Real / Fake; pandas writes an int column holding a NaN as 0.0 / 1.0
LABEL_VALUES = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "real": 0, "fake": 1}
PATH_COLUMNS = ("path", "filename")  # ours, then the competition's submission column
WINDOWS_DRIVE = re.compile(r"[A-Za-z]:/")  # C:/... (once its separators are '/'): absolute on the machine it came from


def _relative(path: str, folder: Path) -> str:
    """A listed path as the folder-relative POSIX path it names: Windows separators made '/', and an absolute
    path under the folder (as a script that listed it writes it) made relative; anything else as written."""
    path = path.replace("\\", "/")
    if not path.startswith("/"):
        return path
    for root in {Path(folder).absolute().as_posix(), Path(folder).resolve().as_posix()}:
        try:
            return PurePosixPath(path).relative_to(root).as_posix()
        except ValueError:
            continue
    return path


def read_labels(csv_path: Path, folder: Path) -> list[Labelled]:
    """Rows of a labels CSV (UTF-8, with or without the BOM Excel writes); a one-line error naming the file and
    line for a bad label or path."""
    csv_path = Path(csv_path)
    what = "a labels CSV (path,label[,kind,model] or filename,label)"
    rows = read_csv(csv_path, ("label",), what)
    column = next((c for c in PATH_COLUMNS if rows and c in rows[0]), None)
    if rows and column is None:
        raise SynthfakeError(f"{csv_path}: {what} needs a 'path' or 'filename' column, got {sorted(rows[0])}")
    out = []
    for line, r in zip(rows.lines, rows):
        path, word = _relative((r.get(column) or "").strip(), folder), (r.get("label") or "").strip()
        label = LABEL_VALUES.get(word.lower())
        p = PurePosixPath(path)
        if not path or p.is_absolute() or WINDOWS_DRIVE.match(path) or ".." in p.parts:
            raise SynthfakeError(f"{csv_path}:{line}: path {path!r} must be relative to {folder} and stay inside it")
        if label is None:
            raise SynthfakeError(f"{csv_path}:{line}: label {word!r} for {path}: expected 1 or Fake, 0 or Real")
        path = p.as_posix()  # './a.jpg' and 'a.jpg' are one file
        kind = (r.get("kind") or "").strip() or ("fake" if label == 1 else "real")
        out.append(Labelled(path, label, kind, (r.get("model") or "").strip() or kind))
    if not out:
        raise SynthfakeError(f"{csv_path}: no rows")
    refuse_repeats(csv_path, [r.path for r in out], rows.lines)
    return out


def present(rows: list[Labelled], folder: Path) -> tuple[list[Labelled], list[dict]]:
    """(rows whose file exists inside the folder and is an image or video, skipped rows with the reason). Where a
    path leads is checked, not only its text: a symlink to a file outside the folder is skipped, never opened."""
    keep, skipped = [], []
    for r in rows:
        f = Path(folder) / r.path
        try:
            inside(folder, r.path, "labelled path")
        except ManifestError:
            skipped.append({"path": r.path, "reason": f"leads outside {folder} (a symlink to {f.resolve()})"})
            continue
        if media.is_mac_leftover(r.path):  # `predict` passes these over too: scored, they were fallbacks
            skipped.append({"path": r.path, "reason": "a macOS zip leftover (__MACOSX/ or an AppleDouble ._ file), "
                                                      "not the picture or clip its name ends in"})
        elif not f.is_file():
            skipped.append({"path": r.path, "reason": "a folder, not a file" if f.is_dir() else not_found_reason(f)})
        elif media.kind_of(f) not in ("image", "video"):
            skipped.append({"path": r.path, "reason": "not an image or video"})
        else:
            keep.append(r)
    return keep, skipped


@dataclass(frozen=True)
class Exclude:
    """Files to leave out by content: sha256 prefixes (all of one length) and the reason a skipped row gives. Each
    file is hashed once per Exclude (the equaliser and the as-found scorer ask about the same files)."""

    prefixes: frozenset[str]
    reason: str
    _answers: dict = field(default_factory=dict, compare=False, repr=False)

    def names(self, path: Path) -> bool:
        """Whether the file's content is one of the excluded (its sha256 begins with one of the prefixes)."""
        if path not in self._answers:
            self._answers[path] = sha256_file(path)[:len(next(iter(self.prefixes)))] in self.prefixes
        return self._answers[path]


def labelled_files(folder: Path, labels: Path, exclude: Exclude | None = None) -> tuple[list[Labelled], list[dict]]:
    """`present(read_labels(...))` of a labelled folder, which must exist: (rows to score, skipped with reasons);
    with `exclude`, a file whose content is one it names is skipped with its reason."""
    folder = existing_folder(folder)
    rows, skipped = present(read_labels(labels, folder), folder)
    if not exclude or not exclude.prefixes:
        return rows, skipped
    left_out = [exclude.names(folder / r.path) for r in rows]
    return ([r for r, x in zip(rows, left_out) if not x],
            skipped + [{"path": r.path, "reason": exclude.reason} for r, x in zip(rows, left_out) if x])
