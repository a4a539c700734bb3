"""Self-blended fakes, after Self-Blended Images (Shiohara & Yamasaki, CVPR 2022): one real face blended with
a slightly altered copy of itself.

From one real frame, a pseudo source is made by colour (hue, saturation, brightness, contrast, per-channel
shift), frequency (down-and-up scaling or sharpening) and small geometric (scale and shift about the face
centre) transforms of the same frame; it is blended into the untouched frame (the pseudo target) through a
landmark hull mask whose points are randomly pushed in or out, then eroded or dilated and blurred, at a drawn
blend ratio. The detector sees only blending boundaries and statistics mismatches, no identity change.
For a video every parameter is drawn once per sample and expressed in face units (inter-ocular distance)
on the temporally smoothed landmarks, so the mask follows the face without flickering. Pixels outside the
blurred mask are the frame's own; the paired real is the very target clip re-encoded.
"""

from __future__ import annotations

import contextlib
import itertools

import cv2
import numpy as np

from synthfake import media
from synthfake import landmarks as lmk
from synthfake.generators.common import warp
from synthfake.generators.common.clips import clip_landmarks, render_clip
from synthfake.errors import SampleFailed
from synthfake.generators import Context, Generated
from synthfake.writer import save_image

TYPE = "face_swap"
VERSION = "1.2"  # 1.2: a draw that casts the face over MAX_CAST_DE from its source, or changes under MIN_VISIBLE
# of the frame, is drawn again (up to CAST_DRAWS times), and a pair's images end with one JPEG encode (FINISH);
# 1.1: a blend that leaves the frame looking unchanged fails its quality gate (drawn again)
ROLES = [("target", "face")]  # one real face is both pseudo source and pseudo target
FINISH = {"image_jpeg": True}  # the blend smooths the photo's JPEG grid in the face: both samples end with one
# drawn JPEG encode (synthfake.finish), so the grid does not tell the fake
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # as in SBI: a full blend half the time
HULLS = ("face68", "inner", "lower")  # which landmarks span the hull
MIN_MASK_PX = 64
VISIBLE_LEVEL = 24  # a pixel visibly changed: a channel moved by more than this (H.264 at CRF 18 moves <= 9)
MIN_VISIBLE = 0.001  # share of the frame visibly changed below which the fake is its real (audit label_noise: 0.0005)
MAX_CAST_DE = 5.0  # CIE76 distance of the blended face's mean colour from the source's: over it, a whole-face cast
CAST_DRAWS = 16  # parameter draws tried before the sample fails (photo_s42: seed 2 passes at its 9th)



def draw_params(seed: int, k: int = 0) -> dict:
    """Every random choice of one sample, drawn once (a video uses the same values on every frame); k > 0: the
    k-th draw again, after earlier ones cast the face's colour too far (`colour_cast`)."""
    rng = np.random.default_rng([seed, 13] + ([k] if k else []))
    freq = str(rng.choice(["downscale", "sharpen", "none"], p=[0.4, 0.3, 0.3]))
    return {
        "hue": round(float(rng.uniform(-8, 8)), 2),  # degrees of OpenCV's 0-180 hue
        "saturation": round(float(rng.uniform(0.85, 1.15)), 3),
        "brightness": round(float(rng.uniform(-0.08, 0.08)), 3),  # share of full scale
        "contrast": round(float(rng.uniform(0.88, 1.12)), 3),
        "rgb_shift": [round(float(v), 2) for v in rng.uniform(-10, 10, 3)],
        "frequency": freq,
        "downscale": round(float(rng.uniform(0.35, 0.8)), 3) if freq == "downscale" else 1.0,
        "sharpen": round(float(rng.uniform(0.3, 1.0)), 3) if freq == "sharpen" else 0.0,
        "scale": round(float(rng.uniform(0.95, 1.05)), 4),
        "shift": [round(float(v), 4) for v in rng.uniform(-0.03, 0.03, 2)],  # in inter-ocular units
        "hull": str(rng.choice(HULLS, p=[0.6, 0.2, 0.2])),
        "deform": [round(float(v), 4) for v in _smooth_circular(rng.normal(0, 0.06, 68), 3)],
        "morph": round(float(rng.uniform(-0.12, 0.12)), 4),  # erode (<0) or dilate (>0), inter-ocular units
        "blur": round(float(rng.uniform(0.04, 0.15)), 4),  # Gaussian sigma, inter-ocular units
        "ratio": float(rng.choice(BLEND_RATIOS)),
        "smooth_sigma": 1.5,
    }


