"""Which pixels of a face are skin, measured against its own cheeks and nose: used by the backends that must not
paste hair, brows or lips as if they were skin (landmark_swap's masks and colour, morph's facial hair)."""

from __future__ import annotations

import numpy as np

from synthfake.generators.common.warp import hull_mask

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
    px = lab[cheeks(lab.shape[:2], lm) > 0]
    if len(px) < 32:
        return None
    med = np.median(px, 0)
    return med, 1.4826 * np.median(np.abs(px - med), 0) * np.array([3.0, 2.5, 2.5]) + np.array([10.0, 4.0, 4.0])


def skin_likelihood(lab: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Per pixel in [0, 1]: how close the LAB colour is to this face's cheeks and nose (robust mean and spread), and
    not far darker than them (photo_s42: shading spreads its cheeks' L so wide that brown hair passed on colour)."""
    ref = _reference(lab, lm)
    if ref is None:
        return np.ones(lab.shape[:2], np.float32)
    med, spread = ref
    d2 = (((lab - med) / spread) ** 2).sum(-1)
    colour = np.exp(-0.5 * d2 / 2.0)
    # far darker than the cheeks: hair, even where a face's strong shading widens the L spread past it
    dark = np.maximum(SKIN_DARKEST * med[0] - lab[..., 0], 0)
    return (colour * np.exp(-0.5 * (dark / 8.0) ** 2)).astype(np.float32)


def shaded_skin_likelihood(lab: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Like `skin_likelihood` on chroma alone, so a cheek in deep shadow still counts (still_talk_d20's shaded
    side is 0.25 of its cheeks' L): where a face's colour and shading are measured. Near-black stays out."""
    ref = _reference(lab, lm)
    if ref is None:
        return np.ones(lab.shape[:2], np.float32)
    med, spread = ref
    d2 = (((lab[..., 1:] - med[1:]) / spread[1:]) ** 2).sum(-1)
    return (np.exp(-0.5 * d2 / 2.0) * (lab[..., 0] > SHADOW_DARKEST * med[0])).astype(np.float32)
