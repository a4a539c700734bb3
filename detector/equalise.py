"""Equalised copies of a labelled folder: every listed file, real and fake alike, through one fixed writer.

An external set's fakes and reals often differ by how they were stored (a showcase GIF turned into a
high-bitrate mp4 against a camera clip, a 256 px PNG tile against a 1920 px JPEG): a detector can score well
there by learning file size. Re-encoding every file the same way (images: one short side, one JPEG quality;
videos: one short side, one length cap, H.264 at one CRF, no audio) leaves the label only in what is shown.
The copies are cached in a folder keyed by the settings (`equalised-KEY/`, beside the labels CSV by default);
a file is made again only when its source bytes change. A file that cannot be decoded is skipped with a
one-line reason, which the cache keeps too. The cache's index (`equalised.json`: the settings, each source's
sha256, the sha256 of the labels CSV it wrote) marks what the equaliser owns there: a file in the cache folder that
it did not write (the user's own labels CSV, a file where a copy would go) is never overwritten; the run is
refused in one line instead, before anything is re-encoded.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from synthfake import media
from synthfake.errors import MediaError, SynthfakeError
from synthfake.files import (atomic_file, canonical_hash, read_json, sha256_file, write_bytes_atomic,
                             write_json_atomic)
from synthfake.labels import Exclude, Labelled, labelled_files

VERSION = 3  # bump when the writer changes what it produces (2: non-square pixels read at the shown width; each
# copy's enlargement in the index; 3: HDR and BT.2020 mapped to SDR)
INDEX = "equalised.json"
LABELS = "labels.csv"
HEADER = ["path", "label", "kind", "model", "source"]  # the equaliser's labels CSV
JPEG_MAX_SIDE = 65500  # libjpeg's (and OpenCV's) largest JPEG width or height
VIDEO_MAX_SIDE = 16384  # a frame wider or taller than this is not a video any encoder here takes


@dataclass(frozen=True)
class EqualiseSettings:
    """The one writer every file goes through (the cache key)."""

    image_side: int = 512  # short side of every image, px (shrunk or enlarged)
    jpeg_quality: int = 90
    video_side: int = 360  # short side of every video, px
    max_seconds: float = 10.0  # videos are cut to their first this many seconds
    crf: int = 23  # H.264 constant rate factor; audio is dropped

    def key(self) -> str:
        return canonical_hash({**asdict(self), "version": VERSION}, 12)


def scaled_size(w: int, h: int, side: int, even: bool = False) -> tuple[int, int]:
    """(width, height) `short_side` gives a w x h picture."""
    k = side / min(h, w)
    nw, nh = max(1, round(w * k)), max(1, round(h * k))
    return (max(2, nw // 2 * 2), max(2, nh // 2 * 2)) if even else (nw, nh)


def short_side(rgb: np.ndarray, side: int, even: bool = False) -> np.ndarray:
    """`rgb` scaled so its short side is `side` px (area when shrinking, cubic when enlarging); even sizes for
    H.264's 4:2:0 when `even`."""
    h, w = rgb.shape[:2]
    nw, nh = scaled_size(w, h, side, even)
    if (nw, nh) == (w, h):
        return rgb
    return cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if side < min(h, w) else cv2.INTER_CUBIC)


def out_name(path: str) -> str:
    """The equalised copy's path: the source's with `.jpg` or `.mp4` added (two sources never collide)."""
    return path + (".jpg" if media.kind_of(path) == "image" else ".mp4")


def check_size(src: Path, w: int, h: int, side: int, limit: int, what: str, even: bool = False) -> None:
    """MediaError (one line) when the copy of a w x h picture at a `side` px short side would be over `limit` px
    (an image 10 px tall and 8000 wide becomes 512 x 409600): checked before any pixel is scaled."""
    nw, nh = scaled_size(w, h, side, even)
    if max(nw, nh) > limit:
        raise MediaError(src, f"{w}x{h} px would be {nw}x{nh} px at a {side} px short side, over the {limit} px "
                              f"a {what} may have")


def enlarged(shape: tuple[int, ...], side: int) -> float:
    """How many times a picture of `shape` is enlarged to a `side` px short side (1.0 when it is shrunk or kept):
    the cubic blur of an enlargement is left in the copy, so `gen detect eval --equalise` weighs it as a property."""
    return round(max(1.0, side / min(shape[:2])), 4)


