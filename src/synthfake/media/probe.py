"""What a media file's header says: size as shown (square pixels, turned upright), frames, fps, duration,
codec, audio (a record's `media`), its display rotation and whether its frame rate varies. Audio files are read
whole (their length is the samples)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..shared_types import MediaMeta
from . import sdr
from .audio import read_audio
from .container import count_packets, kind_of, stream_frames, stream_rotation, stream_sar, video_stream
from .image import read_image


def probe(path: str | Path) -> MediaMeta:
    """Read the container's header: size, frame count, fps, duration, codec, audio (a record's `media`)."""
    path = Path(path)
    kind = kind_of(path)
    if kind == "image":
        img = read_image(path)
        fmt = path.suffix.lower().lstrip(".").replace("jpg", "jpeg")
        return MediaMeta(kind="image", width=img.shape[1], height=img.shape[0], frames=1, fps=0.0, duration=0.0,
                         codec=fmt, audio=False)
    if kind == "audio":
        data, rate = read_audio(path)
        return MediaMeta(kind="audio", width=0, height=0, frames=0, fps=0.0, duration=len(data) / rate,
                         codec=path.suffix.lower().lstrip("."), audio=True)
    with video_stream(path) as (c, v):
        fps = float(v.average_rate or v.guessed_rate or 0)
        dur = float(v.duration * v.time_base) if v.duration else (c.duration or 0) / 1e6
        frames = stream_frames(v) or (int(round(dur * fps)) if v.duration else 0)
        w, h = v.codec_context.width, v.codec_context.height
        if sar := stream_sar(v):  # non-square pixels: frames are read at the shown width (frames.upright)
            w = max(1, round(w * sar))
        if round(stream_rotation(c, v) / 90) % 2:  # shown turned a quarter: the frames we read are h x w
            w, h = h, w
        meta = MediaMeta(kind="video", width=w, height=h, frames=frames, fps=fps, duration=dur,
                         codec=v.codec_context.name, audio=bool(c.streams.audio))
    if not frames:  # no count nor stream duration (Matroska, WebM): the container's may be a longer audio track's
        meta.frames = count_packets(path)
        meta.duration = meta.frames / fps if fps else dur
    return meta


def video_sar(path: str | Path) -> Fraction | None:
    """A video's sample aspect ratio when its pixels are not square (frames are read at the shown width), else None."""
    with video_stream(Path(path)) as (_, v):
        return stream_sar(v)


def video_colour(path: str | Path) -> str | None:
    """"PQ", "HLG" or "BT.2020" for a video whose frames are mapped to SDR BT.709 when read (`frames.upright`),
    else None."""
    with video_stream(Path(path)) as (c, v):
        try:
            return next((sdr.colour_of(frame) for frame in c.decode(v)), None)  # the first frame's tags decide
        except av.error.FFmpegError:
            return None


def video_rotation(path: str | Path) -> int:
    """The display rotation of a video (degrees counter-clockwise; frames are read turned upright)."""
    with video_stream(Path(path)) as (c, v):
        return stream_rotation(c, v)


def variable_frame_rate(path: str | Path, tolerance: float = 0.1) -> str | None:
    """None for a constant frame rate; else how the frame durations vary. Frames are read in order and
    written at the average rate, so a VFR source is re-timed: the sources index records it (no decoding)."""
    path = Path(path)
    with video_stream(path) as (c, v):
        pts = sorted(p.pts for p in c.demux(v) if p.pts is not None and p.size)
        fps = float(v.average_rate or v.guessed_rate or 0)
        steps = np.diff(pts) * float(v.time_base) if len(pts) > 2 else np.zeros(0)
    if not len(steps):
        return None
    mid = float(np.median(steps))
    if mid <= 0 or (steps.max() - steps.min()) <= tolerance * mid:
        return None
    return (f"variable frame rate: frame durations {steps.min() * 1000:.1f}-{steps.max() * 1000:.1f} ms; "
            f"read as {len(pts)} frames at a constant {fps:.3f} fps (re-timed)")


def video_fps(path: str | Path) -> Fraction:
    """Exact frame rate of a video's first stream."""
    with video_stream(Path(path)) as (_, v):
        return Fraction(v.average_rate or v.guessed_rate or 25)
