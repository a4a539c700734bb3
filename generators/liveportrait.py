"""Reenactment with LivePortrait through FaceFusion's ONNX exports: the source face moved by a driving clip.

Signatures, as FaceFusion calls them (facefusion/processors/modules/face_editor/core.py and
expression_restorer/core.py, model set 'live_portrait', assets models-3.0.0):
- `live_portrait_feature_extractor.onnx`: `input` [1,3,256,256] RGB / 255 -> feature volume [1,32,16,64,64].
- `live_portrait_motion_extractor.onnx`: `input` [1,3,256,256] -> 7 outputs in this order: pitch, yaw, roll
  (degrees), scale, translation [1,3], expression [1,21,3], motion points [1,21,3] (sizes as read by
  CodingRookie98/FaceFusionCpp src/domain/face/expression/impl/live_portrait.cpp).
- `live_portrait_stitcher.onnx`: `source` (wanted keypoints) and `target` (the source image's keypoints),
  both [1,21,3] -> stitched keypoints [1,21,3].
- `live_portrait_generator.onnx`: `feature_volume`, `source` (wanted keypoints), `target` (keypoints of the
  image the features came from) -> [1,3,512,512] RGB in [0, 1].
Keypoints are scale * (points @ R.T + expression) + translation with R from (pitch, yaw, roll) as scipy's
'xyz' Euler angles (facefusion/processors/live_portrait.py). Motion is relative, as in LivePortrait's
pipeline (KwaiVGI/LivePortrait src/live_portrait_pipeline.py): rotation, expression, scale and translation
change by the driving frame's difference to the clip's first frame. Source crop: FaceFusion's ffhq_512
template with the 5 points spread 1.5x (its face editor's crop), from the project's dlib landmarks. Driving
crop: one window for the whole clip, as LivePortrait's `Cropper.crop_driving_video` (src/utils/cropper.py,
crop.py): a square per frame from `parse_bbox_from_landmark` (eye-to-mouth axis, scale 2.2, vy -0.1), averaged
over the clip, cut without rotation; so the driving head's roll, scale and translation stay in the crops and
reach the motion. Driving option (`--backend-opt liveportrait.driving=...`, recorded): "expression-friendly"
(LivePortrait's CLI default) moves the source by (x_d,i - x_d,0) times the hull-area multiplier
`calc_motion_multiplier`, added to x_s; "pose-friendly" takes x_d,i as it is (live_portrait_pipeline.py). With
relative motion from a still source x_d,0 equals x_s, so the two differ only by float rounding; the option is
kept for parity and records.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from synthfake import faces, media, weights
from synthfake.generators.common import align, onnx_models
from synthfake import landmarks as lmk
from synthfake.generators.common.clips import clip_landmarks
from synthfake.errors import SampleFailed
from synthfake.generators import Context, Generated, Option, options, source_still
from synthfake.weights import WeightSpec
from synthfake.writer import save_video

TYPE = "reenactment"
VERSION = "1.0"
CROP, INPUT, CROP_SCALE = 512, 256, 1.5
DRIVING_SCALE, DRIVING_VY = 2.2, -0.1  # LivePortrait crop_config: scale/vy_ratio_crop_driving_video
DRIVING_OPTIONS = ("expression-friendly", "pose-friendly")
OPTIONS = {"driving": Option(DRIVING_OPTIONS[0], str, DRIVING_OPTIONS,
                            "LivePortrait's driving option (default: its CLI default)")}  # --backend-opt
ASSETS = "https://github.com/facefusion/facefusion-assets/releases/download/models-3.0.0/"
PARTS = ("feature_extractor", "motion_extractor", "stitcher", "generator")
CATALOG = "FaceFusion model catalog port with SHA256 beside FaceFusion's CRC32 (ModelCatalog.swift)"
MIRROR = "LFS pointer of FaceFusion's assets mirror huggingface.co/uwg/modelz_base Extras/ffff_assets"
PUBLISHED = {  # a part without a published sha256 is recorded as unverified
    "feature_extractor": ("980d26afc9af6d1b6c946329df08b89a4a8582c9bb668d9475f5254e69434d15", f"{CATALOG}; {MIRROR}"),
    "stitcher": ("c6683427edf3e0c3a86e61b1dea1e6dad56c557f5e711fec93966cfb34fd5f87", CATALOG),
    "generator": ("db9274114fed504226c5921fc736b9558505e68682e7448631aea7b62cb3048a", MIRROR),
}
FILES = {p: WeightSpec(f"live_portrait_{p}.onnx", f"{ASSETS}live_portrait_{p}.onnx", *PUBLISHED.get(p, (None, "")))
         for p in PARTS}
WEIGHTS = list(FILES.values())


weight_specs, ready = onnx_models.fixed_weights(WEIGHTS, "scipy")  # what `gen weights download` fetches


@dataclass
class Motion:
    """One face's motion as the motion extractor gives it; `keypoints()` is what the generator takes."""

    rotation: np.ndarray  # (3, 3), applied as points @ rotation.T
    scale: float
    translation: np.ndarray  # (1, 3), z zeroed
    expression: np.ndarray  # (1, 21, 3)
    points: np.ndarray  # (1, 21, 3) canonical keypoints

    def keypoints(self) -> np.ndarray:
        return (self.scale * (self.points @ self.rotation.T + self.expression) + self.translation).astype(np.float32)


