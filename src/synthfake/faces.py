"""Faces with dlib: HOG frontal detector, 68-point landmarks, 128-D embeddings.

Model files come from the `face-recognition-models` package, located without importing its
`__init__` (it imports `pkg_resources`, gone from setuptools >= 81). Stills take the largest face; clips
track one person by identity (`track`). No face is `None`, never a crash.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import cv2
import dlib
import numpy as np

from .errors import SynthfakeError

SAME_PERSON = 0.6  # dlib's published same-person threshold on 128-D descriptor distance
DETECT_MAX_SIDE = 360  # detection runs on a downscaled copy; landmarks on the full frame
WIDER_SIDE = 1280  # nothing found on a frame over twice that size: one more scan at up to this many pixels


@dataclass
class Face:
    """One detected face: box (x0, y0, x1, y1) in pixels and 68 landmarks (x, y)."""

    box: tuple[int, int, int, int]
    landmarks: np.ndarray  # (68, 2) float32

    @property
    def size(self) -> int:
        return max(self.box[2] - self.box[0], self.box[3] - self.box[1])


def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SynthfakeError("face_recognition_models: package not installed (pip install face-recognition-models)")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def _model(name: str) -> str:
    p = models_dir() / name
    if not p.exists():
        raise SynthfakeError(f"{p}: dlib model file missing; reinstall face-recognition-models")
    return str(p)


@lru_cache(maxsize=None)
def _detector():
    """dlib's frontal HOG detector. Building it decodes dlib's embedded model (~0.65 s a process); loading its
    own serialised copy takes ~2 ms, so the first process saves one in the user's cache and the rest load it."""
    cached = Path.home() / ".cache" / "synthfake" / f"dlib-{dlib.__version__}-frontal_face_detector.svm"
    if cached.is_file():
        try:
            return dlib.fhog_object_detector(str(cached))
        except RuntimeError:  # cut short or damaged: build it again and replace it
            pass
    det = dlib.get_frontal_face_detector()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        det.save(str(tmp))
        os.replace(tmp, cached)  # atomic: a concurrent process reads the old file or the whole new one
    except OSError:
        pass  # a read-only home: build it each time
    return det


LANDMARKS = ("shape_predictor", "shape_predictor_68_face_landmarks.dat")
DESCRIPTOR = ("face_recognition_model_v1", "dlib_face_recognition_resnet_model_v1.dat")


@lru_cache(maxsize=None)
def _dlib_model(model: tuple[str, str]):
    """One of dlib's shipped models, `(dlib class, file)`, loaded once a process."""
    cls, name = model
    return getattr(dlib, cls)(_model(name))


def preload_models() -> None:
    """Load dlib's detector, landmark and descriptor models now (a forkserver shares them with its workers)."""
    _detector()
    _dlib_model(LANDMARKS)
    _dlib_model(DESCRIPTOR)


_PYRAMID = dlib.pyramid_down(6)  # the frontal detector's own image pyramid (scan_fhog_pyramid<pyramid_down<6>>)


def _full_scale(v: int, level: int, skipped: int) -> int:
    """A detection coordinate `v` found at pyramid `level` of an image already downsampled `skipped` times, as the
    scan of the whole pyramid reports it: dlib puts window corners on 8c + 5 of their level (8 px cells, even
    filter size) and maps them up with p * 6/5 + 0.3 per level, rounding once (floor(x + 0.5))."""
    for _ in range(level):
        v = (v - 0.3) * (5 / 6.0)
    p = 8 * round((v - 5) / 8) + 5.0
    for _ in range(level + skipped):
        p = p * (6 / 5.0) + 0.3
    return math.floor(p + 0.5)


def _levels_below(face: int) -> int:
    """How many pyramid levels hold only windows under ~face / 1.7 (a face `face` px wide is found 3+ levels up)."""
    size = _detector().detection_window_width - 8  # a window's box spans 72 px at its own level
    return max(0, math.floor(math.log(max(face, 1) / size, 1.2)) - 2)


def _area(b) -> int:
    return (b[2] - b[0]) * (b[3] - b[1])


def _level(b) -> int:
    """The pyramid level a detector box comes from (its size is 72 px * 1.2^level)."""
    size = _detector().detection_window_width - 8
    return max(0, round(math.log(max(1, min(b[2] - b[0], b[3] - b[1])) / size, 1.2)))


