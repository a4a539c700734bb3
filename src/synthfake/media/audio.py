"""Audio: reading speech files and a video's audio track, and muxing audio into a written video."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf

from ..errors import MediaError
from .container import check_file, open_container


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode an audio file to float32 (samples, channels): libsndfile (WAV, FLAC, Ogg, MP3), else FFmpeg (AAC in
    .m4a, as phones' voice memos are: libsndfile reads no AAC)."""
    path = Path(path)
    check_file(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        try:
            got = decode_audio(path)
        except (MediaError, av.error.FFmpegError):
            got = None
        if got is None:
            raise MediaError(path, f"not a readable audio file ({e})") from None
        data, rate, _ = got
    if len(data) == 0:
        raise MediaError(path, "audio file holds no samples")
    if data.shape[1] > 2:
        raise MediaError(path, f"{data.shape[1]} audio channels; speech sources must be mono or stereo "
                               f"(downmix it, e.g. ffmpeg -i IN -ac 1 OUT.wav)")
    return data, rate


def decode_audio(path: str | Path) -> tuple[np.ndarray, int, int | None] | None:
    """A file's first audio track decoded whole: float32 (samples, channels), its rate and the stream's declared
    duration (in its time base: samples, for the audio this project writes), or None without audio."""
    path = Path(path)
    with open_container(path) as c:
        if not c.streams.audio:
            return None
        a = c.streams.audio[0]
        rate, total = a.codec_context.sample_rate, a.duration
        layout = "mono" if a.codec_context.channels == 1 else "stereo"
        res = av.AudioResampler(format="fltp", layout=layout, rate=rate)  # passes fltp through untouched
        chunks = []
        try:
            for frame in c.decode(a):
                chunks.extend(f.to_ndarray() for f in res.resample(frame))
        except av.error.FFmpegError as e:
            raise MediaError(path, f"audio decoding failed ({getattr(e, 'strerror', None) or e})") from None
    if not chunks:
        return None
    return np.concatenate(chunks, axis=1).T.astype(np.float32), rate, total


def audio_span(path: str | Path, span) -> tuple[np.ndarray, int] | None:
    """A stretch of a file's decoded audio, float32 (samples, channels), with its rate; None without audio.
    `span(rate, total, decoded)` gives (first sample, count) from the rate and the header's and decoded lengths."""
    got = decode_audio(path)
    if got is None:
        return None
    data, rate, total = got
    s0, n = span(rate, total, len(data))
    return data[s0:s0 + n], rate


def read_audio_of_video(path: str | Path, start_s: float, dur_s: float) -> tuple[np.ndarray, int] | None:
    """Audio track of a video over [start_s, start_s + dur_s) as float32 (samples, channels), or None."""
    return audio_span(path, lambda rate, _total, _n: (int(round(start_s * rate)), int(round(dur_s * rate))))


def mux_audio(out, stream, audio: tuple[np.ndarray, int]) -> None:
    """Encode float32 (samples, channels) audio into `stream` of the open output container `out`."""
    data, rate = audio
    planar = np.ascontiguousarray(data.T.astype(np.float32))
    layout = "mono" if planar.shape[0] == 1 else "stereo"
    fifo = av.AudioFifo()
    frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
    frame.sample_rate, frame.pts = rate, 0
    fifo.write(frame)
    size = stream.codec_context.frame_size or 1024
    while fifo.samples:
        chunk = fifo.read(min(size, fifo.samples), partial=True)
        for pkt in stream.encode(chunk):
            out.mux(pkt)
    for pkt in stream.encode():
        out.mux(pkt)