@lru_cache(maxsize=2)
def _models(weights_dir: str | None, device: str, allow_unverified: bool = False) -> tuple[dict, list]:
    resolved = [weights.resolve(FILES[p], weights_dir, allow_unverified) for p in PARTS]
    sess = {p: onnx_models.session(r.path, device) for p, r in zip(PARTS, resolved)}
    onnx_models.expect_inputs(sess["generator"], resolved[3].path, ["feature_volume", "source", "target"])
    onnx_models.expect_inputs(sess["stitcher"], resolved[2].path, ["source", "target"])
    return sess, resolved


def _prepare(crop: np.ndarray) -> np.ndarray:
    small = cv2.resize(crop, (INPUT, INPUT), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray((small.astype(np.float32) / 255.0).transpose(2, 0, 1)[None])


def rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("xyz", [pitch, yaw, roll], degrees=True).as_matrix().astype(np.float32)


def motion(sess: dict, blob: np.ndarray) -> Motion:
    name = sess["motion_extractor"].get_inputs()[0].name
    pitch, yaw, roll, scale, t, exp, pts = sess["motion_extractor"].run(None, {name: blob})
    t = np.array(t, np.float32).reshape(1, 3)
    t[0, 2] = 0.0
    return Motion(rotation(float(np.ravel(pitch)[0]), float(np.ravel(yaw)[0]), float(np.ravel(roll)[0])),
                  float(np.ravel(scale)[0]), t, np.array(exp, np.float32).reshape(1, 21, 3),
                  np.array(pts, np.float32).reshape(1, 21, 3))


def relative(src: Motion, d0: Motion, di: Motion) -> Motion:
    """The source's motion changed by driving frame i relative to the clip's first driving frame."""
    return Motion(src.rotation @ d0.rotation.T @ di.rotation, src.scale * di.scale / d0.scale,
                  src.translation + (di.translation - d0.translation), src.expression + (di.expression - d0.expression),
                  src.points)


def _template() -> np.ndarray:
    return align.zoom_out(align.FFHQ_512, CROP_SCALE)


def driving_option(ctx: Context) -> str:
    return options(__name__, ctx)["driving"]


def frame_square(lm: np.ndarray) -> np.ndarray:
    """(cx, cy, size) of LivePortrait's per-frame driving square from 68 landmarks (parse_rect_from_landmark)."""
    return align.liveportrait_square(lm, DRIVING_SCALE, DRIVING_VY)


def clip_window(lms: list) -> np.ndarray:
    """One (cx, cy, size) for the whole driving clip: the mean of the per-frame squares (average_bbox_lst)."""
    return np.mean([frame_square(lm) for lm in lms if lm is not None], axis=0)


def window_crop(rgb: np.ndarray, window: np.ndarray, size: int = CROP) -> np.ndarray:
    """The square window cut out and scaled to `size`, black outside the frame (crop_image_by_bbox, no rotation)."""
    cx, cy, side = window
    s = size / side
    m = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float32)
    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def motion_multiplier(x_s: np.ndarray, x_d0: np.ndarray) -> float:
    """sqrt of the ratio of the keypoints' convex hull volumes, source over first driving (calc_motion_multiplier)."""
    from scipy.spatial import ConvexHull

    return float(np.sqrt(ConvexHull(x_s.reshape(-1, 3)).volume) / np.sqrt(ConvexHull(x_d0.reshape(-1, 3)).volume))


