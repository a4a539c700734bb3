"""What backends do around a known wearer's glasses: the zone above the rims they leave whole, and the rims
themselves (thin lines around the eyes). Who wears glasses is the sources index's: `synthfake.glasses`.
"""

from __future__ import annotations

import numpy as np

from synthfake import landmarks as lmk
from synthfake.generators.common import skin
from synthfake.generators.common import warp

RIM_CONTRAST = 6.0  # L levels a thin line stands out from its surroundings to count as a rim (on a wearer)
BELOW = 0.5  # face units under the eyes' centre below which a face with glasses is changed, above it left whole
# (lower rims of the two wearers here: at most 0.42 under it)


def above_rims(shape, lm: np.ndarray) -> np.ndarray:
    """Boolean: the part of an image of `shape` above the line BELOW face units under the eyes' centre (the
    glasses' zone), for backends that change a face with glasses only below it."""
    return lmk.height_above(shape, lm, lm[36:48].mean(0)) > -BELOW * float(lmk.interocular(lm))


def rims(rgb: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Boolean: thin lines lighter or darker than their surroundings by RIM_CONTRAST (over 0.05 face units)
    around the eyes, away from the eyes and brows, in pieces at least 0.25 face units long: the rims of a known
    wearer's glasses. On talk_d9's thin metal rims most of the frame; on talk_d12's blurred clear acetate only
    fragments; on bare faces it also finds creases, so use it on wearers only."""
    iod, up = float(lmk.interocular(lm)), lmk.up_vector(lm)
    zone = warp.hull_mask(np.vstack([lm[[0, 1, 15, 16, 29]], lm[17:27] + up * 0.05 * iod,
                                     lm[[36, 39, 40, 41, 42, 45, 46, 47]] - up * 0.35 * iod]), rgb.shape[:2])
    return skin.thin_lines(rgb, lm, zone, width=0.05, contrast=RIM_CONTRAST, min_length=0.25, light=True,
                           eye_margin=0.04, brow_width=0.16)
