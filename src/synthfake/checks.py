"""One check per kind of user input, shared by every command, each failing with one line that names the option
(or file) and the reason before anything is written: numbers (finite and in range), output paths (the parent a
folder, writable, not inside an input), and CSV tables (UTF-8 with or without Excel's BOM, the columns needed,
each key once)."""

from __future__ import annotations

import csv
import errno
import math
import os
import tempfile
import unicodedata
from pathlib import Path

from .errors import SynthfakeError


def number(value, what: str, low: float | None = None, high: float | None = None, *, above: float | None = None):
    """`value` when it is a finite number with low <= value <= high (and value > above); else one line naming
    `what` (e.g. '--splits train' or 'http_t2i.timeout')."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SynthfakeError(f"{what} {value!r}: not a number") from None
    if isinstance(value, bool) or not math.isfinite(x):
        raise SynthfakeError(f"{what} {value!r}: not a finite number")
    if low is not None and x < low or high is not None and x > high or above is not None and x <= above:
        lo = f"> {above:g}" if above is not None else (f">= {low:g}" if low is not None else "")
        hi = f"<= {high:g}" if high is not None else ""
        raise SynthfakeError(f"{what} {value!r}: must be {' and '.join(p for p in (lo, hi) if p)}")
    return value


def is_number(value, low: float = -math.inf, high: float = math.inf) -> bool:
    """Whether `value` is a finite JSON number (not a bool, not a string) with low <= value <= high: what a
    settings file read as written (detector.json, a recipe's own keys) must hold."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and low <= value <= high)


def existing_folder(folder, what: str = "folder") -> Path:
    """`folder` as a Path when it is a folder; else one line: '<folder>: <what> not found'."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SynthfakeError(f"{folder}: {what} {'is a file, not a folder' if folder.exists() else 'not found'}")
    return folder


def _existing_ancestor(path: Path) -> Path:
    """The path itself or its nearest ancestor that exists (the folder a new file or folder would go in)."""
    for p in (path, *path.parents):
        if os.path.lexists(p):
            return p
    return Path(".")


def _why_not_writable(folder: Path) -> str | None:
    """Why nothing can be created in `folder` (None when it can): a read-only file system or no permission. Where
    os.access says yes, a file is made and removed there: root is told yes where writing fails (/proc)."""
    if os.access(folder, os.W_OK | os.X_OK):
        try:
            fd, probe = tempfile.mkstemp(prefix=".synthfake-probe-", dir=folder)
        except OSError as e:  # /proc says ENOENT: the folder exists, but no file can be made in it
            return "no file can be made there" if e.errno == errno.ENOENT else e.strerror or type(e).__name__
        os.close(fd)
        os.unlink(probe)
        return None
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"


def _placeable(path: Path, what: str) -> None:
    """`path` can be created or replaced: every existing ancestor is a folder, and the folder it goes in (the
    path itself when it is an existing folder) is writable."""
    where = _existing_ancestor(path.absolute())
    if where != path.absolute() and not where.is_dir():
        raise SynthfakeError(f"{what}: {where} is a file, not a folder")
    folder = where if where.is_dir() else where.parent
    why = _why_not_writable(folder)
    if why:
        raise SynthfakeError(f"{what}: cannot write in {folder} ({why})")


def output_file(path: Path | None, option: str, inputs: dict[str, Path | None] | None = None) -> None:
    """An output file option (--json FILE, --out FILE): not a folder, its parent a folder, writable, and neither an
    input file of `inputs` ({option: path}) nor inside an input folder, which it would change."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise SynthfakeError(f"{option} {path}: is a folder; give a file name")
    for name, given in (inputs or {}).items():
        if given is None:
            continue
        if Path(given).is_dir() and overlaps(path, given) or Path(path).resolve() == Path(given).resolve():
            where = "is inside" if Path(given).is_dir() else "is"
            raise SynthfakeError(f"{option} {path}: {where} {name} {given}, which it would change; write it "
                                 f"elsewhere")
    _placeable(path, f"{option} {path}")


def overlaps(a: Path, b: Path) -> bool:
    """Whether folder `a` is `b` or lies inside it (symlinks resolved)."""
    ra, rb = Path(a).resolve(), Path(b).resolve()
    return ra == rb or rb in ra.parents


def output_dir(path: Path, option: str, inputs: dict[str, Path] | None = None) -> None:
    """An output folder option (--out DIR): not a file, its parents folders, writable, and neither equal to nor
    inside any input folder of `inputs` ({option: folder}), whose files it would change, nor holding one (`gen run
    --sources D/media --out D` wrote its fakes among the sources, then refused to resume: they had changed)."""
    path = Path(path)
    if os.path.lexists(path) and not path.is_dir():
        raise SynthfakeError(f"{option} {path}: is a file, not a folder")
    for name, folder in (inputs or {}).items():
        if folder is not None and overlaps(path, folder):
            where = "is" if Path(path).resolve() == Path(folder).resolve() else "is inside"
            raise SynthfakeError(f"{option} {path}: {where} {name} {folder}, which it would change; "
                                 f"write it elsewhere")
        if folder is not None and overlaps(folder, path):
            raise SynthfakeError(f"{option} {path}: holds {name} {folder}, whose files what it writes would join; "
                                 f"write it elsewhere")
    _placeable(path, f"{option} {path}")


class Rows(list):
    """A CSV's rows, with the line of the file each ends on (`lines`): a blank line or a row of empty cells (the
    `,,` rows Excel leaves below a table) is no row, so the lines a message names are the file's own."""

    def __init__(self, rows: list[dict[str, str]], lines: list[int]):
        super().__init__(rows)
        self.lines = lines


def read_csv(path: Path, required: tuple[str, ...], what: str, unique: str | None = None) -> Rows:
    """The rows of a CSV file (UTF-8, with or without the BOM Excel writes), column names stripped and lower-case,
    values stripped. One line naming the file when it cannot be read, lacks a `required` column, or lists a
    value of column `unique` twice (with both line numbers)."""
    path = Path(path)
    rows, lines = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            cols = [(c or "").strip().lower() for c in reader.fieldnames or []]
            reader.fieldnames = cols
            for r in reader:
                refuse_extra_fields(path, reader, r)
                row = {k: (v or "").strip() if isinstance(v, str) else "" for k, v in r.items() if k is not None}
                if any(row.values()):
                    rows.append(row)
                    lines.append(reader.line_num)
    except IsADirectoryError:
        raise SynthfakeError(f"{path}: is a folder, expected {what}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise SynthfakeError(f"{path}: cannot read {what} ({e})") from None
    if any(c not in cols for c in required):
        named = " and ".join(map(repr, required))
        raise SynthfakeError(f"{path}: {what} needs {named} column{'s' if len(required) > 1 else ''}, got {cols}")
    if unique is not None:
        refuse_repeats(path, [f"{unique} {r.get(unique, '')!r}" for r in rows], lines)
    return Rows(rows, lines)


def refuse_extra_fields(path: Path, reader: csv.DictReader, row: dict) -> None:
    """Drop a `csv.DictReader` row's fields past the header's (under key None) when they are empty (a trailing
    delimiter); one line naming the file and line when one is not: a value holding the delimiter unquoted, which
    read on would shift into the next column."""
    extra = row.pop(None, None) or ()
    if any((v or "").strip() for v in extra):
        n = len(reader.fieldnames or ())
        raise SynthfakeError(f"{path}:{reader.line_num}: {n + len(extra)} fields where the header has {n}; a value "
                             f"holding {reader.reader.dialect.delimiter!r} must be quoted")


def refuse_repeats(path: Path, keys: list[str], lines: list[int] | None = None) -> None:
    """One line naming the first key of a CSV's rows (on `lines`, else row i on line i + 2) that a later row
    repeats, with both lines."""
    seen: dict[str, int] = {}
    for line, key in zip(lines or range(2, len(keys) + 2), keys):
        if key in seen:
            raise SynthfakeError(f"{path}:{line}: {key} is listed twice (first on line {seen[key]})")
        seen[key] = line


def not_found_reason(f: Path) -> str:
    """"file not found", naming a file beside it whose name differs only in letter case or Unicode form (a .JPG
    listed as .jpg, an accent composed on one side and decomposed on the other): paths here are read exactly."""
    def loose(name: str) -> str:
        return unicodedata.normalize("NFC", name).casefold()

    try:
        near = sorted(n.name for n in f.parent.iterdir() if loose(n.name) == loose(f.name))
    except OSError:
        near = []
    return f"file not found ({near[0]!r} beside it differs only in letter case or Unicode form)" if near else \
        "file not found"
