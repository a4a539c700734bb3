"""Weights-free lip sync: a target talking-head video re-mouthed to a speech recording of someone else.

Per video frame, the speech envelope in the voice band (log energy over that frame's window, scaled
between the segment's quiet and loud levels) sets the inner-lip gap, from lips slightly apart in pauses
(`rest_open`) to wide open (`max_open`, in inter-ocular units); where that is within `min_change_px` of
the frame's own gap, the gap still changes by that much, so that no frame with a face passes through
untouched. The lower lip and jaw move along the face's vertical axis, the upper lip a little; the frame
is warped piecewise-affinely only inside a mouth-jaw region whose border points stay fixed, blended with
a feathered mask, and a mouth interior is painted where the mouth opens wider than in the original
frame. The new audio is muxed in as AAC.
Length: by default a seeded segment of the audio is cut to the target clip (`trim_audio`); with
`loop_video` the clip is played forwards and backwards to the audio's full length.
"""

from __future__ import annotations

import numpy as np

from synthfake import media
from synthfake.generators.common import clips, dub, warp
from synthfake import landmarks as lmk
from synthfake.errors import SampleFailed, require_one_of
from synthfake.generators import Context, Generated
from synthfake.writer import conform_audio

TYPE = "lip_sync"
VERSION = "1.2"  # 1.2: the encoder fed the clip's whole audio, as the real's is (no priming cut); the speech is
# dubbed to the target clip's own audio (its level, stereo width, rate and channels: `dub`) and the pair's audio
# band-limited alike (FINISH); 1.1: textured mouth interior (shaded cavity, tongue, tooth seams, grain)
FINISH = {"audio_band_hz": 8000}  # 16 kHz speech recordings: the pair's audio band-limited alike (synthfake.finish)
MAX_GAP = 3
LOWER_FACE = np.r_[2:15, 30:36, 48:68]  # landmarks inside the warped region
LENGTH_MODES = ("trim_audio", "loop_video")
SILENCE_DBFS = -60.0
ACTIVE_LEVEL = 0.2  # a frame is voiced when its envelope is above this
MIN_MOVE_PX = 1.0  # a frame whose landmarks move less than this is left as is, and not counted
AAC_PRIMING = 1024  # samples FFmpeg's AAC encoder puts before the audio (measured: decoded delay 1024)


def _params(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"band_hz": [300, 3400], "window_frames": 2.0, "quiet_pct": 10, "loud_pct": 95,
            "max_open": round(float(rng.uniform(0.3, 0.42)), 3), "rest_open": round(float(rng.uniform(0.0, 0.05)), 3),
            "min_change_px": 1.5, "up_share": 0.15,
            "region_scale": 1.25, "region_drop": 0.45, "feather_px": 4, "smooth_sigma": 1.0,
            "teeth": warp.draw_teeth(rng), "min_speech_share": 0.9, "offset_u": float(rng.random())}



