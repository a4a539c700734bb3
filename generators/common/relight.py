"""Relighting a face warped onto another's landmarks: the other face's colour and shading at low frequencies,
the face's own detail above them, in log RGB (shading multiplies). Used where one face is pasted over another
(landmark_swap, morph)."""

from __future__ import annotations

import cv2
import numpy as np

from synthfake import landmarks as lmk
from synthfake.generators.common import skin
from synthfake.generators.common.warp import hull_mask

SIGMA = 0.25  # face units: what is shading and tone (below) and what is the face's own detail (above)
LIGHT_GAIN = 0.7  # least share of the face's lightness detail kept on a smoother skin (a retouched photo)
SHADOW_FADE = 0.6  # log lightness below the face's own low frequencies at which its colour detail is gone
COLOURLESS = 0.02  # `colourfulness` under which a face is black-and-white or toned (colour faces here: 0.04-0.26)
DARK = 4.0  # added to 8-bit values before the log, so sensor noise in near-black pixels is not magnified
_LOG = np.log(np.arange(256, dtype=np.float32) + DARK)  # log RGB of each 8-bit value (looked up, not recomputed)


def _lowpass(img: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian of `img` weighted by `weight` (normalised convolution): the shading and tone of the weighted
    pixels, carried smoothly over the holes (eyes, brows, mouth, hair). Computed on a copy shrunk so that sigma
    is 4 px there (nothing finer survives the blur; a tenth of the time at full size)."""
    h, w = weight.shape
    f = max(1.0, sigma / 4.0)
    size = (max(1, round(w / f)), max(1, round(h / f)))
    num = cv2.resize(img * weight[..., None], size, interpolation=cv2.INTER_AREA)
    den = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
    low = cv2.GaussianBlur(num, (0, 0), sigma / f) / (cv2.GaussianBlur(den, (0, 0), sigma / f) + 1e-4)[..., None]
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)


def _split(log_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lightness, colour) of a log-RGB image: the channels' mean, and each channel's offset from it."""
    light = _mean3(log_rgb)[..., None]
    return light, log_rgb - light


def _mean3(x: np.ndarray) -> np.ndarray:
    """x.mean(-1) over 3 channels, summed and divided in numpy's order (the same floats), without its slow
    reduction over a short axis."""
    return (x[..., 0] + x[..., 1] + x[..., 2]) / 3


def colourfulness(log_rgb: np.ndarray, mask: np.ndarray) -> float:
    """How much colour varies within mask (mean distance of each pixel's log chromaticity from the mask's
    mean): 0 for a grey photo, high where lips, eyes and skin differ in hue."""
    return _spread(log_rgb[mask > 0])


def colourless(rgb: np.ndarray, lm: np.ndarray) -> float | None:
    """The face's `colourfulness` in its landmark hull when under COLOURLESS (a black-and-white or toned photo),
    else None. Pasting such a face's detail over a colour face keeps the colour face's tone but no colour detail of
    its own: lips as grey as the skin around them."""
    spread = colourfulness(cv2.LUT(rgb, _LOG), hull_mask(lm, rgb.shape[:2]))
    return spread if spread < COLOURLESS else None


def _spread(px: np.ndarray) -> float:
    """`colourfulness` of the masked pixels px (N, 3) of a log-RGB image: their split is the whole image's."""
    if not len(px):
        return 0.0
    c = px - _mean3(px)[:, None]
    e = c - c.mean(0)
    return float(np.sqrt(e[:, 0] * e[:, 0] + e[:, 1] * e[:, 1] + e[:, 2] * e[:, 2]).mean())  # = norm(e, axis=-1)


def _colour_kept(light: np.ndarray, lm: np.ndarray, shape) -> np.ndarray:
    """Share of the source's colour detail kept per pixel: less in its shadows (nostrils, folds: a smiling
    source lit in front of a blue backdrop gave purple nostrils, the fill light's hue), all of it on the lips,
    which are pigment however dark."""
    lips = cv2.GaussianBlur(hull_mask(lm[48:60], shape).astype(np.float32) / 255.0, (0, 0), 2.0)[..., None]
    return np.maximum(np.clip(1.0 + light / SHADOW_FADE, 0.0, 1.0), lips)


def highlights_kneed(light: np.ndarray, knee: float) -> np.ndarray:
    """Lightness detail (log) above `knee` compressed toward 2 * knee (soft, continuous in value and slope): a
    source's specular highlights and pale occluders, laid on another face's shading, turn into bright blotches a
    one-shot swapper, which renders the target's light, never makes. Shadows and lines (negative) are kept."""
    over = np.maximum(light - knee, 0.0)
    return light - over + over / (1.0 + over / knee)


def relight(src: np.ndarray, dst: np.ndarray, lm: np.ndarray, region: np.ndarray, strength: float = 1.0,
            sigma: float = SIGMA, dst_skin: np.ndarray | None = None, knee: float | None = None) -> np.ndarray:
    """`src` (a face warped onto `dst`'s landmarks `lm`) relit and recoloured in log RGB: its low frequencies
    (below `sigma` face units, measured on the skin within boolean `region`) replaced by the target's, so the
    target's tone and shading fall across the source's detail. In log RGB a shadow or a brow is a ratio, so it
    keeps the hue of the skin it falls on: a dark source's shaded sockets are darker pale skin on a pale face,
    not grey or blue bands, and its lips stay red. Lightness detail is scaled down toward the target skin's where
    that is smoother (to no less than LIGHT_GAIN); colour detail by how much less the target face's colour
    varies than the source's (`colourfulness`), so a grey photo stays grey, and less in the source's shadows
    (`_colour_kept`). `strength` < 1 keeps that share of the source's own colours. `dst_skin`: the target's
    `skin.skin_likelihood` on `lm`, where the caller has it already. `knee`: with it, the source's lightness detail
    above `knee` times the target skin's own 99th percentile of it is compressed (`highlights_kneed`): nothing of
    the source much brighter than the target's brightest skin detail.

    Replaces the frequency split in LAB (landmark_swap 2.3, morph 1.4), which added detail in absolute L, a and b:
    on a pale, nearly colourless face the source's brows and sockets showed as grey bands and its lips grey."""
    s_lab = cv2.cvtColor(src, cv2.COLOR_RGB2LAB)
    ws = region * skin.skin_likelihood(s_lab, lm, shaded=True)
    if dst_skin is None:
        dst_skin = skin.skin_likelihood(cv2.cvtColor(dst, cv2.COLOR_RGB2LAB), lm)
    wd = region * dst_skin
    both = (ws > 0.5) & (wd > 0.5)
    if both.sum() < 64:
        return src
    s, d = cv2.LUT(src, _LOG), cv2.LUT(dst, _LOG)
    px = sigma * float(lmk.interocular(lm))
    detail_s, detail_d = s - _lowpass(s, ws, px), d - _lowpass(d, wd, px)
    light_s, colour_s = _split(detail_s)
    light_d = detail_d[both].mean(-1, keepdims=True)  # the target's lightness detail where it is measured
    gain = np.clip((light_d.std() + 0.005) / (light_s[both].std() + 0.005), LIGHT_GAIN, 1.0)
    hull = hull_mask(lm, dst.shape[:2])
    inside = np.flatnonzero(hull)  # colourfulness(d, hull) and (s, hull), gathered as 8 bits, then logged
    colour_gain = min(1.0, _spread(_LOG[dst.reshape(-1, 3)[inside]]) / max(_spread(_LOG[src.reshape(-1, 3)[inside]]),
                                                                           1e-3))
    # out = strength * ((d - detail_d) + gain * light_s + colour_gain * kept * colour_s) + (1 - strength) * s,
    # then back from log RGB: op by op in that order, in place (the same floats, no frame-sized temporaries)
    kept = _colour_kept(light_s, lm, dst.shape[:2])
    if knee is None:
        lit = gain * light_s
    else:  # a highlight's colour (whiter than the skin: bluish in log chroma) goes with its lightness
        c = knee * float(np.percentile(light_d, 99)) + 1e-3
        kneed = highlights_kneed(light_s, c)
        kept = kept * np.where(light_s > c, kneed / np.maximum(light_s, c), 1.0)  # the share of lightness kept
        lit = gain * kneed
    out = np.subtract(d, detail_d, out=detail_d)
    out += lit
    out += np.multiply(colour_gain * kept, colour_s, out=colour_s)
    out *= strength
    out += np.multiply(s, 1.0 - strength, out=s)
    out = np.exp(out, out=out)
    out -= DARK
    out += 0.5
    return np.clip(out, 0, 255, out=out).astype(np.uint8)
