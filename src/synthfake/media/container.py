"""Which kind a media file is (by extension; a macOS zip leftover is none), and opening it: every failure is a `MediaError(path, reason)`."""

from __future__ import annotations

from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path, PurePosixPath

import av

from ..errors import MediaError

HEIF_EXTS = {".heic", ".heif"}  # an iPhone's photos: read with libheif (pillow-heif), not OpenCV
IMAGE_EXTS = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".webp", ".tif", ".tiff", ".avif"} | HEIF_EXTS
# AVIF: OpenCV >= 4.9; .jfif and .jpe: JPEGs as Windows browsers save them
VIDEO_EXTS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".gif",  # a GIF: PyAV decodes it as a video
              ".3gp", ".3g2", ".mts", ".m2ts", ".wmv", ".flv"}  # phones, camcorders (AVCHD), old web video; not
# .mpg (MPEG-PS states a duration guessed from its bitrate: 17 of 25 frames) nor .ts (also TypeScript source)
AUDIO_EXTS = {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".opus"}


def kind_of(path: str | Path) -> str | None:
    """Media kind from the file extension, or None for anything else."""
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTS:
        return "image"
    if ext in VIDEO_EXTS:
        return "video"
    if ext in AUDIO_EXTS:
        return "audio"
    return None


MAC_FOLDER = "__MACOSX"  # a zip made by macOS's Finder: resource forks, one AppleDouble `._name` per file
MAC_FILES = (".DS_Store",)


def is_mac_leftover(rel: str) -> bool:
    """Whether a path (relative to the folder scored) is what macOS leaves in a zip: anything under __MACOSX/, an
    AppleDouble `._name` file (a resource fork, not the picture its name ends in), or a Finder .DS_Store."""
    parts = PurePosixPath(rel).parts
    return MAC_FOLDER in parts[:-1] or parts[-1].startswith("._") or parts[-1] in MAC_FILES


def check_file(path: Path) -> None:
    """MediaError when `path` is missing or empty."""
    if not path.exists():
        raise MediaError(path, "file not found")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")


def open_container(path: Path):
    """The file opened with PyAV (a context manager); MediaError naming it when it cannot be opened."""
    check_file(path)
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or type(e).__name__
        raise MediaError(path, f"cannot open as media ({why})") from None


@contextmanager
def video_stream(path: Path):
    """The open container and its first moving video stream (`moving`); MediaError when it has none."""
    with open_container(path) as c:
        if not c.streams.video:
            raise MediaError(path, "no video stream")
        yield c, moving(c.streams.video)


CUT_SHORT = 0.9  # a video that ends before this share of the frames its container promises is cut short


def stream_frames(v) -> int:
    """The frame count the container states for a video stream (MP4 and MOV do; 0 where it states none), or, where
    the stream's own duration holds under CUT_SHORT of it, the duration's: an edit list (`ffmpeg -ss X -c copy`)
    keeps the frames before the cut in the file and the count, and the decoder drops them."""
    fps = float(v.average_rate or v.guessed_rate or 0)
    if v.frames and v.duration and fps:
        shown = int(round(float(v.duration * v.time_base) * fps))
        if shown < CUT_SHORT * v.frames:
            return shown
    return v.frames


def count_packets(path: Path) -> int:
    """The video's packets (its frames): the count where the container states none."""
    with video_stream(Path(path)) as (c, stream):
        return sum(1 for p in c.demux(stream) if p.size)


STILL = av.stream.Disposition.attached_pic | av.stream.Disposition.still_image


def moving(streams) -> "av.VideoStream":
    """The first video stream that is not a picture: a cover or thumbnail muxed in as a video stream (flagged as
    an attached or still picture, or holding one frame) is passed over when a clip follows it; else the first."""
    return next((s for s in streams if not s.disposition & STILL and s.frames != 1), streams[0])


def stream_sar(v) -> Fraction | None:
    """A video stream's sample (pixel) aspect ratio when its pixels are not square (an anamorphic clip: a
    4:3 picture stored 1440 wide for 1920); None for square, unset or implausible (outside 1/4..4) values."""
    sar = v.sample_aspect_ratio  # the container's value, else the codec's (av_guess_sample_aspect_ratio)
    if not sar or sar == 1 or not Fraction(1, 4) <= sar <= 4:
        return None
    return Fraction(sar)


def stream_rotation(c, v) -> int:
    """The display rotation (degrees counter-clockwise) of a video stream, read from its first frame."""
    try:
        for frame in c.decode(v):
            return int(getattr(frame, "rotation", 0))
    except av.error.FFmpegError:
        return 0
    return 0
