"""Five-point face alignment for the model backends: templates, similarity fit, crop, feathered paste-back.

Templates are the published 5-point positions (eye centres, nose tip, mouth corners) that each model was
trained with: insightface's ArcFace 112 px template (python-package/insightface/utils/face_align.py,
`arcface_dst`), the same shifted by 8 px on a 128 px canvas for inswapper (`estimate_norm` with
image_size 128), and FaceFusion's `ffhq_512` template (facefusion/face_helper.py) for LivePortrait crops.
The similarity fit (landmarks.similarity, cast to float32 here) is the least-squares (Umeyama) fit that
insightface gets from skimage.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from synthfake.landmarks import ARCFACE_112, similarity
from synthfake.generators.common.warp import blend, hull_mask

ARCFACE_112_V1 = np.array([[39.7300, 51.1380], [72.2700, 51.1380], [56.0000, 68.4930], [42.4630, 87.0100],
                           [69.5370, 87.0100]], np.float32)  # FaceFusion's 'arcface_112_v1' (its SimSwap models)
FFHQ_512 = np.array([[0.37691676, 0.46864664], [0.62285697, 0.46912813], [0.50123859, 0.61331904],
                     [0.39308822, 0.72541100], [0.61150205, 0.72490465]], np.float32) * 512


def arcface_template(size: int) -> np.ndarray:
    """insightface's template for a square crop of `size` (a multiple of 112, or of 128 with the 8 px shift)."""
    if size % 112 == 0:
        return ARCFACE_112 * (size / 112)
    ratio = size / 128
    return (ARCFACE_112 + np.array([8.0, 0.0], np.float32)) * ratio


def template(name: str, size: int) -> np.ndarray:
    """A named template (FaceFusion's names) for a square crop of `size`."""
    if name == "arcface_128_v2":
        return arcface_template(128) * (size / 128)
    if name == "arcface_112_v2":
        return ARCFACE_112 * (size / 112)
    if name == "arcface_112_v1":
        return ARCFACE_112_V1 * (size / 112)
    if name == "ffhq_512":
        return FFHQ_512 * (size / 512)
    raise ValueError(f"unknown alignment template {name!r}")


def zoom_out(template: np.ndarray, factor: float) -> np.ndarray:
    """The template shrunk about its nose tip by `factor`: the same crop size holds more around the face."""
    c = template[2]
    return (c + (template - c) / factor).astype(np.float32)


def crop(frame: np.ndarray, points5: np.ndarray, template: np.ndarray, size: int,
         interp: int = cv2.INTER_LINEAR) -> tuple[np.ndarray, np.ndarray]:
    """The aligned square crop and the 2x3 matrix frame -> crop (FaceFusion crops with INTER_AREA)."""
    m = similarity(points5, template).astype(np.float32)
    return cv2.warpAffine(frame, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE), m


def box_mask(size: int, margin: float, blur: float) -> np.ndarray:
    """Float mask in [0, 1]: ones inside a border of `margin`*size, Gaussian-feathered by `blur`*size."""
    m = np.zeros((size, size), np.float32)
    b = max(1, int(round(size * margin)))
    m[b:size - b, b:size - b] = 1.0
    sigma = max(0.5, size * blur)
    return cv2.GaussianBlur(m, (0, 0), sigma)


@lru_cache(maxsize=8)
def facefusion_box_mask(size: int, face_mask_blur: float) -> np.ndarray:
    """FaceFusion's static box mask (face_masker.create_static_box_mask, no padding): a border of
    size * blur / 4 zeroed, then a Gaussian of sigma size * blur / 8. Made once per size and blur (a lip-sync
    clip asks for it every frame: a 512 px blur of sigma ~19, 9 ms) and handed out read-only."""
    amount = int(size * 0.5 * face_mask_blur)
    area = max(amount // 2, 1)
    m = np.ones((size, size), np.float32)
    m[:area], m[-area:], m[:, :area], m[:, -area:] = 0, 0, 0, 0
    m = cv2.GaussianBlur(m, (0, 0), amount * 0.25) if amount > 0 else m
    m.flags.writeable = False
    return m


def soft_hull(points: np.ndarray, shape: tuple[int, int], blur: float) -> np.ndarray:
    """Float alpha in [0, 1] of `shape` (h, w): warp.hull_mask of `points`, feathered by `blur` * the longer side."""
    m = hull_mask(points, shape).astype(np.float32) / 255.0
    return cv2.GaussianBlur(m, (0, 0), max(0.5, max(shape) * blur))


def paste_back(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Blend the generated crop into the frame through the inverse of `m` (frame -> crop), weighted by mask."""
    h, w = frame.shape[:2]
    inv = cv2.invertAffineTransform(m)
    warped = cv2.warpAffine(face, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(mask, inv, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)[..., None]
    return blend(warped, frame, alpha)


def transform_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, np.float32)
    return pts @ m[:, :2].T + m[:, 2]


def liveportrait_square(lm: np.ndarray, scale: float, vy: float) -> np.ndarray:
    """(cx, cy, size) of LivePortrait's square crop from 68 landmarks (parse_rect_from_landmark, no rotation):
    the eye-to-mouth axis, the landmarks' extent times `scale`, moved by `vy` of its size along that axis. Its
    crop_config: source crops scale 2.3, vy -0.125; driving video crops 2.2, -0.1."""
    lm = np.asarray(lm, np.float64)
    top = (np.mean(lm[[36, 39]], 0) + np.mean(lm[[42, 45]], 0)) / 2  # eye corners 37/40, 43/46 (1-based)
    uy = np.mean(lm[[48, 54]], 0) - top
    uy = uy / np.linalg.norm(uy) if np.linalg.norm(uy) > 1e-3 else np.array([0.0, 1.0])
    ux = np.array([uy[1], -uy[0]])
    c0 = lm.mean(0)
    r = (lm - c0) @ np.stack([ux, uy]).T
    lo, hi = r.min(0), r.max(0)
    c1 = (lo + hi) / 2
    size = float((hi - lo).max()) * scale
    centre = c0 + ux * c1[0] + uy * c1[1] + uy * (vy * size)
    return np.array([centre[0], centre[1], size])