def equalise_file(src: Path, dst: Path, s: EqualiseSettings) -> float:
    """Write the equalised copy of one image or video at `dst` (atomically) and give its enlargement (`enlarged`;
    a video's first frame's); MediaError when it cannot be read or its copy would be too large to write."""
    src, dst = Path(src), Path(dst)
    if media.kind_of(src) == "image":
        rgb = media.read_image(src)
        check_size(src, rgb.shape[1], rgb.shape[0], s.image_side, JPEG_MAX_SIDE, "JPEG")
        scale = enlarged(rgb.shape, s.image_side)
        rgb = short_side(rgb, s.image_side)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, s.jpeg_quality])
        if not ok:
            raise MediaError(src, "JPEG encoding failed")
        with atomic_file(dst) as tmp:
            tmp.write_bytes(buf.tobytes())
        return scale
    fps = media.video_fps(src)
    count = max(1, math.floor(s.max_seconds * fps + 1e-9))
    scales = []

    def frames():
        for f in media.iter_frames(src, 0, count):
            check_size(src, f.shape[1], f.shape[0], s.video_side, VIDEO_MAX_SIDE, "video frame", even=True)
            if not scales:
                scales.append(enlarged(f.shape, s.video_side))
            yield short_side(f, s.video_side, even=True)

    with atomic_file(dst) as tmp:  # removed again when encoding fails
        media.write_video(tmp, frames(), fps, audio=None, crf=s.crf)
    return scales[0] if scales else 1.0


def _one(job: tuple[str, str, str, EqualiseSettings]) -> tuple[str, float | None]:
    """('', its enlargement) when the copy was written, else (the one-line reason it could not be, None): a pool
    job."""
    src, dst, rel, s = job
    try:
        return "", equalise_file(Path(src), Path(dst), s)
    except MediaError as e:
        return e.reason, None
    except Exception as e:  # a decoder or encoder failure on one file must not stop the others
        return f"failed: {type(e).__name__}: {(str(e).splitlines() or [''])[0]}", None


def default_cache(labels: Path, s: EqualiseSettings, folder: Path | None = None) -> Path:
    """`equalised-KEY/` beside the labels CSV, or beside the scored `folder` (`NAME.equalised-KEY/`) when the CSV
    sits inside it (copies inside the folder would be scored with it later); where that cannot be written (a
    read-only share), under ~/.cache/synthfake/equalised/, named by the labels' absolute path as well."""
    labels = Path(labels).resolve()
    where, name = labels.parent, f"equalised-{s.key()}"
    if folder is not None and labels.parent.is_relative_to(Path(folder).resolve()):
        where, name = Path(folder).resolve().parent, f"{Path(folder).resolve().name}.equalised-{s.key()}"
    if os.access(where, os.W_OK):
        return where / name
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "synthfake" / "equalised"
    return home / f"{canonical_hash(str(labels), 12)}-{s.key()}"


@dataclass
class Equalised:
    """An equalised folder: its labels CSV (paths of the copies), the copy of each source, and what was skipped."""

    folder: Path
    labels: Path
    source_of: dict[str, str]  # copy path -> source path (both relative)
    skipped: list[dict]  # {path, reason}: absent, not media, or not decodable
    made: int  # copies written by this call (0: everything came from the cache)
    enlarged: dict[str, float]  # source path -> how many times its copy was enlarged (`enlarged`; 1.0: not)