def envelope(mono: np.ndarray, rate: int, fps: float, frames: int, band: tuple[float, float],
             window_frames: float = 2.0, quiet_pct: float = 10, loud_pct: float = 95) -> np.ndarray:
    """Per video frame, voice-band level (dBFS) over a Hann window centred on the frame, scaled to [0, 1]
    between the segment's quiet and loud percentiles; anything under SILENCE_DBFS counts as closed."""
    win = max(32, int(round(window_frames * rate / fps)))
    nfft = 1 << (win - 1).bit_length()
    freqs = np.fft.rfftfreq(nfft, 1 / rate)
    keep = (freqs >= band[0]) & (freqs <= band[1])
    pad = np.pad(mono.astype(np.float64), (win, win))
    hann = np.hanning(win)
    norm = 2.0 / (nfft * (hann**2).sum())  # Parseval: band mean-square of the windowed signal
    db = np.empty(frames)
    for k in range(frames):
        c = win + int(round((k + 0.5) * rate / fps))
        seg = pad[c - win // 2:c - win // 2 + win] * hann
        db[k] = 10 * np.log10(norm * (np.abs(np.fft.rfft(seg, nfft))[keep] ** 2).sum() + 1e-12)
    lo, hi = np.percentile(db, [quiet_pct, loud_pct])
    if hi < SILENCE_DBFS:
        return np.zeros(frames)
    lo = max(lo, SILENCE_DBFS)
    return np.clip((db - lo) / max(hi - lo, 1e-6), 0, 1)


def speech_offset(mono: np.ndarray, rate: int, fps: float, n_out: int, u: float, p: dict) -> tuple[float, float]:
    """A seeded start (seconds) for an n_out-frame audio segment, drawn (by u in [0, 1)) among the starts
    whose frames are voiced on at least min_speech_share (or, where none is, within 0.1 of the most voiced).
    Returns the start and its voiced share (frames above ACTIVE_LEVEL of the whole file's envelope)."""
    total = int(len(mono) / rate * fps)
    env = envelope(mono, rate, fps, total, tuple(p["band_hz"]), p["window_frames"], p["quiet_pct"], p["loud_pct"])
    if n_out >= total:
        return 0.0, round(float(np.mean(env > ACTIVE_LEVEL)), 3)
    share = np.convolve(env > ACTIVE_LEVEL, np.ones(n_out) / n_out, mode="valid")  # start k covers k..k+n_out-1
    ok = np.nonzero(share >= min(p["min_speech_share"], share.max() - 0.1))[0]
    k = int(ok[int(u * len(ok))])
    return k / fps, round(float(share[k]), 3)


def region_anchors(lm: np.ndarray, scale: float, drop: float) -> np.ndarray:
    """Fixed points bounding the mouth-jaw region: the jaw line pushed out from the nose tip by `scale`
    and down by `drop` face units at the chin (room for the jaw to open), plus the nose bridge."""
    iod = float(lmk.interocular(lm))
    down = -lmk.up_vector(lm) * iod * drop
    jaw = lm[1:16]
    w = np.array([lmk.OPEN_WEIGHTS.get(k, 0.0) for k in range(1, 16)])[:, None]
    ring = lm[30] + (jaw - lm[30]) * scale + w * down
    return np.vstack([ring, lm[[29]]]).astype(np.float32)


def resync(rgb: np.ndarray, lm: np.ndarray, target_gap: float, p: dict) -> tuple[np.ndarray, bool]:
    """One frame with its inner-lip gap set to target_gap pixels (moved at least min_change_px); False when
    the frame was left as is (no landmark would move by MIN_MOVE_PX, or the region is degenerate)."""
    cur = max(0.0, float(lmk.mouth_gap(lm)))
    change = target_gap - cur
    if abs(change) < p["min_change_px"]:  # the audio asks for the mouth the frame already has: move it anyway
        change = -p["min_change_px"] if change < 0 and cur >= p["min_change_px"] else p["min_change_px"]
    target_gap = cur + change
    new = lmk.open_mouth(lm, change, p["up_share"])
    if np.abs(new - lm).max() < MIN_MOVE_PX:
        return rgb, False
    anchors = region_anchors(lm, p["region_scale"], p["region_drop"])
    src = np.vstack([lm[LOWER_FACE], anchors])
    dst = np.vstack([new[LOWER_FACE], anchors])
    opened = lmk.open_mouth(lm, 0.18 * float(lmk.interocular(lm)) - cur, 0.3)
    tris = warp.delaunay(np.vstack([opened[LOWER_FACE], anchors]))
    h, w = rgb.shape[:2]
    x0, y0 = np.floor(np.vstack([src, dst]).min(0)).astype(int).clip(0)
    x1, y1 = np.ceil(np.vstack([src, dst]).max(0)).astype(int) + 1
    x1, y1 = min(x1, w), min(y1, h)
    if x1 - x0 < 8 or y1 - y0 < 8 or len(tris) == 0:
        return rgb, False
    patch, covered = warp.warp_region(rgb, src, dst, tris, (x0, y0, x1, y1))
    alpha = warp.feather(covered, p["feather_px"])[..., None]
    out = warp.paste(rgb, (x0, y0, x1, y1), patch, alpha)
    if target_gap > cur + 1.0:
        out = warp.fill_mouth(out, new, (target_gap - cur) / target_gap, p["teeth"],
                              tuple(p.get("cavity", warp.CAVITY)))
    return out, True


def _frame_order(n_clip: int, n_out: int) -> np.ndarray:
    """Clip frame indices played forwards then backwards until n_out frames."""
    cycle = np.r_[np.arange(n_clip), np.arange(n_clip - 2, 0, -1)] if n_clip > 2 else np.arange(n_clip)
    return np.resize(cycle, n_out)


def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    tgt, aud = sources.role("target"), sources.role("audio")
    p = _params(sample.seed)
    p["length_mode"] = sample.params.get("length_mode", "trim_audio")
    require_one_of(p["length_mode"], LENGTH_MODES, f"length_mode {p['length_mode']!r}: expected one of ", SampleFailed)
    start, n_clip = sample.params["clip_start"], sample.params["clip_frames"]
    fps = media.video_fps(tgt.path)
    data, rate = media.read_audio(aud.path)
    total = len(data) / rate
    u = p.pop("offset_u")
    n_out = min(n_clip, int(total * fps)) if p["length_mode"] == "trim_audio" else int(total * fps)
    offset, p["speech_share"] = speech_offset(data.mean(1), rate, float(fps), n_out, u, p)
    if p["speech_share"] <= 0:  # lips moved to silence teach a detector nothing about lip sync
        raise SampleFailed(f"{aud.item.path}: no voice activity in the {n_out / float(fps):.2f}s of audio for this "
                           f"clip (speech_share 0); lip sync needs speech")
    s0 = int(round(offset * rate))
    seg = data[s0:s0 + int(round(n_out / fps * rate))]
    if n_out < 1 or len(seg) <= 2 * AAC_PRIMING:
        raise SampleFailed(f"{aud.item.path}: {len(seg) / rate:.3f}s of audio for {n_out} frame(s) at {float(fps):g} "
                           f"fps is too short to mux (needs over {2 * AAC_PRIMING} samples)")
    p.update(audio_offset_s=round(offset, 4), audio_seconds=round(len(seg) / rate, 4), video_frames=n_out)
    env = envelope(seg.mean(1), rate, float(fps), n_out, tuple(p["band_hz"]), p["window_frames"],
                   p["quiet_pct"], p["loud_pct"])
    lms = clips.clip_landmarks(tgt, start, n_clip, p["smooth_sigma"], MAX_GAP)
    clip = media.read_frames(tgt.path, start, n_clip)
    order = _frame_order(n_clip, n_out)

    def synced():
        for k, j in enumerate(order):
            lm = lms[j]
            if lm is None:
                yield clip[j], False
                continue
            opening = p["rest_open"] + env[k] * (p["max_open"] - p["rest_open"])
            yield resync(clip[j], lm, opening * float(lmk.interocular(lm)), p)

    # The encoder puts AAC_PRIMING samples before the audio, the real's as the fake's: both are fed the clip's
    # whole length, so their streams last alike (1.1 cut the priming off the fake: 23 ms shorter than its real).
    # The speech takes the level, stereo width, rate and channels of the audio the real keeps over these frames
    # (a silent target gives silence, as its real has): otherwise loudness tells the fake (audit signal_confounds).
    own = media.read_audio_of_video(tgt.path, start / float(fps), n_out / float(fps))
    audio = conform_audio((seg, rate))
    if own is None:  # the target has no audio track, nor has its real: a silent fake, or audio tells the label
        audio, p["dub"] = None, "none: the target clip has no audio track, nor has its real"
    elif len(own[0]) >= 0.99 * n_out / float(fps) * own[1]:
        dubbed, p["dub"] = dub.dub(seg.mean(1), rate, own)
        audio = conform_audio(dubbed)
    else:  # a looped clip longer than the target's own audio
        p["dub"] = "none: the target's audio is shorter than the looped clip; the speech as recorded"
    path, written, changed = clips.save_counted(out_stem, synced(), fps, audio, n_out, tgt)
    return Generated(path, p, written, changed)
