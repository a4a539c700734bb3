"""What a folder to score and its sample submission hold: the images and videos to score, the files passed over
(not media by extension, macOS zip leftovers), the sheet's columns, and which file each of its keys names."""

from __future__ import annotations

import csv
import io
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from synthfake import checks, media
from synthfake.errors import SynthfakeError

LABEL_COLUMNS = ("label", "prediction", "pred", "target", "class", "is_fake", "fake", "deepfake")
PROB_COLUMNS = ("probability", "prob", "score", "fake_prob", "prob_fake", "confidence")
KEY_COLUMNS = ("filename", "file_name", "file", "path", "filepath", "name", "video", "image", "id")


@dataclass
class SampleSubmission:
    """The columns and row order a competition expects, and how it spells labels."""

    columns: list[str]
    key: str
    label: str | None
    prob: str | None
    rows: list[dict]
    words: tuple[str, str] | None = None  # (real, fake) spelled as the sample spells them
    delimiter: str = ","  # as the sample separates its columns (a European Excel writes ';'), kept in the submission
    note: str | None = None  # how the sheet was read when not as UTF-8 CSV (CP949, UTF-16), for the log


@dataclass
class Inputs:
    """What a folder holds: the images and videos to score, and the files passed over."""

    files: list[Path]
    other: list[Path] = field(default_factory=list)  # not an image or video by extension (.mpg, .txt, ...)
    mac: list[Path] = field(default_factory=list)  # macOS zip leftovers (`is_mac_leftover`)


def scan_inputs(folder: Path) -> Inputs:
    """Every image and video under a folder, sorted by relative path, and the files passed over."""
    folder = checks.existing_folder(folder, "input folder")
    found, other, mac, seen = [], [], [], set()
    # linked folders are followed (each real folder once: a link loop ends); a broken symlink is listed too: it
    # gets its row (the fallback) and a log line saying why
    for top, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for n in names:
            p = Path(top) / n
            if not (p.is_file() or p.is_symlink() and not p.exists()):
                continue
            if media.is_mac_leftover(p.relative_to(folder).as_posix()):
                mac.append(p)
            elif media.kind_of(p) in ("image", "video"):
                found.append(p)
            else:
                other.append(p)

    def order(ps: list[Path]) -> list[Path]:
        return sorted(ps, key=lambda p: p.relative_to(folder).as_posix())

    return Inputs(order(found), order(other), order(mac))


def list_inputs(folder: Path) -> list[Path]:
    """Every image and video under a folder, sorted by relative path (macOS zip leftovers left out)."""
    return scan_inputs(folder).files


def examples(paths: list[Path], root: Path, n: int = 3) -> str:
    """Up to n relative paths, then '...' when there are more."""
    shown = [p.relative_to(root).as_posix() for p in paths[:n]]
    return ", ".join(shown) + (", ..." if len(paths) > n else "")


def passed_over(found: Inputs, root: Path, ours: list[Path]) -> str | None:
    """What was passed over under `root` (`ours`, the run's own CSVs, not counted), or None when nothing was."""
    mine = {os.path.realpath(p) for p in ours if p is not None}
    other = [p for p in found.other if os.path.realpath(p) not in mine]
    said = []
    if other:
        said.append(f"{len(other)} not an image or video by extension ({examples(other, root)})")
    if found.mac:
        said.append(f"{len(found.mac)} macOS zip leftover(s): __MACOSX/ or AppleDouble ._ files "
                    f"({examples(found.mac, root)})")
    if not said:
        return None
    return f"passed over {len(other) + len(found.mac)} file(s), not scored: {'; '.join(said)}"


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    low = {c.strip().lower(): c for c in columns}
    return next((low[n] for n in names if n in low), None)


