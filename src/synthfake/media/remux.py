"""A written clip's audio, exactly as it was fed to the encoder, and the same clip with other audio (video copied).

FFmpeg's AAC encoder puts `priming` samples before the audio (1024 here) and the stream header gives their count
plus the input's length; decoding returns both, padded to whole frames. `written_audio` cuts them away again, so
re-encoding what it returns keeps the stream's length and its timing against the frames.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from .audio import audio_span, mux_audio
from .container import open_container

AAC_PRIMING = 1024  # samples FFmpeg's AAC encoder puts before the audio (measured: decoded delay 1024)


def written_audio(path: str | Path) -> tuple[np.ndarray, int] | None:
    """The audio fed to the encoder of a clip this project wrote, float32 (samples, channels), or None."""
    return audio_span(path, lambda _rate, total, n: (AAC_PRIMING, (total or n) - AAC_PRIMING))


def with_audio(src: str | Path, dst: str | Path, audio: tuple[np.ndarray, int]) -> None:
    """Write `dst`: the video stream of `src` copied packet by packet, and `audio` encoded as `src`'s was (AAC)."""
    with open_container(Path(src)) as c, av.open(str(dst), "w", format="mp4") as out:
        vin = c.streams.video[0]
        vout = out.add_stream_from_template(vin)
        ain = c.streams.audio[0] if c.streams.audio else None
        ast = out.add_stream(ain.codec_context.name if ain else "aac", rate=audio[1])
        ast.layout = "mono" if audio[0].shape[1] == 1 else "stereo"
        for pkt in c.demux(vin):
            if pkt.dts is None:
                continue
            pkt.stream = vout
            out.mux(pkt)
        mux_audio(out, ast, audio)
