"""Training augmentations that matter for deepfake detection on uint8 RGB crops (numpy / OpenCV).

Competition media is re-encoded, rescaled and colour-shifted on the way to the test set; a detector that
keys on pristine compression traces fails there. Each augmentation fires with its own probability, in the
order media meets them: geometry and resolution, blur, colour, and JPEG re-compression last.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    p_color: float = 0.5
    jitter: float = 0.2  # brightness, contrast and saturation factors in [1 - j, 1 + j]
    p_jpeg: float = 0.5
    quality: tuple[int, int] = (30, 95)


def down_up(rgb: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Downscale then upscale back (a random interpolation): lost resolution, as after a resize."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    interp = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST)[int(rng.integers(3))]
    return cv2.resize(small, (w, h), interpolation=interp)


def blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of standard deviation `sigma` pixels."""
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


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


def augment(rgb: np.ndarray, rng: np.random.Generator, a: AugmentSettings = AugmentSettings()) -> np.ndarray:
    """A randomly augmented copy of one crop (same shape, uint8)."""
    x = np.ascontiguousarray(rgb)
    if rng.random() < a.p_flip:
        x = np.ascontiguousarray(x[:, ::-1])
    if rng.random() < a.p_resize:
        x = down_up(x, rng.uniform(*a.scale), rng)
    if rng.random() < a.p_blur:
        x = blur(x, rng.uniform(*a.sigma))
    if rng.random() < a.p_color:
        j = a.jitter
        x = color_jitter(x, *rng.uniform(1 - j, 1 + j, size=3))
    if rng.random() < a.p_jpeg:
        x = jpeg(x, int(rng.integers(a.quality[0], a.quality[1] + 1)))
    return x