def _sheet_text(path: Path) -> tuple[str, str | None]:
    """A sheet's text and the encoding said when it is not UTF-8: UTF-16 by its BOM (Excel's "Unicode text"), else
    UTF-8 (Excel's BOM dropped), else CP949, which Korean Excel's plain "CSV" save writes."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise SynthfakeError(f"{path}: cannot read sample submission ({e.strerror or e})") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace"), "UTF-16"
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        try:
            return raw.decode("cp949"), "CP949"
        except UnicodeDecodeError:
            raise SynthfakeError(f"{path}: cannot read sample submission: not UTF-8 text (byte {e.start}) nor CP949; "
                                 f"save it as 'CSV UTF-8'") from None


def read_sample(path: Path) -> SampleSubmission:
    """Read a sample submission: first column is the file key, label column by name (else the second). Columns are
    separated by ',' or, where the header has none, by ';' or a tab."""
    text, encoding = _sheet_text(path)
    header = text.splitlines()[0] if text else ""
    delimiter = "," if "," in header else next((d for d in (";", "\t") if d in header), ",")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows, cols = [], list(reader.fieldnames or [])
        for row in reader:
            checks.refuse_extra_fields(path, reader, row)
            rows.append(row)
    except csv.Error as e:
        raise SynthfakeError(f"{path}: cannot read sample submission ({e})") from None
    if len(cols) < 2:
        raise SynthfakeError(f"{path}: sample submission needs a file column and a label column, got {cols}")
    if not rows:
        raise SynthfakeError(f"{path}: sample submission has no rows (nothing to fill in)")
    key = _pick(cols, KEY_COLUMNS) or cols[0]
    label = _pick(cols, LABEL_COLUMNS)
    prob = _pick(cols, PROB_COLUMNS)
    if label is None and prob is None:
        label = next(c for c in cols if c != key)
    values = {str(r.get(label, "")).strip() for r in rows} if label else set()
    if label and prob is None and values and all(_fraction(v) for v in values) and any(
            float(v) not in (0.0, 1.0) for v in values):  # 0.0 / 1.0 (a pandas float column) are labels
        label, prob, values = None, label, set()  # DFDC's sheet: label 0.5 in every row asks for probabilities
    words = None
    for real, fake in (("real", "fake"), ("REAL", "FAKE"), ("Real", "Fake")):
        if values and values <= {real, fake}:
            words = (real, fake)
    note = f"read as {encoding} text; the submission is written as UTF-8" if encoding else None
    return SampleSubmission(cols, key, label, prob, rows, words, delimiter, note)


def _fraction(v: str) -> bool:
    """Whether a sheet's value reads as a number from 0 to 1 (a probability a sheet asks for, e.g. DFDC's 0.5)."""
    try:
        return 0.0 <= float(v) <= 1.0
    except ValueError:
        return False


class _Keys(dict):
    """key -> file, with the keys that name more than one file (`ambiguous`: key -> those files), every key folded
    (`folded`: `_fold(key)` -> the files it may mean, the second tier) and the folder's own names (`roots`: a sheet
    may write `test/a.jpg` for INPUT_DIR test, or the file's absolute path)."""

    def __init__(self, root: Path):
        super().__init__()
        self.ambiguous: dict[str, list[Path]] = {}
        self.folded: dict[str, list[Path]] = {}
        self.legacy: list[Path] = []  # files whose names are not UTF-8 but read as CP949
        root = Path(root)
        self.roots = list(dict.fromkeys((root.absolute().as_posix(), Path(os.path.realpath(root)).as_posix())))


def index_files(files: list[Path], root: Path) -> _Keys:
    """Lookup keys for each file: relative path, name, and stem (the last two only when unique); and, as a second
    tier, each in lower case and composed (`_fold`: a sheet may write Photo.JPG as photo.jpg), where a folded key
    that fits more than one file (Case.jpg and case.jpg for CASE.JPG) is ambiguous, not the first found. A name
    that is not UTF-8 (a zip made on Korean Windows, unzipped here: CP949 bytes) is also keyed as CP949 reads it.
    A name, stem or folded key that fits more than one file is kept in `ambiguous` with those files."""
    keys = _Keys(root)
    named: dict[str, list[Path]] = {}
    for p in files:
        keys[p.relative_to(root).as_posix()] = p
        for k in dict.fromkeys((p.name, p.stem)):
            named.setdefault(k, []).append(p)
    for k, ps in named.items():
        if k in keys:  # a relative path ('a.jpg' at the top) is that file, whatever sits deeper
            continue
        if len(ps) == 1:
            keys[k] = ps[0]
        else:
            keys.ambiguous[k] = ps
    folded: dict[str, set[Path]] = {}
    for k, ps in [*((k, [p]) for k, p in keys.items()), *keys.ambiguous.items()]:
        for spelt in dict.fromkeys((k, _legacy(k))):
            if spelt is not None:
                folded.setdefault(_fold(spelt), set()).update(ps)
    keys.folded = {k: sorted(ps, key=lambda p: p.relative_to(root).as_posix()) for k, ps in folded.items()}
    keys.legacy = [p for p in files if _legacy(p.name) is not None]
    return keys


def _legacy(name: str) -> str | None:
    """A file name that is not UTF-8 (its bytes kept as surrogates by the file system's decoding) read as CP949,
    Korean Windows' code page, which zip tools store such names in; None for a UTF-8 name or other bytes."""
    if not any("\udc80" <= c <= "\udcff" for c in name):
        return None
    try:
        return os.fsencode(name).decode("cp949")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None


