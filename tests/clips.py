"""Test clips written from RGB frames: plain H.264 with a stream or container setting (rotation, pixel aspect,
faststart), and HDR clips made from SDR frames as BT.2408 maps SDR into HDR (SDR white at 203 nits, BT.1886
display gamma 2.4, BT.709 primaries into BT.2020), 10-bit H.264 tagged as phones tag them: what
`media.frames.upright` must bring back to (about) the SDR frames."""

from __future__ import annotations

import av
import numpy as np

TRANSFERS = {"PQ": 16, "HLG": 18}  # AVColorTransferCharacteristic
BT709_TO_BT2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])
HLG_A, HLG_B, HLG_C = 0.17883277, 0.28466892, 0.55991073  # BT.2100
PQ_M1, PQ_M2, PQ_C1, PQ_C2, PQ_C3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875  # ST 2084


def h264_clip(path, frames, size: tuple[int, int], setup=None, options: dict | None = None, audio=None) -> None:
    """An H.264 clip of RGB `frames` resized to `size` (w, h), its stream given `setup` before the first frame,
    the container opened with `options` (e.g. movflags=faststart); `audio` (float32 (samples, 1), rate) as AAC."""
    import cv2

    from synthfake import media

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options=options or {}) as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = *size, "yuv420p"
        if setup:
            setup(s)
        sound = out.add_stream("aac", rate=audio[1], layout="mono") if audio else None
        for f in frames:
            f = f if f.shape[1::-1] == tuple(size) else cv2.resize(f, size, interpolation=cv2.INTER_AREA)
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        out.mux(s.encode())
        if sound:
            media.mux_audio(out, sound, audio)


def _signal(rgb8: np.ndarray, transfer: str) -> np.ndarray:
    """SDR RGB uint8 -> the transfer's BT.2020 R'G'B' signal in 16 bits."""
    nits = 203.0 * ((rgb8.astype(np.float64) / 255.0) ** 2.4) @ BT709_TO_BT2020.T
    if transfer == "PQ":
        y = np.clip(nits / 10000.0, 0, 1) ** PQ_M1
        v = ((PQ_C1 + PQ_C2 * y) / (1 + PQ_C3 * y)) ** PQ_M2
    else:  # HLG: the inverse of its 1000-nit display's OOTF (system gamma 1.2), then its OETF
        ys = (np.maximum(nits @ np.array([0.2627, 0.6780, 0.0593]), 1e-9) / 1000.0) ** (1 / 1.2)
        e = np.clip(nits / (1000.0 * ys[..., None] ** 0.2), 0, 1)
        v = np.where(e <= 1 / 12, np.sqrt(3 * e), HLG_A * np.log(np.maximum(12 * e - HLG_B, 1e-12)) + HLG_C)
    return np.round(np.clip(v, 0, 1) * 65535).astype(np.uint16)


def hdr_clip(path, frames, transfer: str, fps: int = 25, mastered: int = 0, setup=None) -> None:
    """Write SDR RGB `frames` as a 10-bit BT.2020 `transfer` ("PQ" or "HLG") H.264 clip at `path`; with
    `mastered` (nits), an HEVC HDR10 clip whose frames carry mastering-display and light-level metadata of that
    peak, as an HDR10 camera or grade writes them; `setup(stream)` before the first frame."""
    frames = list(frames)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx265" if mastered else "libx264", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt, s.options = "yuv420p10le", {"crf": "16", "preset": "veryfast"}
        if mastered:
            s.options = {"crf": "16", "preset": "ultrafast", "x265-params": (
                "log-level=error:hdr10=1:repeat-headers=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:"
                f"master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L({mastered * 10000},1):"
                f"max-cll={mastered},{mastered // 2}")}
        if setup:
            setup(s)
        tags = {"colorspace": 9, "color_primaries": 9, "color_range": 1, "color_trc": TRANSFERS[transfer]}
        for k, v in tags.items():
            setattr(s.codec_context, k, v)
        for rgb in frames:
            f = av.VideoFrame.from_ndarray(_signal(rgb, transfer), format="rgb48le")
            f = f.reformat(format="yuv420p10le", dst_colorspace="bt2020", dst_color_range=1)
            for k, v in tags.items():
                setattr(f, k, v)
            out.mux(s.encode(f))
        out.mux(s.encode())
