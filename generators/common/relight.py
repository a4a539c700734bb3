"""Relighting a face warped onto another's landmarks: the other face's colour and shading at low frequencies,
the face's own detail above them. Used where one face is pasted over another (landmark_swap, morph)."""

from __future__ import annotations

import cv2
import numpy as np

from synthfake.generators.common import landmarks as lmk
from synthfake.generators.common import skin

COLOUR_SIGMA = 0.25  # face units: what is shading and tone (below) and what is the face's own detail (above)
LIGHT_GAIN = 0.7  # least share of the face's lightness detail kept on a smoother skin (a retouched photo)


def _lowpass(lab: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian of `lab` weighted by `weight` (normalised convolution): the shading and tone of the weighted
    pixels, carried smoothly over the holes (eyes, brows, mouth, hair). Computed on a copy shrunk so that sigma
    is 4 px there (nothing finer survives the blur; a tenth of the time at full size)."""
    h, w = weight.shape
    f = max(1.0, sigma / 4.0)
    size = (max(1, round(w / f)), max(1, round(h / f)))
    num = cv2.resize(lab * weight[..., None], size, interpolation=cv2.INTER_AREA)
    den = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
    low = cv2.GaussianBlur(num, (0, 0), sigma / f) / (cv2.GaussianBlur(den, (0, 0), sigma / f) + 1e-4)[..., None]
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)


def relight(src: np.ndarray, dst: np.ndarray, lm: np.ndarray, region: np.ndarray,
            strength: float = 1.0) -> np.ndarray:
    """`src` (a face warped onto `dst`'s landmarks `lm`) relit and recoloured in LAB: its low frequencies (below
    COLOUR_SIGMA face units, measured on the skin within boolean `region`) replaced by the target's, so the
    target's tone and shading fall across the source's detail. Lightness detail is added, scaled down toward the
    target skin's where that is smoother (to no less than LIGHT_GAIN); colour detail is added scaled by how much
    paler the target skin's colour (a, b about grey) is than the source's there, so a dark source's desaturated
    shadows do not turn blue on a pale face and a grey photo stays grey, while lips and eyes keep their colour.
    `strength` < 1 keeps that share of the source's own colours.

    Replaces per-channel mean/std matching (landmark_swap 2.2, morph 1.3), which left a dim, half-shaded source
    grey-shaded on a bright target, kept a colour face on a black-and-white photo and turned shadows blue."""
    shape = dst.shape[:2]
    s = cv2.cvtColor(src, cv2.COLOR_RGB2LAB).astype(np.float32)
    d = cv2.cvtColor(dst, cv2.COLOR_RGB2LAB).astype(np.float32)
    ws = region * skin.shaded_skin_likelihood(s, lm)
    wd = region * skin.skin_likelihood(d, lm)
    both = (ws > 0.5) & (wd > 0.5)
    if both.sum() < 64:
        return src
    sigma = COLOUR_SIGMA * float(lmk.interocular(lm))
    low_s, low_d = _lowpass(s, ws, sigma), _lowpass(d, wd, sigma)
    gain = np.clip(((d - low_d)[both][:, 0].std() + 0.5) / ((s - low_s)[both][:, 0].std() + 0.5), LIGHT_GAIN, 1.0)
    paler = np.clip(np.abs(low_d[..., 1:] - 128) / np.maximum(np.abs(low_s[..., 1:] - 128), 2.0), 0.0, 1.0)
    out = low_d + np.dstack([np.full(shape, gain), paler]) * (s - low_s)
    out = strength * out + (1.0 - strength) * s
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
