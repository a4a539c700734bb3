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

from synthfake import landmarks as lmk

FRAME_MAX = 1.6  # a frame or photo scoring above wears glasses (bare photos here: <= 1.40)
VIDEO_MAX = 1.1  # a video whose median frame score is above shows a person wearing glasses (bare: <= 0.80)


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
