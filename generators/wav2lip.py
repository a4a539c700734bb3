"""Lip sync with Wav2Lip (96 px) through FaceFusion's ONNX export: a target clip's mouth re-generated for speech.

Signature, as FaceFusion calls it (facefusion/processors/modules/lip_syncer/core.py, models 'wav2lip_96' and
'wav2lip_gan_96', assets models-3.0.0): inputs `source`, the mel window [1,1,80,16], and `target`, the
6-channel face stack [1,6,96,96] (the face with its lower half zeroed, then the face itself, BGR / 255, as
Wav2Lip's inference.py `datagen` builds it); output [1,3,96,96] BGR in [0, 1].
Audio is Wav2Lip's own preprocessing (Rudrabha/Wav2Lip audio.py + hparams.py): 16 kHz mono, pre-emphasis
0.97, STFT n_fft 800 / hop 200 / win 800, 80 mel bands 55-7600 Hz, 20*log10(max(1e-5, .)) - 20 dB,
symmetric normalisation to [-4, 4] with min_level_db -100; video frame i takes the 16 mel steps from
int(i * 80 / fps) (inference.py, mel_step_size 16). The face box comes from the project's dlib landmarks
(brows to chin, padded below like Wav2Lip's default pads); the result is pasted through a feathered
lower-face mask. Frames without a face pass through.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from synthfake import media, weights
from synthfake.generators.common import align, onnx_models, warp
from synthfake.generators.common.clips import render_clip
from synthfake.generators import Context, Generated, Option, options
from synthfake.weights import WeightSpec

TYPE = "lip_sync"
VERSION = "1.0"
SIZE = 96  # side of the face crop Wav2Lip takes
MEL_STEP = 16  # mel frames in the audio window of one video frame
RATE = 16000  # audio rate its mel spectrogram is computed at
ASSETS = "https://github.com/facefusion/facefusion-assets/releases/download/models-3.0.0/"
VARIANTS = ("wav2lip_gan_96", "wav2lip_96")
OPTIONS = {"model": Option(VARIANTS[0], str, VARIANTS, "which Wav2Lip export")}  # --backend-opt wav2lip.model=
LOWER_FACE = list(range(2, 15)) + list(range(31, 36))  # jaw from below the cheekbones, and the nose base


def variant(ctx: Context) -> str:
    return options(__name__, ctx)["model"]


def spec(name: str) -> WeightSpec:
    return WeightSpec(f"{name}.onnx", f"{ASSETS}{name}.onnx")


def weight_specs(ctx: Context) -> list[WeightSpec]:
    """The export `--backend-opt wav2lip.model=` chooses (no sha256 of either is published: unverified)."""
    return [spec(variant(ctx))]


def ready(ctx: Context) -> str | None:
    return (onnx_models.missing_modules("onnxruntime", "librosa", "scipy") or onnx_models.device_problem(ctx.device)
            or weights.problem([spec(variant(ctx))], ctx.weights_dir, ctx.allow_unverified))


@lru_cache(maxsize=2)
def _model(weights_dir: str | None, device: str, name: str, allow_unverified: bool = False):
    r = weights.resolve(spec(name), weights_dir, allow_unverified)
    sess = onnx_models.session(r.path, device)
    onnx_models.expect_inputs(sess, r.path, ["source", "target"])
    return sess, r


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=RATE, n_fft=800, n_mels=80, fmin=55, fmax=7600)


def melspectrogram(wav: np.ndarray) -> np.ndarray:
    """Wav2Lip's normalised mel spectrogram (80, T) of 16 kHz mono audio."""
    import librosa
    from scipy import signal

    y = signal.lfilter([1.0, -0.97], [1.0], wav)
    spec_ = np.abs(librosa.stft(y=y, n_fft=800, hop_length=200, win_length=800))
    db = 20 * np.log10(np.maximum(1e-5, _mel_basis() @ spec_)) - 20.0
    return np.clip(8.0 * ((db + 100.0) / 100.0) - 4.0, -4.0, 4.0).astype(np.float32)


