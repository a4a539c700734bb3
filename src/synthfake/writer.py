"""The one writer every sample goes through, real or fake: same codec, container and settings.

Images are PNG (lossless); videos are H.264 yuv420p MP4 at the source's fps with AAC audio, always
resampled to AUDIO_RATE and AUDIO_CHANNELS. A real is re-encoded exactly like a fake, so that a detector
cannot learn "fake = different encoder" (nor "fake = 16 kHz speech" from a lip-sync backend's audio).
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd
from pathlib import Path
from typing import Iterable

import numpy as np

from . import media
from .errors import SampleFailed


def save_image(stem: Path, rgb: np.ndarray) -> Path:
    path = Path(f"{stem}.png")
    path.write_bytes(media.encode_png(rgb))
    return path


AUDIO_RATE = 44100  # the rate of the talking-head sources; speech recordings are often 16 kHz
AUDIO_CHANNELS = 2


def conform_audio(audio: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """Audio (samples, channels) float32 at AUDIO_RATE with AUDIO_CHANNELS (polyphase resampling, scipy)."""
    from scipy.signal import resample_poly

    data, rate = audio
    data = np.asarray(data, np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if rate != AUDIO_RATE:
        g = gcd(int(rate), AUDIO_RATE)
        data = resample_poly(data, AUDIO_RATE // g, int(rate) // g, axis=0).astype(np.float32)
    if data.shape[1] != AUDIO_CHANNELS:
        mono = data.mean(1, keepdims=True)
        data = np.repeat(mono, AUDIO_CHANNELS, 1)
    return np.clip(data, -1.0, 1.0), AUDIO_RATE


def save_video(stem: Path, frames: Iterable[np.ndarray], fps: Fraction | float,
               audio: tuple[np.ndarray, int] | None = None, *, expected: int, source: str) -> tuple[Path, int]:
    """Write the clip; a clip of other than `expected` frames (a short decode of `source`) fails the sample."""
    path = Path(f"{stem}.mp4")
    n = media.write_video(path, frames, fps, conform_audio(audio) if audio is not None else None)
    if n != expected:
        raise SampleFailed(f"{source}: wrote {n} of {expected} frames")
    return path, n
