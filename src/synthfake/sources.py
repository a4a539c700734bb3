"""The sources index: every real photo, video and audio file under a folder, indexed once.

Per file: kind, sha256, size, media properties, faces found (on a few frames), the largest face's box,
landmarks and 128-D embedding, and an identity (`identities.py`): files whose faces lie within
`identity_threshold` of each other are one person (a still cut from a video is the same person as the video),
named by `identities.csv` (path,identity) where it lists one of them; every other file is its own.
The sources as a sample's generator uses them are `source_files.py`.
Files that cannot serve in a face role stay in the index with the reason in `excluded`, and so does a file with
the content of one listed before it (a copy, or a link inside the folder).

Files that cannot be read are excluded with their reason too, and the scan goes on (`source_listing.py`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Literal

import numpy as np
from pydantic import BaseModel

from . import faces, machine_cache, media
from . import glasses
from .checks import existing_folder
from .errors import MediaError, SynthfakeError
from .files import canonical_hash, read_json, sha256_file, validate_json, write_json_atomic
from .identities import assign_identities, read_identities
from .source_listing import list_files, unreadable

SCAN_FRAMES = 5  # frames sampled per video at scan time
MIN_FACE_SHARE = 0.6  # a video needs a face on this share of the sampled frames
MIN_VIDEO_FRAMES = 10  # a shorter "video" (a still saved as a clip, a 0.3 s fragment) is no clip to manipulate
COMPANY = 0.5  # a second face this wide beside the largest: another person, who could belong to another split
NOT_MEDIA = "not a media file (unknown extension)"
COPY_OF = "same content as "  # then the path of the first file with it
SILENT_PEAK = 10 ** (-60 / 20)  # an audio file whose loudest sample stays under -60 dBFS holds no speech
STEADY_SPREAD_DB = 4.0  # speech's syllables and pauses move its 32 ms level: 10th-90th percentile spread 7.5-29 dB
# over the speech of ../shared/data and wild/ (7 Dec); white noise 1.0, pink noise 3.2, mains hum 0, speech under
# noise at -10 dB SNR 2.3. Music is not told from speech by this (left: a voice-activity model)
IDENTITY_THRESHOLD = 0.4  # same person below this; measured here: same 0.17-0.36, different >= 0.43
SCAN_VERSION = 6  # of what `_index_media` computes from a file's bytes: bump when it changes (machine cache key;
# 2: non-square pixels read at the shown width; 3: HDR and BT.2020 mapped to SDR, READ_SINCE; Matroska frames
# counted; 4: faces under ~300 px in frames over 720 px found by a wider look, `faces.WIDER_SIDE`; videos
# under MIN_VIDEO_FRAMES kept out; a second face of COMPANY size kept out; 5: FACE_SCORE_MIN; 6: STEADY_SPREAD_DB)
FACE_SCORE_MIN = 0.25  # a file whose faces' median detector score (`faces.box_score`) is under this is not clearly a
# human face: a monkey's face scored -0.11 to 0.08 where every file of ../shared/data and wild/reals (and wild's
# fakes) scored a median of 0.45 or more (7 Dec); dlib's HOG detector took a cropped monkey photo for a face
_FILE_FIELDS = {"path", "bytes", "mtime_ns", "sha256", "identity"}  # where the file is, not what it holds


class SourceItem(BaseModel):
    path: str
    kind: Literal["image", "video", "audio", "other"]
    sha256: str = ""
    bytes: int = 0
    mtime_ns: int = 0
    width: int = 0
    height: int = 0
    frames: int = 0
    fps: float = 0.0
    duration: float = 0.0
    audio: bool = False
    faces_found: int = 0
    faces_sampled: int = 0
    still_frame: int = 0
    box: list[int] | None = None
    landmarks: list[list[float]] | None = None
    embedding: list[float] | None = None
    identity: str = ""
    excluded: str | None = None
    glasses: float | None = None  # glasses score (synthfake/glasses.py): a video's median, a photo's own
    rotation: int = 0  # display matrix of a video (frames are read turned upright)
    retimed: str | None = None  # a variable-frame-rate video, read at a constant rate: how it varied

    @property
    def is_face(self) -> bool:
        return self.excluded is None and self.kind in ("image", "video") and self.landmarks is not None

    @property
    def is_audio(self) -> bool:
        return self.excluded is None and self.kind == "audio"


class SourceIndex(BaseModel):
    root: str
    identity_threshold: float = IDENTITY_THRESHOLD
    items: list[SourceItem]
    scan_version: int = 1  # SCAN_VERSION of the code that wrote it (an index from before this field: 1)

    @property
    def digest(self) -> str:
        """Changes when a file's content, role eligibility or identity changes."""
        return canonical_hash([(i.path, i.sha256, i.identity, i.excluded is None) for i in self.items])

    def get(self, path: str) -> SourceItem:
        for it in self.items:
            if it.path == path:
                return it
        raise SynthfakeError(f"{path}: not in the sources index of {self.root}")