def _fold(key: str) -> str:
    """A key as the second tier compares it: lower case, and accents and Hangul composed (NFC): macOS names files
    in decomposed form (NFD), so 'é' or '사진' in a file name and in a sheet typed elsewhere differ byte for byte."""
    return unicodedata.normalize("NFC", key).lower()


def _norm(key: str) -> str:
    """'./a.jpg' -> 'a.jpg', 'sub\\b.mp4' -> 'sub/b.mp4'."""
    return PurePosixPath(key.replace("\\", "/")).as_posix() if key else key


def _candidates(key: str, roots: list[str]) -> list[tuple[str, bool]]:
    """The keys to try, in order, each with whether it is folded (looked up in the second tier): as written
    (leading or trailing spaces kept: a file's name may have them), then stripped, each also as a relative path;
    then folded; then without a leading '/', the input folder's own name ('test/a.jpg' for INPUT_DIR test) or its
    absolute path, each also folded."""
    written = [k for raw in dict.fromkeys((key, key.strip())) for k in (raw, _norm(raw))]
    prefixed = []
    names = {_fold(PurePosixPath(r).name) for r in roots if PurePosixPath(r).name}
    for k in dict.fromkeys(written):
        rest = [r for r in roots if k.startswith(r.rstrip("/") + "/")]
        if rest:  # the file's absolute path
            prefixed.append(k[len(rest[0].rstrip("/")) + 1:])
            continue
        bare = k.lstrip("/")
        if bare != k:
            prefixed.append(bare)
        first, _, tail = bare.partition("/")
        if tail and _fold(first) in names:
            prefixed.append(tail)
    tries = [*((k, False) for k in written), *((_fold(k), True) for k in written),
             *((k, False) for k in prefixed), *((_fold(k), True) for k in prefixed)]
    return list(dict.fromkeys(tries))


def lookup(index: dict[str, Path], key: str) -> tuple[Path | None, list[Path]]:
    """(the file a sheet's key names, None) or (None, the files it could mean when it fits more than one; [] when
    it fits none). Tried in `_candidates`' order; the first key that fits one file or more decides."""
    ambiguous = getattr(index, "ambiguous", {})
    folded = getattr(index, "folded", {})
    for k, fold in _candidates(key, getattr(index, "roots", [])):
        if fold:
            ps = folded.get(k, [])
            if ps:
                return (ps[0], []) if len(ps) == 1 else (None, list(ps))
        elif k in index:
            return index[k], []
        elif k in ambiguous:
            return None, list(ambiguous[k])
    return None, []


def find_listed(index: dict[str, Path], key: str) -> Path | None:
    """The file a sheet's key names: as written, then stripped, then as a relative path ('./a.jpg', 'sub\\b.mp4'),
    then in lower case, then without the input folder's own name or a leading '/' (`lookup`)."""
    return lookup(index, key)[0]


def why_missing(key: str, root: Path, could: list[Path] | None) -> str:
    """Why a sheet's key names no file to score: it fits several, names a file passed over, or none."""
    if could:
        names = ", ".join(p.relative_to(root).as_posix() for p in could[:3]) + (", ..." if len(could) > 3 else "")
        return f"ambiguous: it fits {len(could)} files under {root} ({names}); write the one meant as its path"
    for k in dict.fromkeys((key, key.strip())):
        rel = _norm(k).lstrip("/")
        if rel and ".." not in PurePosixPath(rel).parts and (root / rel).is_file():
            return ("is a macOS zip leftover (__MACOSX/ or an AppleDouble ._ file), passed over"
                    if media.is_mac_leftover(rel) else "is not an image or video file by its extension")
    return f"not found under {root}"


def refuse_input_as_output(path: Path, option: str, files: list[Path], root: Path) -> None:
    """One line when `path` names an image or video under INPUT_DIR, which writing it would replace (its folder
    entry, symlinks in the folder path resolved; a submission.csv inside the folder is fine): also in another case
    or Unicode form (`_fold`), which is the same file on macOS and Windows disks and on Linux a new 'image' the
    next run scores."""
    folder, name = os.path.realpath(Path(path).absolute().parent), _fold(Path(path).name)
    for p in files:
        if _fold(p.name) == name and os.path.realpath(p.parent) == folder:
            what = "an image" if media.kind_of(p) == "image" else "a video"
            instead = Path(path).parent / "submission.csv"
            raise SynthfakeError(f"{option} {path}: is {p}, {what} under INPUT_DIR {root} that would be scored; the "
                                 f"CSV would replace it: write it elsewhere (e.g. {instead})")
