"""HDR (PQ, HLG) and BT.2020 video frames as an ordinary SDR screen shows them: FFmpeg 8's swscale maps tone and
gamut to BT.709, fed frames without their mastering metadata. Read as stored, such a frame is grey and flat (PQ)
or pale (HLG), unlike anything a detector is shown; phones record HDR by default."""

from __future__ import annotations

import threading
from typing import Callable

import av
import numpy as np
from av.video.reformatter import VideoReformatter

# 9.5 measured; 9.1 (PyAV 17.0) takes the arguments and maps nothing
TONE_MAPS = av.library_versions.get("libswscale", (0,)) >= (9, 5)
SDR = {"dst_color_trc": 1, "dst_color_primaries": 1}  # BT.709
MASTERING = ("MASTERING_DISPLAY_METADATA", "CONTENT_LIGHT_LEVEL")

HDR_TRANSFERS = {16: "PQ", 18: "HLG"}  # AVColorTransferCharacteristic: SMPTE ST 2084, ARIB STD-B67
BT2020 = 9  # AVColorPrimaries

_KEPT = threading.local()  # per thread: one reformatter and what it was built for


def colour_of(frame: "av.VideoFrame") -> str | None:
    """"PQ" or "HLG" for an HDR frame, "BT.2020" for a wide-gamut SDR one, None for the rest (read as stored): by
    the frame's own tags, which a container's may contradict."""
    if frame.color_trc in HDR_TRANSFERS:
        return HDR_TRANSFERS[frame.color_trc]
    return "BT.2020" if frame.color_primaries == BT2020 else None


def unmastered(stream: "av.VideoStream") -> Callable[["av.VideoFrame"], "av.VideoFrame"]:
    """frame -> the same frame without mastering-display and content-light-level side data (ffmpeg's `sidedata`
    filter). With them swscale maps the master's peak to SDR white: an HDR10 clip mastered at 1000 nits read half
    as bright as the SDR frames it was made from (51 levels off); without, 3 levels off, as a TV shows it."""
    graph = av.filter.Graph()
    chain = [graph.add_buffer(template=stream)]
    chain += [graph.add("sidedata", f"mode=delete:type={kind}") for kind in MASTERING]
    chain.append(graph.add("buffersink"))
    for a, b in zip(chain, chain[1:]):
        a.link_to(b)
    graph.configure()

    def strip(frame: "av.VideoFrame") -> "av.VideoFrame":
        graph.push(frame)
        return graph.pull()
    return strip


def to_sdr(frame: "av.VideoFrame", args: dict, threads: int | None = None) -> np.ndarray:
    """`frame` as SDR BT.709 RGB (reformat `args`: a resize) through the thread's one kept reformatter: swscale
    builds its mapping once per context (~1.7 s here; a 4K one holds ~180 MB and its own threads), then maps a
    512 px frame in ~5 ms. One is kept, not one per shape: a clip's frames share one."""
    key = (frame.width, frame.height, frame.format.name, frame.colorspace, frame.color_range, frame.color_trc,
           frame.color_primaries, tuple(args.items()), threads)
    if getattr(_KEPT, "key", None) != key:
        _KEPT.key, _KEPT.reformatter = key, VideoReformatter()
    return _KEPT.reformatter.reformat(frame, format="rgb24", threads=threads, **SDR, **args).to_ndarray()


def refusal(colour: str) -> str:
    """Why a frame of `colour` ("PQ", "HLG", "BT.2020") cannot be read with this PyAV's swscale."""
    have = ".".join(map(str, av.library_versions.get("libswscale", ())))
    return (f"{colour} video: reading it as an ordinary screen shows it needs FFmpeg 8's swscale (libswscale >= 9.5, "
            f"in PyAV >= 18's wheels); this PyAV links {have}")
