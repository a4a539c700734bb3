"""Face crops shared by training and scoring: K frames in one decoding pass, largest face, 30% margin.

Decoding and detection run in a process pool with a bounded number of files in flight, so memory does
not grow with the number of files; a video's frames are decoded one at a time and only the crop of each
wanted frame is kept, so memory does not grow with the frame count either. Training crops are cached on
disk keyed by sample id and the crop settings, and served only while the media file holds the record's bytes
(same size and mtime, or the same sha256): a file that was absent, unreadable or truncated is read again.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np
from PIL import Image

from synthfake import faces, media
from synthfake.errors import MediaError, SynthfakeError
from synthfake.files import canonical_hash, commit_file, file_state, sha256_or_none
from synthfake.pools import process_pool

CACHE_VERSION = 4  # bump when the crop code changes what it produces (2: the second look at RETRY_SIDE; 3: square
# pixels, media.frames.upright; 4: HDR and BT.2020 mapped to SDR)
RETRY_SIDE = faces.WIDER_SIDE  # no face at detect_side: one more scan with the long side at up to this many pixels
SECOND_LOOKS = 3  # such scans that may find nothing before a file's later frames stop looking twice
DECODE_THREADS = [0]  # 0: FFmpeg picks (one per core); a worker process decodes with one thread
DIED = "failed: the reading process died on this file"


@dataclass(frozen=True)
class CropSettings:
    """Everything that decides a file's crops (and so the cache key)."""

    frames: int = 40
    margin: float = 0.3
    size: int = 224
    detect_side: int = faces.DETECT_MAX_SIDE
    center_fallback: bool = False  # no face anywhere: centre crops instead of the fallback label

    def key(self) -> str:
        """Short hash of the settings (and the cache version): the cache folder name."""
        return canonical_hash({**asdict(self), "version": CACHE_VERSION})


@dataclass
class FileCrops:
    """The crops of one file (n, size, size, 3) uint8, the frame each came from, and why there are none."""

    path: str
    crops: np.ndarray
    frames: list[int] = field(default_factory=list)
    sampled: int = 0
    reason: str = ""  # set when the file failed or has no crops: it gets the fallback label
    note: str = ""  # set when crops exist but are not face crops (centre fallback), or a file was cut short
    last: bool = True  # False for a part of a file's crops that more parts follow

    @property
    def video(self) -> bool:
        """Whether the crops are a video's (by the file's extension, as training and scoring both see it)."""
        return is_video_file(self.path)


def is_video_file(path: str | Path) -> bool:
    """A video (or GIF) by its extension: the media kind a model with media heads is told."""
    return media.kind_of(path) == "video"


def crop_settings(meta, frames: int | None = None) -> CropSettings:
    """The crop settings a model (its DetectorMeta) was trained for, frames overridable."""
    return CropSettings(frames=frames or meta.frames, margin=meta.margin, size=meta.image_size,
                        detect_side=meta.detect_side, center_fallback=meta.center_fallback)


def no_crops(size: int) -> np.ndarray:
    """An empty (0, size, size, 3) crop array."""
    return np.zeros((0, size, size, 3), np.uint8)


def empty(path: str, size: int, reason: str, sampled: int = 0) -> FileCrops:
    """A file without crops and the reason it gets the fallback label."""
    return FileCrops(str(path), no_crops(size), [], sampled, reason)


def resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize to size x size with PIL (what ViTImageProcessor does)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize((size, size), Image.BILINEAR))


def face_boxes(rgb: np.ndarray, s: CropSettings, face: int = 0, looks: int = SECOND_LOOKS) -> tuple[list, int]:
    """The frame's face boxes at `detect_side`, or, when there are none and `looks` > 0, from one more scan with
    the long side at up to RETRY_SIDE: a face 40-80 px wide at detect_side (a showcase image with several people,
    a 640 px video) is under dlib's 80 px window. Also the second looks left to the file's next frames: one that
    finds nothing uses one up, so a video without faces pays a few extra scans, not one per frame."""
    boxes = faces.detect_boxes(rgb, s.detect_side, face, wider=0)  # the second look is budgeted here
    side = min(max(rgb.shape[:2]), RETRY_SIDE)
    if boxes or looks <= 0 or side <= s.detect_side:  # found, given up, or nothing larger to look at
        return boxes, looks
    boxes = faces.detect_boxes(rgb, side, wider=0)
    return boxes, looks if boxes else looks - 1


