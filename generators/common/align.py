"""Five-point face alignment for the model backends: templates, similarity fit, crop, feathered paste-back.

Templates are the published 5-point positions (eye centres, nose tip, mouth corners) that each model was
trained with: insightface's ArcFace 112 px template (python-package/insightface/utils/face_align.py,
`arcface_dst`), the same shifted by 8 px on a 128 px canvas for inswapper (`estimate_norm` with
image_size 128), and FaceFusion's `ffhq_512` template (facefusion/face_helper.py) for LivePortrait crops.
The similarity fit (landmarks.similarity, cast to float32 here) is the least-squares (Umeyama) fit that
insightface gets from skimage.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthfake.landmarks import ARCFACE_112, similarity
from synthfake.generators.common.warp import blend, hull_mask

FFHQ_512 = np.array([[0.37691676, 0.46864664], [0.62285697, 0.46912813], [0.50123859, 0.61331904],
                     [0.39308822, 0.72541100], [0.61150205, 0.72490465]], np.float32) * 512


def arcface_template(size: int) -> np.ndarray:
    """insightface's template for a square crop of `size` (a multiple of 112, or of 128 with the 8 px shift)."""
    if size % 112 == 0:
        return ARCFACE_112 * (size / 112)
    ratio = size / 128
    return (ARCFACE_112 + np.array([8.0, 0.0], np.float32)) * ratio


def zoom_out(template: np.ndarray, factor: float) -> np.ndarray:
    """The template shrunk about its nose tip by `factor`: the same crop size holds more around the face."""
    c = template[2]
    return (c + (template - c) / factor).astype(np.float32)


def crop(frame: np.ndarray, points5: np.ndarray, template: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The aligned square crop and the 2x3 matrix frame -> crop."""
    m = similarity(points5, template).astype(np.float32)
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), m


def box_mask(size: int, margin: float, blur: float) -> np.ndarray:
    """Float mask in [0, 1]: ones inside a border of `margin`*size, Gaussian-feathered by `blur`*size."""
    m = np.zeros((size, size), np.float32)
    b = max(1, int(round(size * margin)))
    m[b:size - b, b:size - b] = 1.0
    sigma = max(0.5, size * blur)
    return cv2.GaussianBlur(m, (0, 0), sigma)


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
