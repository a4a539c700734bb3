"""Which pixels of a face are skin, measured against its own cheeks and nose: used by the backends that must not
paste hair, brows or lips as if they were skin (landmark_swap's masks and colour, morph's facial hair)."""

from __future__ import annotations

import numpy as np

from synthfake.generators.common.warp import hull_mask

CHEEKS = (np.array([1, 2, 3, 31, 39]), np.array([15, 14, 13, 35, 42]), np.array([29, 31, 33, 35]))
SKIN_DARKEST = 0.6  # share of the cheeks' median L below which a pixel is not skin (shadows here: >= 0.6)


def cheeks(shape, lm: np.ndarray) -> np.ndarray:
    """The cheeks-and-nose mask (uint8) that skin colour is measured on."""
    ref = np.zeros(shape, np.uint8)
    for idx in CHEEKS:
        ref |= hull_mask(lm[idx], shape)
    return ref


def skin_likelihood(lab: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Per pixel in [0, 1]: how close the LAB colour is to this face's cheeks and nose (robust mean and spread), and
    not far darker than them (photo_s42: shading spreads its cheeks' L so wide that brown hair passed on colour)."""
    px = lab[cheeks(lab.shape[:2], lm) > 0]
    if len(px) < 32:
        return np.ones(lab.shape[:2], np.float32)
    med = np.median(px, 0)
    spread = 1.4826 * np.median(np.abs(px - med), 0) * np.array([3.0, 2.5, 2.5]) + np.array([10.0, 4.0, 4.0])
    d2 = (((lab - med) / spread) ** 2).sum(-1)
    colour = np.exp(-0.5 * d2 / 2.0)
    # far darker than the cheeks: hair, even where a face's strong shading widens the L spread past it
    dark = np.maximum(SKIN_DARKEST * med[0] - lab[..., 0], 0)
    return (colour * np.exp(-0.5 * (dark / 8.0) ** 2)).astype(np.float32)