def changed_files(cached: SourceIndex, fresh: SourceIndex) -> list[str]:
    """The files a fresh scan finds other than the cached index recorded them, in path order: "PATH added",
    "PATH removed", "PATH changed". Contents are compared by sha256 where both indexes hashed the file, by size
    where one did not (not a media file under one version's rules, as a GIF was, or a read that failed) but both
    stat'ed it, and by presence alone where either could not stat it (nothing of its content was recorded then).
    What the scan decides about the files (kinds, copies kept out, identities) is no change of a file here."""
    old, new = ({it.path: it for it in index.items} for index in (cached, fresh))
    out = []
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path), new.get(path)
        if a is None or b is None:
            out.append(f"{path} {'added' if a is None else 'removed'}")
        elif not _same_file(a, b):
            out.append(f"{path} changed")
    return out


def _same_file(a: SourceItem, b: SourceItem) -> bool:
    if a.sha256 and b.sha256:
        return a.sha256 == b.sha256
    if a.mtime_ns and b.mtime_ns:  # both stat'ed (an entry of a file that could not be is path and reason only)
        return a.bytes == b.bytes
    return True


def frame_faces(frames: list[tuple[int, np.ndarray]]) -> list[tuple[int, faces.Face, np.ndarray, bool]]:
    """(frame index, largest face, its 128-D embedding, whether another face at least COMPANY times its width is
    beside it, its detector score) for each frame in which dlib finds a face."""
    found = []
    for idx, rgb in frames:
        boxes = faces.detect_boxes(rgb)
        if face := faces.largest(rgb, boxes):  # faces.detect's face, with the other boxes kept for COMPANY
            width = lambda b: b[2] - b[0]  # noqa: E731
            company = any(width(b) >= COMPANY * width(boxes[0]) for b in boxes[1:])
            found.append((idx, face, faces.embedding(rgb, face), company, faces.box_score(rgb, face.box)))
    return found


def _index_face_media(item: SourceItem, path: Path) -> None:
    info = media.probe(path)
    item.width, item.height, item.frames, item.fps = info.width, info.height, info.frames, info.fps
    item.duration, item.audio = info.duration, info.audio
    if item.kind == "video":
        if info.frames < MIN_VIDEO_FRAMES:
            item.excluded = (f"a video of only {info.frames} frame(s), under {MIN_VIDEO_FRAMES}: too short to be a "
                             f"clip (save a still as a photo to use its face)")
            return
        item.rotation = media.video_rotation(path)
        item.retimed = media.variable_frame_rate(path)
    frames = list(media.frames_of(path, SCAN_FRAMES, item.kind, total=info.frames))
    found = frame_faces(frames)
    item.faces_sampled, item.faces_found = len(frames), len(found)
    if not found:
        item.excluded = f"no face found in {len(frames)} sampled frame(s)"
        return
    if item.kind == "video" and len(found) / len(frames) < MIN_FACE_SHARE:
        item.excluded = f"face in only {len(found)}/{len(frames)} sampled frames"
    score = float(np.median([f[4] for f in found]))
    if score < FACE_SCORE_MIN:
        item.excluded = (f"not clearly a human face: dlib's detector score {score:.2f} (median of {len(found)} "
                         f"frame(s)) under {FACE_SCORE_MIN}; people's faces here score 0.45-3 (an animal's face?)")
    crowded = sum(f[3] for f in found)
    if crowded * 2 > len(found):  # its other people would pass the identity split (and the audit) unseen
        item.excluded = (f"another face beside the largest in {crowded}/{len(found)} sampled frame(s): someone "
                         f"who could be in another split (crop it to one person to use it)")
    idx, face, ref, *_ = max(found, key=lambda f: f[1].size)
    item.still_frame, item.box = idx, list(face.box)
    item.landmarks = face.landmarks.round(2).tolist()
    # the still's person only: frame-to-frame pairs, so dlib's pair threshold
    same = [f for f in found if faces.distance(f[2], ref) < faces.SAME_PERSON]
    item.embedding = np.mean([f[2] for f in same], axis=0).round(6).tolist()
    rgb = dict(frames)
    item.glasses = round(float(np.median([glasses.score(rgb[i], face.landmarks) for i, face, *_ in same])), 3)