def crop_face(rgb: np.ndarray, s: CropSettings, face: int = 0,
              looks: int = SECOND_LOOKS) -> tuple[np.ndarray | None, int, int]:
    """The largest face with its margin, clipped to the frame and resized (None when there is no face), its
    width: the next frame's `face`, with which detection skips the pyramid levels far below it (same boxes),
    and the second looks left to the next frame (`face_boxes`)."""
    boxes, looks = face_boxes(rgb, s, face, looks)
    if not boxes:
        return None, 0, looks
    x0, y0, x1, y1 = faces.margin_box(boxes[0], s.margin, rgb.shape)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None, 0, looks
    return resize(rgb[y0:y1, x0:x1], s.size), boxes[0][2] - boxes[0][0], looks


def center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    """The largest centred square, resized (the optional no-face fallback)."""
    h, w = rgb.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return resize(rgb[y0:y0 + side, x0:x0 + side], size)


def crop_chunks(path: str | Path, s: CropSettings, chunk: int = 0) -> Iterator[FileCrops]:
    """The crops of one file in parts of at most `chunk` crops (0: one part), made as frames are decoded.

    The last part has `last=True` and carries the frames sampled and any reason or note. An unreadable
    file or one with no face ends with no crops and a reason; a decoder that fails after some crops keeps
    them (a truncated video), with a note that says so; any other failure ends with a reason even after crops
    were sent.
    """
    buf, idx, centres, n, got, face, looks, broke = [], [], [], 0, 0, 0, SECOND_LOOKS, ""
    try:
        for i, rgb in media.frames_of(path, s.frames, threads=DECODE_THREADS[0]):
            n += 1
            c, face, looks = crop_face(rgb, s, face, looks)
            if c is not None:
                buf.append(c)
                idx.append(i)
                got += 1
                if chunk and len(buf) >= chunk:
                    yield FileCrops(str(path), np.stack(buf), idx, n, last=False)
                    buf, idx = [], []
            elif s.center_fallback and not got:
                centres.append((i, center_crop(rgb, s.size)))
    except MediaError as e:
        if not n:
            yield empty(path, s.size, f"unreadable: {e.reason}", n)
            return
        broke = e.reason  # frames came before it: they are judged as a whole file's would be, and it is said
    except Exception as e:  # a decoder or detector failure must not stop a batch run
        first = (str(e).splitlines() or [""])[0]
        yield empty(path, s.size, f"failed: {type(e).__name__}: {first}", n)
        return
    if got:
        note = f"{broke}; scored on the {got} crop(s) before it" if broke else ""
        if not note and media.kind_of(path) == "image" and (k := media.image_frames(path)) > 1:
            note = f"an animated image of {k} frames: scored on its first"
        yield FileCrops(str(path), np.stack(buf) if buf else no_crops(s.size), idx, n, note=note)
        return
    reason = f"no face in {n} sampled frame(s)" + (f" before {broke}" if broke else "")
    if centres:
        yield FileCrops(str(path), np.stack([c for _, c in centres]), [i for i, _ in centres], n,
                        note=f"{reason}: centre crops")
        return
    yield empty(path, s.size, reason, n)


def file_crops(path: str | Path, s: CropSettings) -> FileCrops:
    """All crops of one image or video; an unreadable file or one with no face gives no crops and a reason."""
    return next(crop_chunks(path, s))


# ---------------------------------------------------------------- cache
def cache_file(cache_root: Path, s: CropSettings, sample_id: str) -> Path:
    """ROOT/<settings key>/<sample id>.npz"""
    return Path(cache_root) / s.key() / f"{sample_id}.npz"


def load_cached(path: Path, sha256: str, media_path: str | Path | None = None) -> FileCrops | None:
    """A cached result made from the media bytes the file holds now, whose sha256 is the record's.

    The file must have the size and mtime it had when its crops were made; where it has others (a dataset copied
    without its file times, a file restored) the entry is served only when it was made from the record's bytes
    and the file's sha256 is the record's again (the entry then takes the new size and mtime). A missing file,
    and a cached result that said the file was unreadable (written before such results stopped being cached),
    are never served: they depend on the file's state, not on its bytes.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["sha256"]) != sha256 or str(z["reason"]).startswith(("unreadable", "failed")):
                return None
            fc = FileCrops(str(z["path"]), z["crops"], z["frames"].tolist(), int(z["sampled"]),
                           str(z["reason"]), str(z["note"]))
            state = tuple(z["state"].tolist()) if "state" in z.files else None
            intact = bool(z["intact"]) if "intact" in z.files else state is None  # before states: by sha256
    except (OSError, KeyError, ValueError):
        return None
    if media_path is None:
        return fc
    now = file_state(media_path)
    if now is None:
        return None
    if state == now:
        return fc
    if not intact or sha256_or_none(media_path) != sha256:
        return None
    save_cached(path, fc, sha256, now, True)  # the same bytes with other file times: remember these
    return fc


def save_cached(path: Path, fc: FileCrops, sha256: str, state: tuple[int, int] | None = None,
                intact: bool = False) -> None:
    """Write a file's crops atomically, tagged with the record's sha256, the media file's (size, mtime) when they
    were made and whether its bytes then had that sha256 (`intact`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, crops=fc.crops, frames=np.asarray(fc.frames, np.int64), sampled=fc.sampled, reason=fc.reason,
             note=fc.note, sha256=sha256, path=fc.path, state=np.asarray(state or (-1, -1), np.int64),
             intact=bool(intact))
    commit_file(tmp, path)


