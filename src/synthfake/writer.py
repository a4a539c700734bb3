"""The one writer every sample goes through, real or fake: same codec, container and settings.

Images are PNG (lossless); videos are H.264 yuv420p MP4 at the source's fps with AAC audio. A real
is re-encoded exactly like a fake, so that a detector cannot learn "fake = different encoder".
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable

import numpy as np

from . import media
from .errors import SampleFailed


def save_image(stem: Path, rgb: np.ndarray) -> Path:
    path = Path(f"{stem}.png")
    path.write_bytes(media.encode_png(rgb))
    return path


def save_video(stem: Path, frames: Iterable[np.ndarray], fps: Fraction | float,
               audio: tuple[np.ndarray, int] | None = None, *, expected: int, source: str) -> tuple[Path, int]:
    """Write the clip; a clip of other than `expected` frames (a short decode of `source`) fails the sample."""
    path = Path(f"{stem}.mp4")
    n = media.write_video(path, frames, fps, audio)
    if n != expected:
        raise SampleFailed(f"{source}: wrote {n} of {expected} frames")
    return path, n