def level_spread(data: np.ndarray, rate: int) -> float | None:
    """The 10th-90th percentile spread (dB) of a sound's level in 32 ms frames within 40 dB of its loudest (silence
    left out), on at most ~3000 frames; None under 20 frames."""
    x = (data.mean(axis=1) if data.ndim > 1 else data).astype(np.float64)
    n = int(0.032 * rate)
    hop = max(int(0.01 * rate), (len(x) - n) // 3000 + 1)
    if len(x) < n + 20 * hop:
        return None
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop] * np.hanning(n)
    db = 10 * np.log10((frames ** 2).mean(axis=1) + 1e-20)
    loud = db[db > db.max() - 40]
    return float(np.percentile(loud, 90) - np.percentile(loud, 10))


def _index_media(item: SourceItem, path: Path) -> None:
    """An audio file's duration and level, a photo's or video's faces; a file that cannot be decoded is excluded."""
    try:
        if item.kind == "audio":
            data, rate = media.read_audio(path)
            item.duration, item.audio = len(data) / rate, True
            peak = float(np.abs(data).max())
            if peak < SILENT_PEAK:
                item.excluded = (f"no voice activity: silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS); "
                                 "lip sync needs speech")
            elif (spread := level_spread(data, rate)) is not None and spread < STEADY_SPREAD_DB:
                item.excluded = (f"no voice activity: a steady sound (its level moves {spread:.1f} dB, speech's "
                                 f"syllables and pauses {STEADY_SPREAD_DB:.0f} dB or more): noise, hum or a tone? "
                                 "lip sync needs speech")
        else:
            _index_face_media(item, path)
    except MediaError as e:
        item.excluded = f"unreadable: {e.reason}"


def _index_file(root: Path, path: Path, st: os.stat_result) -> SourceItem:
    kind = media.kind_of(path) or "other"
    item = SourceItem(path=path.relative_to(root).as_posix(), kind=kind, bytes=st.st_size, mtime_ns=st.st_mtime_ns)
    if kind == "other":
        item.excluded = NOT_MEDIA
        return item
    try:
        item.sha256 = sha256_file(path)
    except OSError as e:
        item.excluded = f"unreadable ({e.strerror or type(e).__name__})"
        return item
    kind_key = machine_kind("scan", SCAN_VERSION)
    key = f"{item.sha256}.{item.kind}"
    held = machine_cache.read_json(kind_key, key)
    if held is not None:
        try:
            return SourceItem.model_validate({**held, **item.model_dump(include=_FILE_FIELDS)})
        except ValueError:
            pass  # an entry of another shape: index the file again and replace it
    _index_media(item, path)
    machine_cache.write_json(kind_key, key, item.model_dump(exclude=_FILE_FIELDS))
    return item


def machine_kind(what: str, version: int) -> str:
    """The machine cache folder of `what` computed by this code: its version and dlib's, whose models compute it."""
    return f"{what}-{version}-dlib{faces.dlib.__version__}"