def mel_window(mel: np.ndarray, i: int, fps: float) -> np.ndarray:
    """The 16 mel steps for video frame i (the last 16 when the audio runs out)."""
    start = int(i * 80.0 / fps)
    if start + MEL_STEP > mel.shape[1]:
        return mel[:, max(0, mel.shape[1] - MEL_STEP):]
    return mel[:, start:start + MEL_STEP]


def speech(path: Path, start_s: float, dur_s: float) -> tuple[tuple[np.ndarray, int], np.ndarray]:
    """The audio segment as written into the clip (file rate, channels) and as 16 kHz mono for the model."""
    import librosa

    data, rate = media.read_audio(path)
    s0, k = int(round(start_s * rate)), int(round(dur_s * rate))
    seg = data[s0:s0 + k]
    if len(seg) < k:  # shorter than the clip: silence after the speech
        seg = np.concatenate([seg, np.zeros((k - len(seg), data.shape[1]), np.float32)])
    mono = seg.mean(axis=1)
    if rate != RATE:
        mono = librosa.resample(mono, orig_sr=rate, target_sr=RATE)
    return (seg, rate), mono.astype(np.float32)


def face_box(lm: np.ndarray, shape, pad_bottom: float) -> tuple[int, int, int, int]:
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    y1 += pad_bottom * (y1 - y0)
    h, w = shape[:2]
    return max(0, int(x0)), max(0, int(y0)), min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))


def sync_frame(sess, rgb: np.ndarray, lm: np.ndarray, window: np.ndarray, p: dict) -> np.ndarray:
    x0, y0, x1, y1 = face_box(lm, rgb.shape, p["pad_bottom"])
    if x1 - x0 < 8 or y1 - y0 < 8:
        return rgb
    face = cv2.resize(rgb[y0:y1, x0:x1, ::-1], (SIZE, SIZE), interpolation=cv2.INTER_AREA)  # BGR, as Wav2Lip
    masked = face.copy()
    masked[SIZE // 2:] = 0
    stack = np.concatenate([masked, face], axis=2).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    feed = {"source": window[None, None].astype(np.float32), "target": np.ascontiguousarray(stack)}
    pred = sess.run(None, feed)[0][0]
    mouth = np.clip(pred.transpose(1, 2, 0)[:, :, ::-1] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    mouth = cv2.resize(mouth, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
    alpha = align.soft_hull(lm[LOWER_FACE] - np.array([x0, y0], np.float32), (y1 - y0, x1 - x0), p["mask_blur"])
    return warp.paste(rgb, (x0, y0, x1, y1), mouth, alpha[..., None])


def _params(seed: int, device: str, name: str) -> dict:
    rng = np.random.default_rng(seed)
    return {"model": name, "size": SIZE, "mel_step": MEL_STEP, "pad_bottom": 0.1, "mask": "lower_face_hull",
            "mask_blur": round(float(rng.uniform(0.03, 0.06)), 3), "device": device, "smooth_sigma": 1.0}


def generate(sample, sources, out_stem: Path, ctx: Context) -> Generated:
    tgt, aud = sources.role("target"), sources.role("audio")
    name = variant(ctx)
    sess, resolved = _model(str(ctx.weights_dir) if ctx.weights_dir else None, ctx.device, name,
                            ctx.allow_unverified)
    p = _params(sample.seed, ctx.device, name)
    start, n = sample.params["clip_start"], sample.params["clip_frames"]
    fps = float(media.video_fps(tgt.path))
    dur = n / fps
    rng = np.random.default_rng(sample.seed + 1)
    p["audio_start"] = round(float(rng.uniform(0, max(0.0, aud.item.duration - dur))), 3)
    track, mono = speech(aud.path, p["audio_start"], dur)
    mel = melspectrogram(mono)
    path, written, synced = render_clip(
        out_stem, tgt, start, n, lambda rgb, lm, i: sync_frame(sess, rgb, lm, mel_window(mel, i, fps), p),
        audio=track, sigma=p["smooth_sigma"])
    record, unverified = weights.record([resolved])
    return Generated(path, p, written, synced, record, unverified)