def _scan(small: np.ndarray, skip: int) -> list[tuple[int, int, int, int]]:
    """The detector's boxes on `small`, scanning its pyramid from level `skip` up: the levels below are made with
    dlib's own pyramid_down (as the detector makes them) and the boxes mapped back exactly (`_full_scale`)."""
    det = _detector()
    img = np.ascontiguousarray(small)
    for _ in range(skip):
        img = _PYRAMID(img)
    out = []
    for r in det(img, 0):
        coords = (r.left(), r.top(), r.right(), r.bottom())
        if skip:
            level = _level(coords)
            coords = tuple(_full_scale(v, level, skip) for v in coords)
        out.append(coords)
    return out


def detect_boxes(rgb: np.ndarray, max_side: int = DETECT_MAX_SIDE, face: int = 0,
                 wider: int = WIDER_SIDE) -> list[tuple[int, int, int, int]]:
    """All face boxes, largest first, detected on a copy downscaled to `max_side`.

    `face` > 0, a face width in `rgb`'s pixels expected from a neighbouring frame, leaves out the pyramid levels
    of windows under ~face / 1.7 (about half the work). The largest box is then the full scan's: it is taken
    only when it lies 2+ levels above the skipped ones (1.44x their size, too far apart for the detector's
    non-maximum suppression to pair them), else the frame is scanned in full. Measured: the whole box list
    equals the full scan's on all 2,354 frames of the 100-sample default dataset (previous frame as `face`).
    Nothing found on a frame over twice `max_side`: one more scan at up to `wider` (0: none), since dlib's
    80 px window at 360 px misses faces under ~300 px in a 1080p frame (an interview, a 4K phone clip).
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # a 8000x10 strip: 1 px tall, not 0 (OpenCV refuses)
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    skip = _levels_below(round(face * scale)) if face else 0
    rects = _scan(small, skip)
    if skip and (not rects or _level(max(rects, key=_area)) < skip + 2):
        rects = _scan(small, 0)
    boxes = [(int(r[0] / scale), int(r[1] / scale), int(r[2] / scale), int(r[3] / scale)) for r in rects]
    if not boxes and scale < 1 and min(h, w) * scale < 200:  # small faces: try once at full size
        return detect_boxes(rgb, max(h, w), wider=0) if max_side < max(h, w) else []
    if not boxes and max(h, w) > 2 * max_side and wider > max_side:
        return detect_boxes(rgb, min(max(h, w), wider), wider=0)
    return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)


def box_score(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """dlib's detector score (its SVM margin, 0 at its threshold) of the face in `box`, looked at again with the
    face ~100 px wide: people's faces in ../shared/data and wild/ score a median of 0.45-3 a file, a monkey's
    face -0.11 to 0.08 (7 Dec); -1 when the window is no longer found there."""
    x0, y0, x1, y1 = box
    w = max(1, x1 - x0)
    m = int(0.6 * w)
    crop = rgb[max(0, y0 - m):y1 + m, max(0, x0 - m):x1 + m]
    k = 100.0 / w
    size = (max(1, round(crop.shape[1] * k)), max(1, round(crop.shape[0] * k)))
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    dets, scores, _ = _detector().run(np.ascontiguousarray(crop), 0, -1.0)
    cx, cy = (min(x0, m) + w / 2) * k, (min(y0, m) + (y1 - y0) / 2) * k  # the face's centre in the crop
    near = [s for d, s in zip(dets, scores) if abs((d.left() + d.right()) / 2 - cx) < 30 and
            abs((d.top() + d.bottom()) / 2 - cy) < 30]
    return round(float(max(near)), 3) if near else -1.0


def landmarks(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """68 landmarks (x, y) inside a face box."""
    shape = _dlib_model(LANDMARKS)(np.ascontiguousarray(rgb), dlib.rectangle(*box))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


def detect(rgb: np.ndarray, max_side: int = DETECT_MAX_SIDE) -> Face | None:
    """The largest face with its landmarks, or None."""
    return largest(rgb, detect_boxes(rgb, max_side))


def largest(rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> Face | None:
    """The first (largest) of `detect_boxes`' boxes with its landmarks, or None when there is none."""
    return Face(boxes[0], landmarks(rgb, boxes[0])) if boxes else None