def _smooth_circular(x: np.ndarray, sigma: float) -> np.ndarray:
    """x smoothed with a circular Gaussian: neighbouring landmarks are pushed alike (a bumpy, not spiky, hull)."""
    k = np.arange(-3 * int(sigma), 3 * int(sigma) + 1)
    w = np.exp(-0.5 * (k / sigma) ** 2)
    w /= w.sum()
    return np.array([np.sum(w * x[(i + k) % len(x)]) for i in range(len(x))])


def _hull_points(lm: np.ndarray, how: str) -> np.ndarray:
    if how == "inner":  # brows, eyes, nose, mouth: the jaw line left out
        return lm[17:68]
    if how == "lower":  # from the nose bridge down
        return np.vstack([lm[0:17], lm[28:68]])
    return lm


def blend_mask(lm: np.ndarray, shape: tuple[int, int], p: dict) -> np.ndarray:
    """Soft mask in [0, ratio] (float32, frame-sized): deformed hull, eroded or dilated, blurred, scaled."""
    iod = float(lmk.interocular(lm))
    centre = lm.mean(0)
    pushed = centre + (lm - centre) * (1.0 + np.asarray(p["deform"], np.float32))[:, None]
    hull = cv2.convexHull(np.round(_hull_points(pushed, p["hull"])).astype(np.int32))
    r = int(round(abs(p["morph"]) * iod))
    sigma = max(0.5, p["blur"] * iod)
    # worked out on the hull's box grown by the dilation and a blur kernel: beyond it the blur of zeros is zero,
    # and within it every pixel sees what it sees on the whole frame (the same floats, a fraction of the pixels)
    x0, y0, x1, y1 = warp.grown_box(hull, r + warp.kernel_size(sigma) + 2, shape)
    m = np.zeros(shape[:2], np.float32)
    if x1 <= x0 or y1 <= y0:
        return m
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, hull - np.array([x0, y0], np.int32), 255)
    if r > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        mask = cv2.dilate(mask, k) if p["morph"] > 0 else cv2.erode(mask, k)
    crop = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)
    crop[crop < 1.0 / 512] = 0.0  # the blur's far tail would change pixels by less than a grey level: keep them exact
    m[y0:y1, x0:x1] = crop * float(p["ratio"])
    return m


def _colour_tables(p: dict) -> tuple[np.ndarray, np.ndarray]:
    """`pseudo_source`'s colour changes as per-value tables (cv2.LUT): hue turned and saturation scaled (uint8
    HSV), then contrast, brightness and shift per RGB channel (float32, clipped); the same float ops per value."""
    v = np.arange(256, dtype=np.float32)
    hsv = np.stack([((v + p["hue"]) % 180).astype(np.uint8), np.clip(v * p["saturation"], 0, 255).astype(np.uint8),
                    v.astype(np.uint8)], -1)
    shift = np.asarray(p["rgb_shift"], np.float32)
    rgb = (v[:, None] - 128.0) * p["contrast"] + 128.0 + 255.0 * p["brightness"] + shift
    return hsv[:, None, :], np.clip(rgb, 0, 255)[:, None, :]


def pseudo_source(rgb: np.ndarray, lm: np.ndarray, p: dict) -> np.ndarray:
    """The frame with colour, frequency and small geometric changes (the face that gets blended in)."""
    hsv_table, rgb_table = _colour_tables(p)
    hsv = cv2.LUT(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV), hsv_table)
    img = cv2.LUT(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), rgb_table)
    h, w = rgb.shape[:2]
    if p["frequency"] == "downscale":
        small = cv2.resize(img, (max(8, round(w * p["downscale"])), max(8, round(h * p["downscale"]))),
                           interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    elif p["frequency"] == "sharpen":
        img = np.clip(img + p["sharpen"] * (img - cv2.GaussianBlur(img, (0, 0), 1.5)), 0, 255)
    iod = float(lmk.interocular(lm))
    cx, cy = lm.mean(0)
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), 0.0, p["scale"])
    m[:, 2] += np.asarray(p["shift"]) * iod
    img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return img


