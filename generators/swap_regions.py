"""Regions, colour, sharpness and occlusion for `landmark_swap`, all in face units (inter-ocular distance).

Why each exists (issue 13, frames looked at full size): a hull of the 68 points stops at the brow landmarks, so
the target's brows showed above the source's (doubling); Poisson blending pulled the hull border's colours
(hair, brows) into the face (blotches, pale faces); pasting the source's eye apertures and mouth cavity froze its
gaze, blinks and open mouth over a target that moves; a sharp photo pasted on a soft video frame looked cut out.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthfake import landmarks as lmk
from synthfake.generators.common import warp
from synthfake.generators.common import rims
from synthfake.generators.common import skin
from synthfake.generators.common.relight import relight

BROW_ZONE = 0.18  # face units above the brow landmarks that always swap (the target's brows lie there)
FOREHEAD = 0.36  # face units above the brow landmarks that swap where both faces show skin
EYES = (np.arange(36, 42), np.arange(42, 48))
INNER_MOUTH = np.arange(60, 68)
EDGE_RING = 0.2  # face units inside the swapped region's edge where the source's non-skin (hair) is left out
SHADING = 0.18  # face units below which the target's tone and shading replace the source's (morph: 0.25): a source
# lit from one side kept more of its shadow at 0.25 (still_talk_d20 on photo_s42); at 0.12 the target's brows showed
STRAND_CONTRAST = 8.0  # L levels a thin line lies below its surroundings to count as a hair strand


def extend(lm: np.ndarray) -> np.ndarray:
    """The 68 landmarks plus 10 forehead points FOREHEAD face units above the brows (rows 68-77)."""
    up = lmk.up_vector(lm)
    return np.vstack([lm, lm[17:27] + up * FOREHEAD * float(lmk.interocular(lm))]).astype(np.float32)


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(sigma, 0.5))


def face_interior(lm: np.ndarray, shape, skin_map: np.ndarray | None = None, forehead: bool = False) -> np.ndarray:
    """Skin of the face: the 68-point hull (with the forehead band of `extend` when `forehead`) without eyes,
    brows and mouth, and without pixels `skin_map` rates under 0.3 (uint8 mask): where sharpness and colour are
    measured."""
    m = warp.hull_mask(extend(lm) if forehead else lm, shape)
    if skin_map is not None:
        m[skin_map < 0.3] = 0
    k = 2 * max(1, int(0.08 * float(lmk.interocular(lm)))) + 1
    for idx in (*EYES, np.arange(48, 60), np.arange(17, 22), np.arange(22, 27)):
        m[cv2.dilate(warp.hull_mask(lm[idx], shape), np.ones((k, k), np.uint8)) > 0] = 0
    return cv2.erode(m, np.ones((k, k), np.uint8))


def source_fringe(rgb: np.ndarray, lm: np.ndarray) -> bool:
    """True when hair covers the source's brows: the band 0.12-0.3 face units above them is much darker than its
    cheeks (L median 25 lower) or much more textured (mean |d2L/dxdy| 1.8 times the cheeks'). On the 13 faces of
    ../shared (data and wild reals) only photo_s1 (a fringe down to the eyes: -74 L, 2.6x) is one; the others
    lie within -5..+33 L and 0.6-1.3x. Its brow region then is not pasted and the target keeps its brows."""
    up, iod = lmk.up_vector(lm), float(lmk.interocular(lm))
    band = warp.hull_mask(np.vstack([lm[17:27] + up * 0.12 * iod, lm[17:27] + up * 0.3 * iod]), rgb.shape[:2])
    ref = skin.cheeks(rgb.shape[:2], lm)
    if not band.any() or not ref.any():
        return False
    L = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    tex = np.abs(cv2.Sobel(cv2.GaussianBlur(L, (0, 0), 0.01 * iod + 0.5), cv2.CV_32F, 1, 1))
    darker = float(np.median(L[band > 0]) - np.median(L[ref > 0])) < -25
    return darker or float(tex[band > 0].mean() / (tex[ref > 0].mean() + 1e-3)) > 1.8


def hair_strands(rgb: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Thin dark lines (over 0.04 face units deeper than STRAND_CONTRAST L, at least 0.12 long) beside the eyes
    and above them, away from eyes and brows: strands of long hair falling across the temples, which colour
    alone passes as skin (photo_s42's: 9.5 % of that zone; bare faces here 0-3.6 %, wild reals with hair there
    10-14 %). Boolean."""
    shape, iod, up = rgb.shape[:2], float(lmk.interocular(lm)), lmk.up_vector(lm)
    mid = lm[36:48].mean(0)
    xx, yy = np.arange(shape[1])[None, :], np.arange(shape[0])[:, None]
    beside = np.abs((xx - mid[0]) * -up[1] + (yy - mid[1]) * up[0]) > 0.6 * iod
    zone = beside & (lmk.height_above(shape, lm, mid) > -0.3 * iod)
    return skin.thin_lines(rgb, lm, zone, width=0.04, contrast=STRAND_CONTRAST, min_length=0.12, light=False,
                           eye_margin=0.08, brow_width=0.2)


def swap_alpha(lm: np.ndarray, src_skin: np.ndarray, dst_skin: np.ndarray, feather: float,
               keep_brows: bool = False, below_glasses: bool = False,
               strands: np.ndarray | None = None) -> np.ndarray:
    """Float alpha of the swap in the ROI: face hull and brow zone in full; the forehead band up to FOREHEAD only
    where the warped source and the target both show skin (no source hair pasted, target fringe kept); the target's
    own eye apertures and mouth cavity left out so its gaze, blinks and speech show. The source's hair is left
    out: its non-skin above the eyes (everything there when `keep_brows`, a source whose brows hair covers) and
    within EDGE_RING of the region's edge, and its `strands` (`hair_strands`) wherever they lie. With
    `below_glasses` (either face wears glasses), only the face below `rims.BELOW` is swapped, so no rims are
    pasted or erased. Feathered `feather` face units, toward skin."""
    shape = src_skin.shape
    iod = float(lmk.interocular(lm))
    up = lmk.up_vector(lm)
    core = warp.hull_mask(np.vstack([lm, lm[17:27] + up * BROW_ZONE * iod]), shape)
    band = warp.hull_mask(extend(lm), shape) & ~core
    both_skin = np.minimum(src_skin, dst_skin)
    band_ok = (band > 0) & (cv2.GaussianBlur(both_skin, (0, 0), 0.04 * iod) > 0.35)
    # above the eyes, the source counts only where it shows skin or its own brows: its fringe stays out
    brows = warp.brow_lines(lm, shape, 0.16 * iod)
    above = lmk.height_above(shape, lm, lm[36:48].mean(0)) > 0.12 * iod
    # and along the region's edge (temples, cheeks, jaw), where long hair falls across a source's face
    k = 2 * max(1, int(EDGE_RING * iod)) + 1
    ring = (core > 0) & (warp.morph_around(cv2.erode, core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) == 0)
    d = 2 * max(1, int(0.03 * iod)) + 1  # thin strands, and the half-covered pixels beside them
    nonskin = (cv2.dilate((src_skin < 0.4).astype(np.uint8), np.ones((d, d), np.uint8)) > 0) & (brows == 0)
    src_hair = (above if keep_brows else above & nonskin) | (ring & nonskin)
    if strands is not None:  # and strands across the temples, wherever they fall
        src_hair |= cv2.dilate(strands.astype(np.uint8), np.ones((d, d), np.uint8)) > 0
    mask = np.where(((core > 0) | band_ok) & ~src_hair, 255, 0).astype(np.uint8)
    if below_glasses:
        mask[rims.above_rims(shape, lm)] = 0
    r = max(1, int(feather * iod))
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    alpha = _soft(mask, r / 1.5)
    keep = np.zeros(shape, np.uint8)
    for idx in (*EYES, INNER_MOUTH):
        keep |= warp.hull_mask(lm[idx], shape)
    keep_soft = _soft(cv2.dilate(keep, np.ones((3, 3), np.uint8)), max(1.0, 0.03 * iod))
    return alpha * (1.0 - keep_soft)


def transfer_colour(src: np.ndarray, dst: np.ndarray, lm: np.ndarray, covered: np.ndarray,
                    strength: float, dst_skin: np.ndarray | None = None, knee: float | None = None) -> np.ndarray:
    """The warped source relit to the target (`relight`) below SHADING face units, measured on the skin of the
    hull and forehead band (`dst_skin`: the target's skin likelihood, if already computed)."""
    region = (face_interior(lm, dst.shape[:2], forehead=True) > 0) & (covered > 0)
    return relight(src, dst, lm, region, strength, sigma=SHADING, dst_skin=dst_skin, knee=knee)


def sharpness(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Laplacian variance of the grey image inside mask: how much fine detail a region holds."""
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(g, cv2.CV_32F)
    v = lap[mask > 0]
    return float(v.var()) if v.size else 0.0


def match_sharpness(src: np.ndarray, dst: np.ndarray, interior: np.ndarray,
                    sharpen: bool = True) -> tuple[np.ndarray, float]:
    """Blur (or lightly unsharp, unless not `sharpen`) the warped source until its Laplacian energy on the face
    interior is the target's.

    Returns the image and the Gaussian sigma used (negative: unsharp amount)."""
    target = sharpness(dst, interior)
    have = sharpness(src, interior)
    if have > 1.15 * target:
        for sigma in (0.4, 0.6, 0.8, 1.0, 1.3, 1.6, 2.0, 2.5, 3.0):
            out = cv2.GaussianBlur(src, (0, 0), sigma)
            if sharpness(out, interior) <= target:
                return out, sigma
        return out, sigma
    if sharpen and have < 0.6 * target:
        soft = cv2.GaussianBlur(src, (0, 0), 1.0).astype(np.float32)
        for amount in (0.5, 1.0, 1.5):
            out = np.clip(src + amount * (src.astype(np.float32) - soft), 0, 255).astype(np.uint8)
            if sharpness(out, interior) >= 0.8 * target:
                break
        return out, -amount
    return src, 0.0
