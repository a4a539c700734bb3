"""Which pixels of a face are skin, measured against its own cheeks and nose, and which are thin lines across it
(strands of hair, glasses rims): used by the backends that must not paste hair, brows, lips or rims as if they
were skin (landmark_swap's masks and colour, morph's weights and facial hair)."""

from __future__ import annotations

import numpy as np

import cv2

from synthfake import landmarks as lmk
from synthfake.generators.common.warp import brow_lines, hull_mask

CHEEKS = (np.array([1, 2, 3, 31, 39]), np.array([15, 14, 13, 35, 42]), np.array([29, 31, 33, 35]))
SKIN_DARKEST = 0.6  # share of the cheeks' median L below which a pixel is not skin (hair; deep shadow too)
SHADOW_DARKEST = 0.15  # ... below which not even shaded skin (still_talk_d20's shadow side: 0.25)


def cheeks(shape, lm: np.ndarray) -> np.ndarray:
    """The cheeks-and-nose mask (uint8) that skin colour is measured on."""
    ref = np.zeros(shape, np.uint8)
    for idx in CHEEKS:
        ref |= hull_mask(lm[idx], shape)
    return ref


def _reference(lab: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Median LAB of the cheeks and nose, and the spread a skin pixel may lie from it (None: too few pixels)."""
    px = lab.reshape(-1, 3)[np.flatnonzero(cheeks(lab.shape[:2], lm))].astype(np.float32, copy=False)
    if len(px) < 32:
        return None
    med = np.median(px, 0)
    return med, 1.4826 * np.median(np.abs(px - med), 0) * np.array([3.0, 2.5, 2.5]) + np.array([10.0, 4.0, 4.0])


def _tables(med: np.ndarray, spread: np.ndarray) -> list[np.ndarray]:
    """Per LAB channel, ((v - med) / spread) ** 2 for every 8-bit value v: the same float ops as on the image."""
    v = np.arange(256, dtype=np.float32)
    return [((v - med[c]) / spread[c]) ** 2 for c in range(3)]


def skin_likelihood(lab: np.ndarray, lm: np.ndarray, shaded: bool = False) -> np.ndarray:
    """Per pixel in [0, 1]: how close the LAB colour is to this face's cheeks and nose (robust mean and spread), and
    not far darker than them (photo_s42: shading spreads its cheeks' L so wide that brown hair passed on colour).
    `shaded`: on chroma alone, so a cheek in deep shadow still counts (still_talk_d20's shaded side is 0.25 of its
    cheeks' L): where a face's colour and shading are measured; near-black stays out. `lab`: float32, or uint8 as
    cv2 converts 8-bit RGB (the same result, by table lookup)."""
    ref = _reference(lab, lm)
    if ref is None:
        return np.ones(lab.shape[:2], np.float32)
    med, spread = ref
    if lab.dtype == np.uint8:
        return _likelihood_u8(lab, med, spread, shaded)
    if shaded:
        d2 = (((lab[..., 1:] - med[1:]) / spread[1:]) ** 2).sum(-1)
        return (np.exp(-0.5 * d2 / 2.0) * (lab[..., 0] > SHADOW_DARKEST * med[0])).astype(np.float32)
    d2 = (((lab - med) / spread) ** 2).sum(-1)
    colour = np.exp(-0.5 * d2 / 2.0)
    # far darker than the cheeks: hair, even where a face's strong shading widens the L spread past it
    dark = np.maximum(SKIN_DARKEST * med[0] - lab[..., 0], 0)
    return (colour * np.exp(-0.5 * (dark / 8.0) ** 2)).astype(np.float32)


def _likelihood_u8(lab: np.ndarray, med: np.ndarray, spread: np.ndarray, shaded: bool) -> np.ndarray:
    """`skin_likelihood` of 8-bit LAB: each channel's term looked up per value, summed in the same order."""
    t = _tables(med, spread)
    L, a, b = cv2.split(lab)
    v = np.arange(256, dtype=np.float32)
    if shaded:
        d2 = cv2.LUT(a, t[1]) + cv2.LUT(b, t[2])
        return (np.exp(-0.5 * d2 / 2.0) * (v > SHADOW_DARKEST * med[0])[L]).astype(np.float32)
    d2 = cv2.LUT(L, t[0]) + cv2.LUT(a, t[1])
    d2 += cv2.LUT(b, t[2])
    d2 *= -0.5  # exp(-0.5 * d2 / 2.0), op by op in place
    d2 /= 2.0
    colour = np.exp(d2, out=d2)
    dark = np.exp(-0.5 * (np.maximum(SKIN_DARKEST * med[0] - v, 0) / 8.0) ** 2)
    return (colour * cv2.LUT(L, dark)).astype(np.float32)


def thin_lines(rgb: np.ndarray, lm: np.ndarray, zone: np.ndarray, width: float, contrast: float,
               min_length: float, light: bool, eye_margin: float, brow_width: float) -> np.ndarray:
    """Boolean: within `zone`, lines thinner than `width` face units that are darker (and, with `light`, also
    lighter) than their surroundings by more than `contrast` L levels (black-/top-hat), away from the eyes
    (dilated by `eye_margin`) and the brow lines (`brow_width` thick), in pieces at least `min_length` long."""
    shape, iod = rgb.shape[:2], float(lmk.interocular(lm))
    L = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32), (0, 0), 0.5)
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * max(1, int(width * iod)) + 1,) * 2)
    lines = cv2.morphologyEx(L, cv2.MORPH_BLACKHAT, se)
    if light:
        lines = np.maximum(cv2.morphologyEx(L, cv2.MORPH_TOPHAT, se), lines)
    eyes = hull_mask(lm[36:42], shape) | hull_mask(lm[42:48], shape)
    k = 2 * max(1, int(eye_margin * iod)) + 1
    away = (cv2.dilate(eyes, np.ones((k, k), np.uint8)) == 0) & (brow_lines(lm, shape, brow_width * iod) == 0)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        ((zone > 0) & (lines > contrast) & away).astype(np.uint8), connectivity=8)
    long = np.r_[False, np.maximum(stats[1:, 2], stats[1:, 3]) > min_length * iod]
    return long[labels]