def blend_frame(rgb: np.ndarray, lm: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """One self-blended frame and its mask; pixels where the mask is 0 are rgb's, bit for bit."""
    mask = blend_mask(lm, rgb.shape, p)
    if cv2.countNonZero(mask) < MIN_MASK_PX:
        return rgb, mask
    x0, y0, w, h = cv2.boundingRect((mask > 0).view(np.uint8))  # the box of the mask's nonzero pixels
    x1, y1 = x0 + w, y0 + h
    src = pseudo_source(rgb, lm, p)[y0:y1, x0:x1]
    a = mask[y0:y1, x0:x1, None]
    out = rgb.copy()
    blended = warp.blend(src, rgb[y0:y1, x0:x1], a)
    keep = a[..., 0] <= 0
    blended[keep] = rgb[y0:y1, x0:x1][keep]
    out[y0:y1, x0:x1] = blended
    return out, mask


def colour_cast(rgb: np.ndarray, out: np.ndarray, mask: np.ndarray) -> float:
    """CIE76 distance between the mask-weighted mean L*a*b* colour of `out` and of `rgb` (the face's cast)."""
    w = mask[..., None].astype(np.float32)
    if w.sum() <= 0:
        return 0.0
    means = [(cv2.cvtColor(im.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB) * w).sum((0, 1)) / w.sum()
             for im in (rgb, out)]
    return float(np.linalg.norm(means[1] - means[0]))


def visible_share(rgb: np.ndarray, out: np.ndarray) -> float:
    """Share of the frame whose largest channel change exceeds VISIBLE_LEVEL."""
    return float((np.abs(out.astype(np.int16) - rgb).max(2) > VISIBLE_LEVEL).mean())


def settle(rgb: np.ndarray, lm: np.ndarray, seed: int, where: str) -> dict:
    """The first of CAST_DRAWS parameter draws whose blend of this frame casts its face by at most MAX_CAST_DE
    and changes at least MIN_VISIBLE of it (a fake that looks like its real is label noise), the draw index and
    cast recorded; SampleFailed naming both measures when none does."""
    return _settle(rgb, lm, seed, where)[0]


def _settle(rgb: np.ndarray, lm: np.ndarray, seed: int, where: str) -> tuple[dict, np.ndarray]:
    """`settle`'s parameters and the frame they blended (not blended again)."""
    tried = []
    for k in range(CAST_DRAWS):
        p = draw_params(seed, k)
        out, mask = blend_frame(rgb, lm, p)
        cast, share = colour_cast(rgb, out, mask), visible_share(rgb, out)
        tried.append(f"dE {cast:.1f}/{100 * share:.3f}%")
        if cast <= MAX_CAST_DE and share >= MIN_VISIBLE and (mask > 0).sum() >= MIN_MASK_PX:
            return {**p, "draw": k, "cast_de": round(cast, 2)}, out
    raise SampleFailed(f"{where}: no self-blend draw both kept the face's colour within dE {MAX_CAST_DE:g} and "
                       f"changed {100 * MIN_VISIBLE:g}% of the frame by more than {VISIBLE_LEVEL} levels "
                       f"({', '.join(tried)})")


def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    tgt = sources.role("target")
    if tgt.item.kind == "image":
        rgb, lm = media.read_image(tgt.path), tgt.still_face().landmarks
        p, out = _settle(rgb, lm, sample.seed, tgt.item.path)
        return Generated(save_image(out_stem, out), p, 1, 1)

    start, n = sample.params["clip_start"], sample.params["clip_frames"]
    lms = clip_landmarks(tgt, start, n, draw_params(sample.seed)["smooth_sigma"])
    first = next((i for i, lm in enumerate(lms) if lm is not None), None)
    if first is None:
        raise SampleFailed(f"{tgt.item.path}: no face in frames {start}..{start + n - 1}")
    # parameters are the sample's, drawn once: the first face frame speaks for the clip (decoded once: the
    # frames up to it are kept for the clip, and its settled blend is the clip's)
    with contextlib.closing(media.iter_frames(tgt.path, start, n)) as decoded:
        head = list(itertools.islice(decoded, first + 1))
        if len(head) <= first:
            head.append(media.read_frames(tgt.path, start + first, 1)[0])  # a short decode: read_frames says why
        p, settled = _settle(head[first], lms[first], sample.seed, f"{tgt.item.path} frame {start + first}")
        path, written, changed = render_clip(
            out_stem, tgt, start, n, lambda rgb, lm, i: settled if i == first else blend_frame(rgb, lm, p)[0],
            sigma=p["smooth_sigma"], decoded=itertools.chain(head, decoded))
    return Generated(path, p, written, changed)