def embedding(rgb: np.ndarray, face: Face) -> np.ndarray:
    """dlib's 128-D face descriptor of a detected face (distance < 0.6: same person)."""
    shape = _dlib_model(LANDMARKS)(np.ascontiguousarray(rgb), dlib.rectangle(*face.box))
    return np.array(_dlib_model(DESCRIPTOR).compute_face_descriptor(np.ascontiguousarray(rgb), shape), np.float32)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def box_from_landmarks(lm: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    return int(x0), int(y0), int(x1), int(y1)


def margin_box(box, margin: float, shape) -> tuple[int, int, int, int]:
    """Box grown by `margin` of its size on each side, clipped to an image of `shape`."""
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    h, w = shape[:2]
    return (max(0, int(x0 - dx)), max(0, int(y0 - dy)), min(w, int(x1 + dx)), min(h, int(y1 + dy)))


TRACK_THRESHOLD = 0.4  # a frame's face is the reference person below this (measured here: own <= 0.36, others >= 0.43)
VERIFY_EVERY = 10  # a face followed by box overlap alone is re-identified at least this often
CUT_DIFF = 20.0  # mean abs difference of 32x32 grey thumbnails above which two frames are a cut


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _thumb(rgb: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def _identify(rgb: np.ndarray, boxes, reference: np.ndarray, threshold: float) -> Face | None:
    """The detected face nearest the reference embedding, if it lies within `threshold`."""
    best, best_d = None, threshold
    for box in boxes:
        face = Face(box, landmarks(rgb, box))
        d = distance(embedding(rgb, face), reference)
        if d < best_d:
            best, best_d = face, d
    return best


def track(frames: Iterable[np.ndarray], reference: np.ndarray | None = None, threshold: float = TRACK_THRESHOLD,
          max_gap: int = 2) -> list[Face | None]:
    """The reference person's face in each frame (None where absent); without a reference, the largest face.

    Like FaceFusion's reference face: a face is the reference person when its embedding lies within
    `threshold`. Embeddings (~80 ms a face) are computed on the first frame, after a cut, when faces overlap
    or the box does not continue, and every VERIFY_EVERY frames; otherwise the one face overlapping the last
    box continues the track. A frame with no face at all (a missed detection) reuses the last box for up to
    `max_gap` frames, never across a cut; a frame whose faces are all someone else is None.
    """
    out: list[Face | None] = []
    last, gap, since, prev = None, 0, 0, None
    for rgb in frames:
        thumb = _thumb(rgb)
        cut = prev is not None and float(np.abs(thumb - prev).mean()) > CUT_DIFF
        prev = thumb
        boxes = detect_boxes(rgb)
        face = None
        if boxes and reference is None:
            face = Face(boxes[0], landmarks(rgb, boxes[0]))
        elif boxes:
            near = [b for b in boxes if last is not None and iou(b, last) > 0]
            if not cut and len(near) == 1 and iou(near[0], last) >= 0.5 and since < VERIFY_EVERY:
                face, since = Face(near[0], landmarks(rgb, near[0])), since + 1
            else:
                face, since = _identify(rgb, boxes, np.asarray(reference, np.float32), threshold), 0
        elif last is not None and gap < max_gap and not cut:
            gap += 1
            lm = landmarks(rgb, last)
            out.append(Face(last, lm))
            last = box_from_landmarks(lm)
            continue
        gap = 0
        out.append(face)
        last = face.box if face is not None else None
    return out


def jumped(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two landmark sets of consecutive frames cannot be one face moving (a switch or a cut)."""
    sa, sb = np.ptp(a, 0).max(), np.ptp(b, 0).max()
    return bool(np.linalg.norm(a.mean(0) - b.mean(0)) > 0.5 * max(sa, sb) or max(sa, sb) > 1.5 * max(1e-6, min(sa, sb)))


def smooth_landmarks(seq: list[np.ndarray | None], sigma: float = 1.0) -> list[np.ndarray | None]:
    """Gaussian smoothing of landmark tracks over time, within each run of consecutive found frames.

    A run also ends where the face jumps (`jumped`: another person, a cut), so nothing blends across a switch.
    """
    if sigma <= 0:
        return list(seq)
    radius = max(1, int(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    out = list(seq)
    i = 0
    while i < len(seq):
        if seq[i] is None:
            i += 1
            continue
        j = i + 1
        while j < len(seq) and seq[j] is not None and not jumped(seq[j - 1], seq[j]):
            j += 1
        run = np.stack(seq[i:j])  # (T, 68, 2)
        for t in range(j - i):
            lo, hi = max(0, t - radius), min(j - i, t + radius + 1)
            k = kernel[lo - t + radius:hi - t + radius]
            out[i + t] = (np.tensordot(k, run[lo:hi], axes=1) / k.sum()).astype(np.float32)
        i = j
    return out


def five_points(lm: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip, mouth corners from 68 landmarks (insightface's 5-point order)."""
    return np.array([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]], np.float32)
