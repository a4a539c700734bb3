"""Whether a face wears glasses, from the edge a glasses bridge draws across the nose between the eyes.

A frame's score is noisy (talk_d12's frames: 0.48-1.63; a bare, frowning or wrinkled face reaches 1.4), so a
person is judged on a video's median over its scanned frames, or a photo's own score at the stricter line.
Measured on ../shared (data and wild reals), 5 scanned frames a video: the two videos with glasses 1.41 and
1.45, the 15 without at most 0.80; photos with glasses 1.34 (a still of talk_d12), 1.82 (of talk_d9) and 0.90
(a wild photo with thin rims: missed), bare photos at most 1.40.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthfake.generators.common import landmarks as lmk
from synthfake.generators.common import skin
from synthfake.generators.common import warp

FRAME_MAX = 1.6  # a frame or photo scoring above wears glasses (bare photos here: <= 1.40)
VIDEO_MAX = 1.1  # a video whose median frame score is above shows a person wearing glasses (bare: <= 0.80)
RIM_CONTRAST = 6.0  # L levels a thin line stands out from its surroundings to count as a rim (on a wearer)
BELOW = 0.5  # face units under the eyes' centre below which a face with glasses is changed, above it left whole
# (lower rims of the two wearers here: at most 0.42 under it)


def score(rgb: np.ndarray, lm: np.ndarray) -> float:
    """Strength of a horizontal edge across the nose bridge between the eyes (a glasses bridge), relative to the
    face's typical gradient. Bare skin there is smooth."""
    m = lmk.similarity(lm[[39, 42, 27, 28]], np.array([[-0.25, 0], [0.25, 0], [0, -0.05], [0, 0.12]]) * 100 + 100)
    g = cv2.cvtColor(cv2.warpAffine(rgb, m.astype(np.float32), (200, 200)), cv2.COLOR_RGB2GRAY).astype(np.float32)
    g = cv2.GaussianBlur(g, (0, 0), 1.0)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0)
    strip = gy[84:118, 88:112]  # bridge: between the inner eye corners, brow level to upper nose
    rows = np.abs(strip.mean(1))  # an edge that runs across the whole width keeps its sign along the row
    face = np.hypot(gx, gy)[60:160, 40:160]
    return float(rows.max() / (np.percentile(face, 75) + 4.0))


def wears(kind: str, value: float | None) -> bool:
    """Whether a source file's glasses score (a video's median, a photo's own; None: not measured) says so."""
    if value is None:
        return False
    return value > (VIDEO_MAX if kind == "video" else FRAME_MAX)


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