def cached_crops(job: tuple[str, str, str, CropSettings, str]) -> FileCrops:
    """Crops of a dataset sample from the cache, made and cached on a miss. job: (path, id, sha256, s, root).

    A file that could not be read (absent, damaged beyond decoding) or whose reading failed is not cached: that
    is the file's state, and a restored file must be read again. Crops of a file whose bytes are not the record's
    (a truncated video) are cached for training to read, tagged so that they are never served once the file
    changes.
    """
    path, sample_id, sha256, s, root = job
    cf = cache_file(Path(root), s, sample_id)
    fc = load_cached(cf, sha256, path) if cf.exists() else None
    if fc is None:
        before = file_state(path)
        fc = file_crops(path, s)
        if not fc.reason.startswith(("failed", "unreadable")):  # crops, or none in readable bytes
            intact = before is not None and sha256_or_none(path) == sha256 and file_state(path) == before
            save_cached(cf, fc, sha256, before, intact)
    return fc


# ---------------------------------------------------------------- pool
def init_worker() -> None:
    """One thread per worker process: the workers already fill the cores, more threads only contend."""
    cv2.setNumThreads(1)
    DECODE_THREADS[0] = 1


def _pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes that have the decoders and dlib loaded (pools.process_pool), one thread each."""
    return process_pool(workers, __name__, init_worker)


def run_pool(fn, jobs: Iterable, workers: int, window: int | None = None) -> Iterator[FileCrops]:
    """fn(job) for every job in order, `workers` processes, at most `window` jobs in flight.

    A worker that dies (a decoder crash) breaks the pool: the jobs then in flight are run again one at a
    time in a fresh pool, so the file that kills its worker is found and gets a reason; the others go on.
    """
    if workers <= 0:
        yield from map(fn, jobs)
        return
    window = window or workers + 1
    todo, careful = iter(jobs), deque()
    ex = _pool(workers)
    try:
        pending: deque = deque()
        unsent = None  # the next job, refused by a pool a worker died in while jobs were being sent
        while True:
            while len(pending) < (1 if careful else window):
                job = unsent if unsent is not None else careful.popleft() if careful else next(todo, None)
                if job is None:
                    break
                try:
                    pending.append((job, ex.submit(fn, job)))
                    unsent = None
                except BrokenProcessPool:  # the pending results say which job killed it; this one comes after
                    unsent = job
                    break
            if not pending:
                if unsent is None:
                    return
                ex.shutdown(cancel_futures=True)
                ex = _pool(workers)
                continue
            job, fut = pending.popleft()
            try:
                yield fut.result()
            except BrokenProcessPool:
                ex.shutdown(cancel_futures=True)
                ex = _pool(workers)
                if careful or not pending:  # this job ran alone: it is the one that kills workers
                    _check_workers_start(ex)
                    size = next(x.size for x in job if isinstance(x, CropSettings))
                    yield empty(str(job[0]), size, DIED)
                else:
                    careful.extend([job, *(j for j, _ in pending)])
                if unsent is not None:
                    careful.append(unsent)
                    unsent = None
                pending.clear()
    finally:
        ex.shutdown(cancel_futures=True)


def _check_workers_start(ex: ProcessPoolExecutor) -> None:
    """One line when a fresh pool's workers die before any file (an empty job breaks it too): then no file is at
    fault, and every one would be marked as one that kills its reader, one fresh pool at a time."""
    try:
        ex.submit(os.getpid).result()
    except BrokenProcessPool:
        raise SynthfakeError("the decoding worker processes die as they start, before reading any file (a script "
                             "that calls synthfake without `if __name__ == \"__main__\":` around its work starts "
                             "itself again in each worker; or memory is short)") from None


def iter_record_crops(dataset: Path, records: list, s: CropSettings, workers: int,
                      cache_root: Path | None = None) -> Iterator[FileCrops]:
    """Crops of each dataset record, in order, through the on-disk cache (default DATASET/cache/crops)."""
    from synthfake.manifest import resolve

    root = str(cache_root or Path(dataset) / "cache" / "crops")
    jobs = ((str(resolve(dataset, r)), r.id, r.sha256, s, root) for r in records)
    return run_pool(cached_crops, jobs, workers)
