"""Images: decoded with OpenCV to RGB uint8 (HEIC, a phone's default, with libheif), written as deterministic PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import MediaError
from .container import HEIF_EXTS, check_file

ALPHA_EXTS = {".png", ".webp", ".tif", ".tiff", ".gif"}  # formats that may carry opacity (read over white)

try:  # HEIC/HEIF through Pillow too (a JPEG-history check opens a base photo with Pillow)
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # an install without it reads every other format
    register_heif_opener = None


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to RGB uint8, upright as a viewer shows it (EXIF orientation; HEIF's own rotation)."""
    path = Path(path)
    check_file(path)
    if path.suffix.lower() in HEIF_EXTS:
        return _read_heif(path)
    buf = np.frombuffer(path.read_bytes(), np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:  # a HEIC saved as .jpg (a phone's export) or another format Pillow knows under a wrong name
        return _read_pil(path)
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    alpha = _alpha(path) if path.suffix.lower() in ALPHA_EXTS else None
    if alpha is None or alpha.shape[:2] != rgb.shape[:2]:
        return rgb
    return (rgb * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)  # over white, as a viewer shows it


def _alpha(path: Path) -> np.ndarray | None:
    """The image's opacity (H, W, 1) in 0..1 where any pixel is see-through, else None. OpenCV's colour decode
    drops alpha and shows what lies under it (often black, or a cut-out's old background): a portrait cut out
    onto transparency was read on black, in reals and fakes alike."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            if im.mode not in ("RGBA", "LA", "PA", "La", "RGBa") and "transparency" not in im.info:
                return None
            a = np.asarray(ImageOps.exif_transpose(im).convert("RGBA"))[..., 3]
    except (OSError, ValueError, SyntaxError):
        return None  # OpenCV decoded it: read as it did
    return None if a.min() == 255 else (a.astype(np.float32) / 255.0)[..., None]


def _pil_rgb(path: Path) -> np.ndarray:
    """The image as Pillow decodes it, upright (its EXIF orientation applied), in RGB."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _read_pil(path: Path) -> np.ndarray:
    """What OpenCV could not decode, read by Pillow (HEIF too, where pillow-heif is installed), upright."""
    from PIL import Image

    try:
        return _pil_rgb(path)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise MediaError(path, "not a decodable image (corrupt, truncated or wrong format)") from None


def _read_heif(path: Path) -> np.ndarray:
    """A HEIC/HEIF still (an iPhone's photo: HEVC-coded) via libheif, which OpenCV cannot decode."""
    if register_heif_opener is None:
        raise MediaError(path, "a HEIC/HEIF image needs pillow-heif (pip install pillow-heif)")
    try:
        return _pil_rgb(path)
    except (OSError, ValueError, SyntaxError) as e:
        raise MediaError(path, f"not a decodable HEIF image ({str(e).splitlines()[0] if str(e) else type(e).__name__})")


def image_frames(path: str | Path) -> int:
    """How many frames an image file holds (an animated WebP or PNG more than one, of which `read_image` gives
    the first); 1 where Pillow cannot say."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    except (OSError, ValueError):
        return 1


def write_png(stem: str | Path, rgb: np.ndarray) -> Path:
    """Write `rgb` as STEM.png (the one image format every sample leaves the writer in); returns the path."""
    path = Path(f"{stem}.png")
    path.write_bytes(encode_png(rgb))
    return path


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless PNG bytes of an RGB image (deterministic)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise MediaError("<memory>", "PNG encoding failed")
    return buf.tobytes()


def fit_within(rgb: np.ndarray, max_side: int, even: bool = False) -> np.ndarray:
    """`rgb` scaled down (INTER_AREA) so its long side is at most `max_side`, unchanged when it already is; `even`:
    each side rounded down to an even number (what H.264 needs). One rule, so a fake and its real come out alike."""
    k = min(1.0, max_side / max(rgb.shape[:2]))
    if k >= 1.0:
        return rgb
    w, h = round(rgb.shape[1] * k), round(rgb.shape[0] * k)
    return cv2.resize(rgb, (w // 2 * 2, h // 2 * 2) if even else (w, h), interpolation=cv2.INTER_AREA)
