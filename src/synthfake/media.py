"""Media I/O: images (OpenCV), video decode/encode (PyAV, H.264 yuv420p, AAC), audio (soundfile).

Every failure to read is a `MediaError(path, reason)`. Frames are RGB uint8 arrays (H, W, 3).
Audio is float32 (samples, channels) with its sample rate.
"""

from __future__ import annotations

from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import cv2
import numpy as np

from .errors import MediaError
from .manifest import MediaMeta

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}
AUDIO_EXTS = {".wav", ".flac", ".ogg", ".mp3", ".m4a"}

VIDEO_CODEC = "libx264"
VIDEO_CRF = 18
VIDEO_PRESET = "veryfast"
ENCODER_THREADS = 1  # libx264 frame threads gave different bytes from run to run here
# mbtree's SIMD float path gave different bytes from run to run when decoding ran in the same process
# (measured here: 5 encodes of the same frames, 3 different files); without it, identical. Same speed, ~25%
# larger files at the same CRF.
X264_PARAMS = "mbtree=0"
AUDIO_CODEC = "aac"


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


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(path, "file not found")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")


# ---------------------------------------------------------------- images
def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to RGB uint8."""
    path = Path(path)
    _check_file(path)
    buf = np.frombuffer(path.read_bytes(), np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise MediaError(path, "not a decodable image (corrupt, truncated or wrong format)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless PNG bytes of an RGB image (deterministic)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise MediaError("<memory>", "PNG encoding failed")
    return buf.tobytes()


# ---------------------------------------------------------------- video
def upright(frame: "av.VideoFrame") -> np.ndarray:
    """A decoded frame as RGB, turned as its display matrix says (a phone video shot upright reads upright,
    as ffmpeg's autorotate shows it); PyAV's `rotation` is the matrix's counter-clockwise angle."""
    rgb = frame.to_ndarray(format="rgb24")
    k = round(getattr(frame, "rotation", 0) / 90) % 4
    return np.rot90(rgb, k).copy() if k else rgb.copy()  # copy: PyAV may hand out a view of a reused buffer


def _rotation(c, v) -> int:
    """The display rotation (degrees counter-clockwise) of a video stream, read from its first frame."""
    try:
        for frame in c.decode(v):
            return int(getattr(frame, "rotation", 0))
    except av.error.FFmpegError:
        return 0
    return 0


def _open(path: Path):
    _check_file(path)
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or type(e).__name__
        raise MediaError(path, f"cannot open as media ({why})") from None


@contextmanager
def _video(path: Path):
    """The open container and its first video stream (MediaError when it has none)."""
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(path, "no video stream")
        yield c, c.streams.video[0]


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
        from .media_audio import read_audio  # media_audio reads files through this module

        data, rate = read_audio(path)
        return MediaMeta(kind="audio", width=0, height=0, frames=0, fps=0.0, duration=len(data) / rate,
                         codec=path.suffix.lower().lstrip("."), audio=True)
    with _video(path) as (c, v):
        fps = float(v.average_rate or v.guessed_rate or 0)
        dur = float(v.duration * v.time_base) if v.duration else (c.duration or 0) / 1e6
        frames = v.frames or int(round(dur * fps))
        w, h = v.codec_context.width, v.codec_context.height
        if round(_rotation(c, v) / 90) % 2:  # shown turned a quarter: the frames we read are h x w
            w, h = h, w
        return MediaMeta(kind="video", width=w, height=h, frames=frames, fps=fps, duration=dur,
                         codec=v.codec_context.name, audio=bool(c.streams.audio))


def video_rotation(path: str | Path) -> int:
    """The display rotation of a video (degrees counter-clockwise; frames are read turned upright)."""
    with _video(Path(path)) as (c, v):
        return _rotation(c, v)


def variable_frame_rate(path: str | Path, tolerance: float = 0.1) -> str | None:
    """None for a constant frame rate; else how the frame durations vary. Frames are read in order and
    written at the average rate, so a VFR source is re-timed: the sources index records it (no decoding)."""
    path = Path(path)
    with _open(path) as c:
        v = c.streams.video[0]
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
    with _video(Path(path)) as (_, v):
        return Fraction(v.average_rate or v.guessed_rate or 25)


def iter_frames(path: str | Path, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """Yield RGB frames [start, start+count) in one decoding pass; only kept frames are converted."""
    path = Path(path)
    with _video(path) as (c, stream):
        stream.thread_type = "AUTO"  # threaded H.264 decoding gives the same pixels
        end = None if count is None else start + count
        i = -1
        try:
            for i, frame in enumerate(c.decode(stream)):
                if i < start:
                    continue
                if end is not None and i >= end:
                    return
                yield upright(frame)
        except av.error.FFmpegError as e:
            raise MediaError(path, f"decoding failed at frame {i + 1} ({getattr(e, 'strerror', None) or e})") from None
        if i < 0:
            raise MediaError(path, "no decodable video frame")


def read_frames(path: str | Path, start: int = 0, count: int | None = None) -> list[np.ndarray]:
    """All frames of [start, start+count) as a list; a short read is an error."""
    frames = list(iter_frames(path, start, count))
    if count is not None and len(frames) < count:
        raise MediaError(path, f"truncated: wanted frames {start}..{start + count - 1}, decoded {len(frames)}")
    return frames


def uniform_indices(total: int, k: int) -> list[int]:
    """K frame indices spread evenly over `total` frames (centres of K equal bins); none when total <= 0."""
    k = min(k, total)
    return sorted({int((j + 0.5) * total / k) for j in range(k)})


def count_packets(path: str | Path) -> int:
    """Video packets in the container: the frame count when the header gives none."""
    with _video(Path(path)) as (c, stream):
        return sum(1 for p in c.demux(stream) if p.size)


def iter_frames_at(path: str | Path, wanted: set[int], threads: int | None = None,
                   partial: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame) of the `wanted` frames in one decoding pass (faster than seeking on sparse-keyframe clips).

    A decoding error raises, unless `partial` and frames came already (a truncated video keeps them).
    `threads` sets the decoder's thread count (0: FFmpeg picks; None: PyAV's default).
    """
    path = Path(path)
    if not wanted:
        raise MediaError(path, "no video frames")
    last, got, i = max(wanted), 0, -1
    with _video(path) as (c, stream):
        stream.thread_type = "AUTO"
        if threads is not None:
            stream.codec_context.thread_count = threads
        try:
            for i, frame in enumerate(c.decode(stream)):
                if i in wanted:
                    got += 1
                    yield i, upright(frame)  # as its display matrix says; a copy (PyAV may reuse the buffer)
                if i >= last:
                    break
        except av.error.FFmpegError as e:
            if not (partial and got):
                raise MediaError(path, f"decoding failed at frame {i + 1} ({getattr(e, 'strerror', None) or e})") from None
    if not got:
        raise MediaError(path, "no decodable video frame")


def iter_sampled(path: str | Path, k: int, threads: int | None = None,
                 partial: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """K uniformly spread frames of a video (`uniform_indices`), one decoding pass, one at a time (never all held)."""
    total = probe(path).frames or count_packets(path)
    return iter_frames_at(path, set(uniform_indices(total, k)), threads, partial)


def sample_frames(path: str | Path, k: int) -> list[tuple[int, np.ndarray]]:
    """K uniformly spread frames in one decoding pass, as a list."""
    return list(iter_sampled(path, k))


def frames_of(path: str | Path, k: int, kind: str | None = None, threads: int | None = None,
              partial: bool = False) -> Iterable[tuple[int, np.ndarray]]:
    """The one reader of a file's frames: an image as frame 0, a video as k uniformly spread frames."""
    kind = kind or kind_of(path)
    if kind == "image":
        return [(0, read_image(path))]
    if kind == "video":
        return iter_sampled(path, k, threads, partial)
    raise MediaError(Path(path), "not an image or video file")


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: Fraction | float,
                audio: tuple[np.ndarray, int] | None = None, crf: int | None = None,
                preset: str | None = None) -> int:
    """Encode RGB frames as H.264 yuv420p MP4 at `fps`, with optional AAC audio; returns frames written.

    Odd widths/heights are cropped by one pixel (yuv420p needs even sizes). Settings are module constants
    so that reals and fakes go through exactly the same writer; only a degradation step changes crf/preset.
    """
    path = Path(path)
    fps = Fraction(fps).limit_denominator(1001)
    n = 0
    with av.open(str(path), "w", format="mp4") as out:
        vs = None
        for rgb in frames:
            h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
            if vs is None:
                vs = out.add_stream(VIDEO_CODEC, rate=fps)
                vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
                vs.codec_context.thread_count = ENCODER_THREADS
                vs.options = {"crf": str(VIDEO_CRF if crf is None else crf), "preset": preset or VIDEO_PRESET,
                              "x264-params": X264_PARAMS}
                if audio is not None:
                    ast = out.add_stream(AUDIO_CODEC, rate=audio[1])
                    ast.layout = "mono" if audio[0].shape[1] == 1 else "stereo"
            yuv = cv2.cvtColor(np.ascontiguousarray(rgb[:h, :w]), cv2.COLOR_RGB2YUV_I420)  # BT.601, studio range
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts, frame.time_base = n, 1 / fps  # explicit timestamps: rate control must not depend on timing
            for pkt in vs.encode(frame):
                out.mux(pkt)
            n += 1
        if vs is None:
            raise MediaError(path, "no frames to write")
        for pkt in vs.encode():
            out.mux(pkt)
        if audio is not None:
            from .media_audio import mux_audio  # media_audio reads files through this module

            mux_audio(out, out.streams.audio[0], audio)
    return n
