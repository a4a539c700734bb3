"""Reading a video's frames: one decoding loop (`_decode`) behind every reader, RGB uint8 frames turned
upright as the display matrix says, only the kept frames converted. The readers differ only in which frames
they keep: a range (`iter_frames`, `read_frames`), a set (`iter_frames_at`), or K spread frames of an image
or video (`frames_of`). One pass beats seeking on these clips (DESIGN.md: 1-2 keyframes a clip)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import av
import numpy as np

from ..errors import MediaError
from . import sdr
from .container import CUT_SHORT, kind_of, stream_frames, stream_sar, video_stream
from .image import read_image


def upright(frame: "av.VideoFrame", sar: Fraction | None = None, threads: int | None = None) -> np.ndarray:
    """A decoded frame as RGB in square pixels, turned as its display matrix says (a phone video shot upright
    reads upright, as ffmpeg's autorotate shows it); PyAV's `rotation` is the matrix's counter-clockwise angle.
    Non-square pixels (`sar`, `container.stream_sar`) are resampled to the shown width, height kept, bicubic
    as ffmpeg's `scale=iw*sar:ih` does: a face is read with the proportions a viewer sees. An HDR (PQ, HLG)
    or BT.2020 frame is mapped to SDR BT.709 (`sdr.to_sdr`; `_decode` strips its mastering metadata first)."""
    args = {}
    if sar:
        args = {"width": max(1, round(frame.width * sar)), "height": frame.height, "interpolation": "BICUBIC"}
    rgb = sdr.to_sdr(frame, args, threads) if sdr.colour_of(frame) else frame.to_ndarray(format="rgb24", **args)
    k = round(getattr(frame, "rotation", 0) / 90) % 4
    return np.rot90(rgb, k).copy() if k else rgb.copy()  # copy: PyAV may hand out a view of a reused buffer


def _decode(path: Path, keep: Callable[[int], bool], last: int | None, threads: int | None = None,
            to_last: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame) of every decoded frame `keep` accepts, stopping after frame `last` (None: the end);
    `threads` sets the decoder's thread count (0: FFmpeg picks; None: PyAV's default). A decoding error, or with
    `to_last` a stream whose container states a frame count and that ends well before frame `last` (a download
    cut short: threaded decoding just stops there), raises MediaError after the frames that came: a reader that
    keeps them catches it."""
    i, strip = -1, None
    with video_stream(path) as (c, stream):
        sar, to_last = stream_sar(stream), to_last and stream_frames(stream) > 0
        stream.thread_type = "AUTO"  # threaded H.264 decoding gives the same pixels
        if threads is not None:
            stream.codec_context.thread_count = threads
        try:
            for i, frame in enumerate(c.decode(stream)):
                if keep(i):
                    if colour := sdr.colour_of(frame):
                        if not sdr.TONE_MAPS:
                            raise MediaError(path, sdr.refusal(colour))
                        strip = strip or sdr.unmastered(stream)
                        frame = strip(frame)
                    yield i, upright(frame, sar, threads)
                if last is not None and i >= last:
                    break
        except av.error.FFmpegError as e:
            raise MediaError(path,
                             f"decoding failed at frame {i + 2} ({getattr(e, 'strerror', None) or e})") from None
    if i < 0:
        raise MediaError(path, "no decodable video frame")
    if to_last and last is not None and i + 1 < CUT_SHORT * (last + 1):
        raise MediaError(path, f"cut short: its video ends after frame {i + 1}, before frame {last + 1} (a truncated "
                               f"file?)")


def iter_frames(path: str | Path, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """RGB frames [start, start+count) in one decoding pass (count None: to the end)."""
    end = None if count is None else start + count
    if end is not None and end <= start:
        return
    for _, rgb in _decode(Path(path), lambda i: i >= start, None if end is None else end - 1):
        yield rgb


def read_frames(path: str | Path, start: int = 0, count: int | None = None) -> list[np.ndarray]:
    """All frames of [start, start+count) as a list; a short read is an error."""
    frames = list(iter_frames(path, start, count))
    if count is not None and len(frames) < count:
        raise MediaError(path, f"truncated: wanted frames {start}..{start + count - 1}, decoded {len(frames)}")
    return frames


def iter_frames_at(path: str | Path, wanted: set[int], threads: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame) of the `wanted` frames in one decoding pass (faster than seeking on sparse-keyframe
    clips); MediaError when none of them decodes, or, after those that do, when the video ends well before the
    last of them while its container states more frames (cut short)."""
    path = Path(path)
    if not wanted:
        raise MediaError(path, "no video frames")
    got = 0
    for got, item in enumerate(_decode(path, wanted.__contains__, max(wanted), threads, to_last=True), 1):
        yield item
    if not got:
        raise MediaError(path, "no decodable video frame")


def uniform_indices(total: int, k: int) -> list[int]:
    """K frame indices spread evenly over `total` frames (centres of K equal bins); none when total <= 0."""
    k = min(k, total)
    return sorted({int((j + 0.5) * total / k) for j in range(k)})


def frames_of(path: str | Path, k: int, kind: str | None = None, threads: int | None = None,
              total: int | None = None) -> Iterable[tuple[int, np.ndarray]]:
    """(index, RGB frame) of a file: an image as frame 0, a video as K uniformly spread frames in one pass
    (`total`: its frame count as `probe` gave it, where the caller has it: a WebM's is counted by demuxing)."""
    from .probe import probe

    kind = kind or kind_of(path)
    if kind == "image":
        return [(0, read_image(path))]
    if kind == "video":
        return iter_frames_at(path, set(uniform_indices(total or probe(path).frames, k)), threads)
    raise MediaError(Path(path), "not an image or video file")