def _params(seed: int, device: str) -> dict:
    rng = np.random.default_rng(seed)
    return {"crop": CROP, "template": "ffhq_512", "crop_scale": CROP_SCALE, "motion": "relative",
            "driving_crop": "one_window_per_clip", "driving_scale": DRIVING_SCALE, "driving_vy": DRIVING_VY,
            "stitching": True, "mask": "feathered_box", "mask_margin": round(float(rng.uniform(0.04, 0.08)), 3),
            "mask_blur": round(float(rng.uniform(0.03, 0.05)), 3), "device": device}


def generate(sample, sources, out_stem: Path, ctx: Context) -> Generated:
    src = sources.role("source")
    drv = sources.role("driving")
    sess, resolved = _models(str(ctx.weights_dir) if ctx.weights_dir else None, ctx.device,
                             ctx.allow_unverified)
    p = _params(sample.seed, ctx.device)
    image = source_still(src, p)
    s_crop, s_mat = align.crop(image, faces.five_points(np.array(src.item.landmarks, np.float32)), _template(), CROP)
    s_blob = _prepare(s_crop)
    feature = sess["feature_extractor"].run(None, {sess["feature_extractor"].get_inputs()[0].name: s_blob})[0]
    s_motion = motion(sess, s_blob)
    x_s = s_motion.keypoints()
    mask = align.box_mask(CROP, p["mask_margin"], p["mask_blur"])
    start, n = sample.params["clip_start"], sample.params["clip_frames"]
    lms, p["driving_frames_without_face"] = lmk.hold_gaps(clip_landmarks(drv, start, n))
    if lms and lms[0] is None:
        raise SampleFailed(f"{drv.item.path}: no face tracked in driving frames {start}..{start + n - 1}")
    window = clip_window(lms)
    p["driving_option"] = driving_option(ctx)
    p["driving_window"] = [round(float(v), 2) for v in window]
    made = 0

    def frames():
        nonlocal made
        d0 = x_d0 = mult = None
        for rgb in media.iter_frames(drv.path, start, n):
            di = motion(sess, _prepare(window_crop(rgb, window)))
            d0 = di if d0 is None else d0
            x_d = relative(s_motion, d0, di).keypoints()
            if p["driving_option"] == "expression-friendly":
                x_d0 = x_d if x_d0 is None else x_d0
                mult = motion_multiplier(x_s, x_d0) if mult is None else mult
                x_d = ((x_d - x_d0) * mult + x_s).astype(np.float32)
            x_d = sess["stitcher"].run(None, {"source": x_d, "target": x_s})[0].reshape(1, 21, 3).astype(np.float32)
            out = sess["generator"].run(None, {"feature_volume": feature, "source": x_d, "target": x_s})[0][0]
            face = np.clip(out.transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            made += 1
            yield align.paste_back(image, face, mask, s_mat)

    fps = media.video_fps(drv.path)
    path, written = save_video(out_stem, frames(), fps, media.read_audio_of_video(drv.path, start / fps, n / fps),
                               expected=n, source=drv.item.path)
    record, unverified = weights.record(resolved)
    return Generated(path, p, written, made, record, unverified)
