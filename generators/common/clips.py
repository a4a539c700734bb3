"""A target clip re-rendered frame by frame: smoothed per-frame landmarks in, H.264 clip out.

Shared by the backends that edit a target video in place (inswapper, wav2lip, mouth_sync, crop_sync): frames
without a face pass through untouched and are not counted as manipulated; the clip keeps its fps and, unless the
caller gives other audio, its own audio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from synthfake import faces, media
from synthfake import landmarks as lmk
from synthfake.source_files import Source
from synthfake.writer import save_video

FrameFn = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


class Counted:
    """The frames of (frame, changed) pairs, counting the changed ones as the writer draws them (Generated's count)."""

    def __init__(self, pairs: Iterable[tuple[np.ndarray, bool]]):
        self.pairs, self.changed = pairs, 0

    def __iter__(self):
        for frame, did in self.pairs:
            self.changed += did
            yield frame


def save_counted(out_stem: Path, pairs: Iterable[tuple[np.ndarray, bool]], fps, audio, n: int,
                 src: Source) -> tuple[Path, int, int]:
    """Write the frames of (frame, changed) pairs as an edit of `src`'s clip; returns (path, written, changed)."""
    frames = Counted(pairs)
    path, written = save_video(out_stem, frames, fps, audio, expected=n, source=src.item.path)
    return path, written, frames.changed


def clip_landmarks(src: Source, start: int, n: int, sigma: float = 1.0, max_gap: int = 0) -> list[np.ndarray | None]:
    """Temporally smoothed 68 landmarks of frames [start, start + n), None where no face was tracked.

    Missing faces: `faces.track` already carried the box over short detector misses; runs of at most `max_gap`
    still-missing frames are interpolated (`landmarks.fill_gaps`); the rest stay None (a backend that needs a face
    on every frame holds the nearest one: `landmarks.hold_gaps`). Each backend's choice is fixed by its version.
    """
    track = src.track()[start:start + n]
    if max_gap > 0:
        track, _ = lmk.fill_gaps(track, max_gap)
    return faces.smooth_landmarks([None if np.isnan(lm).any() else lm for lm in track], sigma)


def render_clip(out_stem: Path, src: Source, start: int, n: int, fn: FrameFn,
                audio: tuple[np.ndarray, int] | None | str = "source", sigma: float = 1.0,
                decoded: Iterable[np.ndarray] | None = None) -> tuple[Path, int, int]:
    """Write fn(frame, landmarks, i) for each frame with a face (others unchanged); returns (path, written, changed).
    `decoded`: the clip's frames where the caller has begun decoding them already (not decoded twice)."""
    lms = clip_landmarks(src, start, n, sigma)
    decoded = media.iter_frames(src.path, start, n) if decoded is None else decoded
    frames = (rgb if lm is None else fn(rgb, lm, i) for i, (rgb, lm) in enumerate(zip(decoded, lms)))
    fps = media.video_fps(src.path)
    if isinstance(audio, str):
        audio = media.read_audio_of_video(src.path, start / fps, n / fps)
    path, written = save_video(out_stem, frames, fps, audio, expected=n, source=src.item.path)
    return path, written, sum(lm is not None for lm in lms)  # save_video wrote all n frames, or raised
