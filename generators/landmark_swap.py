"""Weights-free face swap: a source face onto every frame of a target video, or onto a target photo.

Per frame: the source's 68 landmarks are warped piecewise-affinely (Delaunay) onto the target's
temporally smoothed landmarks, colour-matched in LAB inside the face hull, Poisson-blended
(`cv2.seamlessClone`) and feathered. Pixels outside the hull are the target's. Frames without a face
pass through untouched and are counted; the target's audio is kept.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthfake import faces, media
from synthfake.generators.common import warp
from synthfake.generators import Context, Generated
from synthfake.generators.common.clips import render_clip
from synthfake.writer import save_image

TYPE = "face_swap"
VERSION = "1.0"
ROI_MARGIN = 0.25


def ready(ctx: Context) -> str | None:
    return None  # dlib models ship with the core install


def _params(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"mask": "hull68", "erode_px": int(rng.integers(1, 4)), "feather_px": int(rng.integers(3, 7)),
            "color": "lab", "color_strength": round(float(rng.uniform(0.6, 1.0)), 3), "blend": "poisson_normal",
            "smooth_sigma": 1.0, "roi_margin": ROI_MARGIN}


def swap_frame(src: np.ndarray, src_lm: np.ndarray, tris: np.ndarray, dst: np.ndarray, dst_lm: np.ndarray,
               p: dict) -> np.ndarray:
    """One frame: source face warped onto dst's landmarks, colour-matched and blended inside the hull."""
    x0, y0, x1, y1 = faces.margin_box(faces.box_from_landmarks(dst_lm), p["roi_margin"], dst.shape)
    roi = dst[y0:y1, x0:x1]
    lm = dst_lm - np.array([x0, y0], np.float32)
    warped, covered = warp.piecewise_affine(src, src_lm, lm, tris, roi.shape[:2])
    mask = warp.hull_mask(lm, roi.shape[:2], erode=p["erode_px"]) & covered
    if mask.sum() < 255 * 64:
        return dst
    matched = warp.lab_transfer(warped, roi, mask)  # a seeded strength: two samples of one pair still differ
    warped = cv2.addWeighted(matched, p["color_strength"], warped, 1 - p["color_strength"], 0)
    blended = warp.poisson_blend(warped, roi, mask)
    alpha = warp.feather(mask, p["feather_px"])[..., None]
    out = dst.copy()
    out[y0:y1, x0:x1] = np.clip(alpha * blended + (1 - alpha) * roi + 0.5, 0, 255).astype(np.uint8)
    return out


def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    src = sources.role("source")
    tgt = sources.role("target")
    p = _params(sample.seed)
    if src.item.kind == "video":
        p["source_frame"] = src.item.still_frame
    src_img = src.still()
    src_lm = np.array(src.item.landmarks, np.float32)
    tris = warp.delaunay(src_lm)
    if tgt.item.kind == "image":
        out = swap_frame(src_img, src_lm, tris, media.read_image(tgt.path), tgt.still_face().landmarks, p)
        return Generated(save_image(out_stem, out), p, 1, 1)

    start, n = sample.params["clip_start"], sample.params["clip_frames"]
    path, written, swapped = render_clip(out_stem, tgt, start, n,
                                         lambda rgb, lm, i: swap_frame(src_img, src_lm, tris, rgb, lm, p),
                                         sigma=p["smooth_sigma"])
    return Generated(path, p, written, swapped)
