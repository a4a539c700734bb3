"""Weights-free lip sync through Wav2Lip's pipeline: the lower half of a 96 x 96 face crop made again, pasted back.

Wav2Lip (Rudrabha/Wav2Lip inference.py) cuts each frame's face box (padded 10 px below the chin), resizes it to
96 x 96, has the network redraw the lower half for the speech, resizes the result back to the box and writes it
over the frame: the whole box holds 96 px of detail, with a hard edge. FaceFusion's lip syncer takes the same
96 px crop but pastes only a feathered mouth region (its mouth mask with its box mask). Both pipelines are drawn
per sample and recorded. The redrawing here is `mouth_sync`'s, run in the 96 px crop: the voice-band level of the
speech sets the lip gap, the mouth-jaw region is warped and a mouth interior painted. The clip keeps the target's
length to the frame; its audio is the speech shaped like the target clip's own (`common/dub.py`: length, rate,
channels, level, stereo width) and band-limited with its paired real's to 8 kHz, the band Wav2Lip hears speech in
(FINISH, synthfake.finish): only the voice and the mouth differ from the real.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthfake import faces, media
from synthfake import landmarks as lmk
from synthfake.errors import SampleFailed
from synthfake.generators import Context, Generated, stand_in_rng
from synthfake.generators import mouth_sync
from synthfake.generators.common import align, clips, dub

TYPE = "lip_sync"
VERSION = "1.1"  # 1.1: a mouth interior as light as real ones (CAVITY), not mouth_sync's near-black one
SIZE = 96  # Wav2Lip's face crop
PAD_BOTTOM = 10  # px below the chin (inference.py --pads 0 10 0 0)
FINISH = {"audio_band_hz": 8000}  # Wav2Lip's 16 kHz speech: the pair's audio band-limited alike
PIPELINES = ("wav2lip", "facefusion")
FFHQ = 512  # FaceFusion's lip syncer works in a 512 px ffhq_512 crop around the face
MOUTH = np.r_[3:14, 31:36]  # FaceFusion's mouth mask hull: jaw and nose base
# the painted interior in the lips' colour, at the lips and how much less deep inside: open mouths of the talking
# heads in ../shared/data average 0.9 of their lips' colour (teeth and tongue; 10th percentile 0.31-0.51 by
# channel), where mouth_sync's cavity (0.36, less 0.2) painted a near-black "O" that no real mouth shows
CAVITY = (0.8, 0.35)



def draw(seed: int) -> dict:
    p = mouth_sync._params(seed)
    rng = stand_in_rng(seed)
    p.update(pipeline=str(rng.choice(PIPELINES)), size=SIZE, pad_bottom_px=PAD_BOTTOM, forehead=0.12,
             min_change_px=1.0, feather_px=2, face_mask_blur=round(float(rng.uniform(0.2, 0.4)), 3),
             cavity=list(CAVITY))
    return p


def face_box(lm: np.ndarray, shape, p: dict) -> tuple[int, int, int, int]:
    """A detector-like face box from the 68 landmarks: jaw to jaw, a little forehead above the brows, the chin
    plus Wav2Lip's bottom pad."""
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    y0 -= p["forehead"] * (y1 - y0)
    h, w = shape[:2]
    return (max(0, int(x0)), max(0, int(y0)), min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)) + p["pad_bottom_px"]))