def _scan_one(root: Path, path: Path, why: str | None, old: dict[str, SourceItem]) -> SourceItem:
    """One listed file's entry: excluded with its reason, reused from the cache, or indexed now."""
    rel = path.relative_to(root).as_posix()
    st = None
    if why is None:
        why, st = unreadable(root, path)
    prev = old.get(rel)
    if why is not None:
        return SourceItem(path=rel, kind=media.kind_of(path) or "other", excluded=why)
    if prev and prev.sha256 and prev.bytes == st.st_size and prev.mtime_ns == st.st_mtime_ns and not (
            prev.is_face and prev.glasses is None):  # an entry indexed before glasses were measured: again
        return prev.model_copy(update={"identity": ""})
    return _index_file(root, path, st)


def _exclude_copies(items: list[SourceItem]) -> None:
    """A file with the content of one listed before it (a copy, a link inside the folder) is kept out with its
    reason: it would be drawn as often as a file of its own, a real twice over."""
    first: dict[str, str] = {}
    for it in items:
        if it.excluded and it.excluded.startswith(COPY_OF):  # decided again: the first file may be gone
            it.excluded = None
        if it.excluded is None and it.sha256:
            if it.sha256 in first:
                it.excluded = COPY_OF + first[it.sha256]
            else:
                first[it.sha256] = it.path


def scan(root: str | Path, cached: SourceIndex | None = None, threshold: float = IDENTITY_THRESHOLD,
         on_file: Callable[[str], None] | None = None, show: bool = False) -> SourceIndex:
    """Index every file under `root`, reusing cached entries whose size and mtime are unchanged (with progress
    on stderr when `show`)."""
    from .progress import sample_progress

    root = existing_folder(Path(root).resolve(), "sources folder")
    given = read_identities(root)  # checked before any file is indexed
    old = {it.path: it for it in (cached.items if cached else [])}
    items = []
    listed = list_files(root)
    with sample_progress(len(listed), "indexing sources", show and bool(listed), unit="files") as advance:
        for path, why in listed:
            items.append(_scan_one(root, path, why, old))
            advance()
            if on_file:
                on_file(path.relative_to(root).as_posix())
    if not any(it.kind != "other" for it in items):
        raise SynthfakeError(f"{root}: no photo, video or audio file found")
    _exclude_copies(items)
    assign_identities(root, items, threshold, given)
    version = min(SCAN_VERSION, cached.scan_version) if cached else SCAN_VERSION  # reused entries keep theirs
    return SourceIndex(root=str(root), identity_threshold=threshold, items=items, scan_version=version)


# what each scan version changed in how a video's frames are read: (how it was, how it is now, which videos)
READ_SINCE = {2: ("non-square pixels as stored", "at the shown width", media.video_sar),
              3: ("HDR and BT.2020 colour as stored", "mapped to SDR BT.709", media.video_colour)}


def read_otherwise(cached: SourceIndex, root: Path) -> tuple[str, str, list[str]]:
    """(how they were read, how now, paths): the videos of an index that this code reads other than the code that
    wrote it did (READ_SINCE, the first change that touches any), so that its sizes and landmarks of them (and a
    dataset's tracks and samples so far) no longer match their frames; no paths when none."""
    for version, (was, now, differs) in sorted(READ_SINCE.items()):
        if cached.scan_version >= version:
            continue
        out = []
        for it in cached.items:
            if it.kind == "video" and it.excluded is None:
                try:
                    if differs(root / it.path):
                        out.append(it.path)
                except MediaError:
                    continue  # unreadable now: the run says so where it reads it
        if out:
            return was, now, out
    return "", "", []


def glasses_identities(items: list[SourceItem]) -> set[str]:
    """Identities any of whose face files shows glasses (a still cut from a video is the video's person)."""
    return {it.identity for it in items if it.is_face and glasses.wears(it.kind, it.glasses)}


def load_index(path: str | Path) -> SourceIndex | None:
    """The index saved at `path` (None when there is none). Parsed and validated in one pass by pydantic (an
    index of 10^4 files: 3x faster than json.loads then validation); a file that fails is read again the slow way
    for its one-line error naming the file."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return None
    try:
        return SourceIndex.model_validate_json(path.read_bytes())
    except (ValueError, OSError):
        return validate_json(path, SourceIndex, read_json(path))


def save_index(path: str | Path, index: SourceIndex) -> None:
    write_json_atomic(path, index.model_dump())
