"""Writing a video: H.264 yuv420p MP4 with optional AAC audio, one set of settings for reals and fakes alike.

Determinism, measured here: RGB to YUV by OpenCV (not swscale), x264 on one thread and without mbtree (with
it, five encodes of the same frames gave three different files when decoding ran in the same process; ~25 %
larger files at the same CRF, same speed).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable

import av
import cv2
import numpy as np

from ..errors import MediaError
from .audio import mux_audio

VIDEO_CODEC = "libx264"
VIDEO_CRF = 18
VIDEO_PRESET = "veryfast"
ENCODER_THREADS = 1  # libx264 frame threads gave different bytes from run to run here
# mbtree's SIMD float path gave different bytes from run to run when decoding ran in the same process
# (measured here: 5 encodes of the same frames, 3 different files); without it, identical. Same speed, ~25%
# larger files at the same CRF.
X264_PARAMS = "mbtree=0"
AUDIO_CODEC = "aac"


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
            mux_audio(out, out.streams.audio[0], audio)
    return n