def redraw(face96: np.ndarray, lm96: np.ndarray, opening: float, p: dict) -> np.ndarray:
    """The 96 px face with its lower half made again for this frame's speech level (mouth_sync's warp)."""
    out, _ = mouth_sync.resync(face96, lm96, opening * float(lmk.interocular(lm96)), p)
    out[:SIZE // 2] = face96[:SIZE // 2]  # the network sees the upper half and draws only the lower
    return out


def sync_frame(rgb: np.ndarray, lm: np.ndarray, opening: float, p: dict) -> np.ndarray | None:
    """One frame through the 96 px crop, pasted back as the pipeline does; None when the box is degenerate."""
    x0, y0, x1, y1 = face_box(lm, rgb.shape, p)
    if x1 - x0 < 16 or y1 - y0 < 16:
        return None
    face = cv2.resize(rgb[y0:y1, x0:x1], (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    scale = np.array([SIZE / (x1 - x0), SIZE / (y1 - y0)], np.float32)
    made = redraw(face, (lm - np.array([x0, y0], np.float32)) * scale, opening, p)
    back = cv2.resize(made, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out = rgb.copy()
    if p["pipeline"] == "wav2lip":  # f[y1:y2, x1:x2] = p
        out[y0:y1, x0:x1] = back
        return out
    _, m = align.crop(rgb, faces.five_points(lm), align.template("ffhq_512", FFHQ), FFHQ, cv2.INTER_AREA)
    lm512 = align.transform_points(lm, m)
    hull = np.zeros((FFHQ, FFHQ), np.float32)
    cv2.fillConvexPoly(hull, cv2.convexHull(lm512[MOUTH].astype(np.int32)), 1.0)
    mouth = cv2.GaussianBlur(cv2.erode(hull, np.ones((21, 3), np.uint8)), (0, 0), sigmaX=1, sigmaY=15)
    mask = np.minimum(mouth, align.facefusion_box_mask(FFHQ, p["face_mask_blur"]))
    out[y0:y1, x0:x1] = back  # the 96 px result in the frame, then cut to the 512 crop and pasted in the mask
    new512 = cv2.warpAffine(out, m, (FFHQ, FFHQ), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return align.paste_back(rgb, new512, mask, m)


def speech_for(aud, n: int, fps: float, want: int, u: float, p: dict) -> tuple[np.ndarray, int]:
    """The speech segment for a clip of n frames, `want` samples long at its own rate (mono), from a voiced
    start drawn by u; a recording shorter than the clip is repeated after a pause."""
    data, rate = media.read_audio(aud.path)
    mono = data.mean(1)
    n_out = min(n, int(len(mono) / rate * fps))
    offset, p["speech_share"] = mouth_sync.speech_offset(mono, rate, fps, n_out, u, p)
    if p["speech_share"] <= 0:
        raise SampleFailed(f"{aud.item.path}: no voice activity in the audio for this clip; lip sync needs speech")
    p["audio_offset_s"] = round(offset, 4)
    seg = dub.tiled(data.mean(1, keepdims=True), rate, int(round(offset * rate)), want)
    return seg[:, 0], rate


def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    tgt, aud = sources.role("target"), sources.role("audio")
    p = draw(sample.seed)
    start, n = sample.params["clip_start"], sample.params["clip_frames"]
    fps = media.video_fps(tgt.path)
    own = media.read_audio_of_video(tgt.path, start / fps, n / fps)  # what the paired real carries
    speech_rate = media.read_audio(aud.path)[1]
    speech, _ = speech_for(aud, n, float(fps), int(np.ceil(n / float(fps) * speech_rate)), p.pop("offset_u"), p)
    env = mouth_sync.envelope(speech, speech_rate, float(fps), n, tuple(p["band_hz"]), p["window_frames"],
                              p["quiet_pct"], p["loud_pct"])
    audio = None
    if own is not None:
        audio, p["dub"] = dub.dub(speech, speech_rate, own)
    else:
        p["dub"] = "none: the target clip has no audio track, nor has its real"
    lms = clips.clip_landmarks(tgt, start, n, p["smooth_sigma"], mouth_sync.MAX_GAP)

    def synced():
        for k, rgb in enumerate(media.iter_frames(tgt.path, start, n)):
            lm = lms[k] if k < len(lms) else None
            opening = p["rest_open"] + env[k] * (p["max_open"] - p["rest_open"])
            out = None if lm is None else sync_frame(rgb, lm, opening, p)
            yield (rgb, False) if out is None else (out, True)

    path, written, changed = clips.save_counted(out_stem, synced(), fps, audio, n, tgt)
    return Generated(path, p, written, changed)