def equalise_folder(folder: Path, labels: Path, s: EqualiseSettings = EqualiseSettings(), cache: Path | None = None,
                    workers: int = 2, log=print, exclude: Exclude | None = None) -> Equalised:
    """Equalised copies of every listed file under `cache` (default: `default_cache`), reusing earlier ones; a file
    `exclude` names is skipped with its reason.

    Refused in one line, before anything is written, where the cache would overwrite a file the equaliser did not
    write there (`check_cache`)."""
    folder = Path(folder)
    cache = Path(cache) if cache is not None else default_cache(labels, s, folder)
    if cache.resolve().is_relative_to(folder.resolve()):
        raise SynthfakeError(f"{cache}: the equalised cache is inside the folder it re-encodes ({folder}); its "
                             f"copies and labels would be scored with it. Give --equalise-cache another folder")
    rows, skipped = labelled_files(folder, labels, exclude)
    index_path = cache / INDEX
    index = check_cache(cache, labels, rows, s)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SynthfakeError(f"{cache}: cannot make the equalised cache folder ({e.strerror})") from None
    files = index.get("files", {})
    shas = {r.path: sha256_file(folder / r.path) for r in rows}
    todo = [r for r in rows if files.get(r.path, {}).get("sha256") != shas[r.path]
            or not (files[r.path]["reason"] or (cache / out_name(r.path)).is_file() and "enlarged" in files[r.path])]
    if todo:
        log(f"equalising {len(todo)} of {len(rows)} file(s) into {cache}")
        jobs = [(str(folder / r.path), str(cache / out_name(r.path)), r.path, s) for r in todo]
        for r in todo:
            (cache / out_name(r.path)).parent.mkdir(parents=True, exist_ok=True)
        for r, (why, scale) in zip(todo, _run(jobs, workers)):
            if why:  # an earlier copy of other source bytes must not stay beside the index that skips it
                (cache / out_name(r.path)).unlink(missing_ok=True)
            files[r.path] = {"sha256": shas[r.path], "reason": why, "enlarged": scale}
    kept: list[Labelled] = []
    for r in rows:
        why = files[r.path]["reason"]
        if why:
            skipped.append({"path": r.path, "reason": f"not equalised: {why}"})
        else:
            kept.append(r)
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(HEADER)
    w.writerows([out_name(r.path), r.label, r.kind, r.model, r.path] for r in kept)
    data = text.getvalue().encode()
    digest = hashlib.sha256(data).hexdigest()
    before = sha256_file(cache / LABELS) if (cache / LABELS).is_file() else None  # ours: check_cache said so

    def write_index(own: list[str]) -> None:
        write_json_atomic(index_path, {"settings": asdict(s), "version": VERSION, "files": files,
                                       "labels_sha256": own})

    if before != digest:  # the index names the new labels CSV (and the old, until it is replaced) first
        write_index([digest] + ([before] if before else []))
        write_bytes_atomic(cache / LABELS, data)
    if todo or before != digest or index.get("labels_sha256") != [digest]:
        write_index([digest])
    return Equalised(cache, cache / LABELS, {out_name(r.path): r.path for r in kept}, skipped, len(todo),
                     {r.path: files[r.path]["enlarged"] for r in kept})


def check_cache(cache: Path, labels: Path, rows: list[Labelled], s: EqualiseSettings) -> dict:
    """The cache's index ({} for a new cache), after checking that everything the equaliser would write there is
    its own: the index itself (an equalised.json with these settings), the labels CSV (not the --labels file; one
    whose sha256 the index records, or, in an index written before that was recorded, one with the equaliser's
    header) and each copy (of a source the index lists). One line naming the file otherwise."""
    index_path, own = cache / INDEX, cache / LABELS
    again = "give --equalise-cache another folder"
    if own.exists() and Path(labels).exists() and os.path.samefile(own, labels):
        raise SynthfakeError(f"{own}: is the --labels file; the equalised cache writes its own {LABELS} there and "
                             f"would overwrite it: {again}")
    index = read_json(index_path) if index_path.exists() else {}
    if index_path.exists() and not (isinstance(index, dict) and isinstance(index.get("settings"), dict)
                                    and isinstance(index.get("files", {}), dict)):
        raise SynthfakeError(f"{index_path}: not an index the equaliser wrote (no settings); it would be "
                             f"overwritten: {again}")
    if index.get("settings") not in (None, asdict(s)):
        raise SynthfakeError(f"{index_path}: made with other settings {index['settings']}; remove it or pass "
                             f"another cache folder")
    if own.exists() and not _own_labels(own, index):
        why = (f"{INDEX} records another sha256 for it" if "labels_sha256" in index
               else f"no {INDEX} beside it" if not index else "not the equaliser's columns")
        raise SynthfakeError(f"{own}: a file the equaliser did not write ({why}); the equalised cache would "
                             f"overwrite it with its own labels: {again}")
    files = index.get("files", {})
    for r in rows:
        dst = cache / out_name(r.path)
        if (dst.exists() or dst.is_symlink()) and r.path not in files:
            raise SynthfakeError(f"{dst}: a file the equaliser did not write (its index lists no {r.path}); the "
                                 f"equalised copy of {r.path} would overwrite it: {again}")
    return index


def _own_labels(own: Path, index: dict) -> bool:
    """Whether `own` (CACHE/labels.csv) is the labels CSV the equaliser wrote: its sha256 is the one the index
    records; an index written before that was recorded: the equaliser's header."""
    if not index or not own.is_file():
        return False
    if "labels_sha256" in index:
        known = index["labels_sha256"]
        return sha256_file(own) in (known if isinstance(known, list) else [known])
    with open(own, newline="", encoding="utf-8", errors="replace") as fh:
        return next(csv.reader(fh), None) == HEADER


def _run(jobs: list, workers: int) -> list[tuple[str, float | None]]:
    """_one over the jobs, in order, in `workers` processes (0: in this process)."""
    if workers <= 0 or len(jobs) < 2:
        return [_one(j) for j in jobs]
    from synthfake.pools import process_pool

    with process_pool(min(workers, len(jobs)), __name__) as ex:
        return list(ex.map(_one, jobs))
