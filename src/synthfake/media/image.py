"""Images: decoded with OpenCV to RGB uint8, written as deterministic PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import MediaError
from .container import check_file


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to RGB uint8."""
    path = Path(path)
    check_file(path)
    buf = np.frombuffer(path.read_bytes(), np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise MediaError(path, "not a decodable image (corrupt, truncated or wrong format)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


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
