"""Training augmentations that matter for deepfake detection on uint8 RGB crops (numpy / OpenCV).

Competition media is re-encoded, rescaled and colour-shifted on the way to the test set; a detector that
keys on pristine compression traces fails there. Each augmentation fires with its own probability, in the
order media meets them: geometry and resolution, blur, colour, and JPEG re-compression last.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentSettings:
    """Probabilities and ranges of each augmentation."""

    p_flip: float = 0.5
    p_resize: float = 0.3
    scale: tuple[float, float] = (0.35, 0.9)
    p_blur: float = 0.3
    sigma: tuple[float, float] = (0.3, 1.6)
    p_sharpen: float = 0.0  # an unsharp mask (a phone's or an editor's sharpening): more detail than the source had
    sharpen: tuple[float, float] = (0.25, 1.5)  # its amount: the detail (crop minus its 1 px blur) times this
    p_color: float = 0.5
    jitter: float = 0.2  # brightness, contrast and saturation factors in [1 - j, 1 + j]
    p_jpeg: float = 0.5
    quality: tuple[int, int] = (30, 95)
    p_noise: float = 0.0  # Gaussian noise on every channel (a sensor's, at another gain): before the codec
    noise: tuple[float, float] = (1.0, 5.0)  # its standard deviation in 8-bit levels
    p_grey: float = 0.0  # a black-and-white copy: scored on its luma features alone (residual_stats)
    p_h264: float = 0.0  # one intra-coded H.264 frame (instead of JPEG): the codec's deblocked smoothing
    crf: tuple[int, int] = (20, 32)


def down_up(rgb: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Downscale then upscale back (a random interpolation): lost resolution, as after a resize."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    interp = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST)[int(rng.integers(3))]
    return cv2.resize(small, (w, h), interpolation=interp)


def blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of standard deviation `sigma` pixels."""
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def sharpen(rgb: np.ndarray, amount: float, sigma: float = 1.0) -> np.ndarray:
    """Unsharp mask: the crop plus `amount` times its detail (itself minus a Gaussian blur of `sigma` pixels)."""
    x = rgb.astype(np.float32)
    x += amount * (x - cv2.GaussianBlur(x, (0, 0), sigma))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def color_jitter(rgb: np.ndarray, b: float, c: float, s: float) -> np.ndarray:
    """Brightness, contrast and saturation factors (1 = unchanged)."""
    x = rgb.astype(np.float32) * b
    x = (x - x.mean()) * c + x.mean()
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = (x - grey[..., None]) * s + grey[..., None]
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """JPEG re-compression at `quality` (OpenCV's encoder)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) if ok else rgb


def noisy(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """rgb with independent Gaussian noise of `sigma` levels on each pixel and channel, rounded and clipped."""
    return np.clip(rgb + rng.normal(0.0, sigma, rgb.shape) + 0.5, 0, 255).astype(np.uint8)


def grey(rgb: np.ndarray) -> np.ndarray:
    """The crop in black and white (BT.601 luma in all three channels), as an archival or filtered photo."""
    return np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


def h264(rgb: np.ndarray, crf: int) -> np.ndarray:
    """The crop through x264 as one intra frame at `crf` (veryfast, as the dataset writer) and back: an
    H.264 clip's smoothing, which a detector must not read as fake (a real clip re-encoded scored 0.48 -> 0.53)."""
    import av

    h, w = rgb.shape[:2]
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt, enc.time_base = w - w % 2, h - h % 2, "yuv420p", Fraction(1, 25)
    enc.options = {"crf": str(int(crf)), "preset": "veryfast", "threads": "1"}
    packets = enc.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:enc.height, :enc.width]), "rgb24"))
    dec = av.CodecContext.create("h264", "r")
    frames = [f for p in packets + enc.encode(None) for f in dec.decode(p)] + dec.decode(None)
    out = rgb.copy()
    out[:enc.height, :enc.width] = frames[0].to_ndarray(format="rgb24")
    return out


def augment(rgb: np.ndarray, rng: np.random.Generator, a: AugmentSettings = AugmentSettings()) -> np.ndarray:
    """A randomly augmented copy of one crop (same shape, uint8)."""
    x = np.ascontiguousarray(rgb)
    if rng.random() < a.p_flip:
        x = np.ascontiguousarray(x[:, ::-1])
    if rng.random() < a.p_resize:
        x = down_up(x, rng.uniform(*a.scale), rng)
    if rng.random() < a.p_blur:
        x = blur(x, rng.uniform(*a.sigma))
    if a.p_sharpen and rng.random() < a.p_sharpen:
        x = sharpen(x, rng.uniform(*a.sharpen))
    if rng.random() < a.p_color:
        j = a.jitter
        x = color_jitter(x, *rng.uniform(1 - j, 1 + j, size=3))
    if a.p_noise and rng.random() < a.p_noise:
        x = noisy(x, rng.uniform(*a.noise), rng)
    if a.p_grey and rng.random() < a.p_grey:
        x = grey(x)
    if a.p_h264 and rng.random() < a.p_h264:
        x = h264(x, int(rng.integers(a.crf[0], a.crf[1] + 1)))
    elif rng.random() < a.p_jpeg:
        x = jpeg(x, int(rng.integers(a.quality[0], a.quality[1] + 1)))
    return x
