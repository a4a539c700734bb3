"""Self-blended pseudo-fakes made from real face crops during training (Self-Blended Images, CVPR 2022).

A real crop is blended with a colour-, frequency- and slightly geometry-changed copy of itself through a
deformed landmark-hull mask, with the `self_blend` backend's own draws and blending (generators/self_blend.py),
so the detector sees fresh blending boundaries every epoch without a single extra file. The crop's 68
landmarks are fitted inside the face box the crop pipeline grew by its margin (the box sits at
margin / (1 + 2 margin) of the crop on each side), so no landmark is stored with the cached crops.
"""

from __future__ import annotations

import numpy as np

from synthfake import faces
from synthfake.generators import self_blend

TRIES = 4  # a blend that leaves the crop looking unchanged is drawn again, at most this many times


def crop_box(size: int, margin: float) -> tuple[int, int, int, int]:
    """The detector's face box inside a crop of `size` px grown by `margin` on each side (unclipped)."""
    inset = size * margin / (1 + 2 * margin)
    return (round(inset), round(inset), round(size - inset), round(size - inset))


def visible(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a blend changed the crop visibly (the backend's quality gate, on the crop)."""
    return self_blend.visible_share(a, b) >= self_blend.MIN_VISIBLE


def pseudo_fake(crop: np.ndarray, rng: np.random.Generator, margin: float) -> np.ndarray | None:
    """A self-blended copy of a real face crop (uint8 RGB), or None when no visible blend was drawn."""
    crop = np.ascontiguousarray(crop)
    lm = faces.landmarks(crop, crop_box(crop.shape[0], margin))
    for _ in range(TRIES):
        p = self_blend.draw_params(int(rng.integers(2 ** 31)))
        out, _ = self_blend.blend_frame(crop, lm, p)
        if visible(crop, out):
            return out
    return None
