"""Weights-free reenactment through LivePortrait's pipeline: a 256 px crop of the source photo warped, stitched back.

LivePortrait (KwaiVGI/LivePortrait live_portrait_pipeline.py, crop_config) cuts the source photo's face square
(2.3 times the landmarks' extent, moved up 0.125 of it), reads it at 256 px, warps its features by the driving
motion relative to the driving clip's first frame, decodes a 512 px crop and pastes it back into the still photo
through a feathered mask (`flag_pasteback`): the head moves inside the mask, the shoulders and background are
the photo's, and the face holds 256 px of detail wherever the photo had more. Before animating it closes the
source's lips (`flag_lip_zero`), so the driver's mouth, not the photo's, shows. Here the warp is
`landmark_reenact`'s, run in that 256 px crop with the source's lips closed first, its ring moving only where the
paste-back lets the photo move, the band between face outline and ring drawn by a thin-plate spline (LivePortrait's
flow is smooth there, where triangles turned over); the result is scaled to 512, pasted back through a feathered
square, at the photo's size (at most SOURCE_MAX_DIM, as LivePortrait's `source_max_dim`). Output: the driving
clip's fps, length and audio.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthfake import landmarks as lmk
from synthfake.generators import Context, Generated, source_face_at_most, stand_in_rng
from synthfake.generators import landmark_reenact as lr
from synthfake.generators.common import align

TYPE = "reenactment"
VERSION = "1.4"  # 1.1: sliver triangles not drawn (landmark_reenact.MAX_STRETCH): no dotted trails of strewn pixels;
# 1.2: a video source's still is its nearest closed-mouth frame (`source_face_at_most(closed_gap=)`); 1.3: failing
# one at 0.9 of the still's face size, its largest closed-mouth frame down to 0.7 (`Source.closed_mouth_still`);
# 1.4: the ring moves only where the paste-back lets the photo move (`landmark_reenact.ring_moved`): no cut along its
# lower edge; the band from face outline to ring drawn by a thin-plate spline (`SPLINE`): no turned-over triangles
INPUT, OUTPUT = 256, 512  # the network reads the crop at 256 px and decodes 512 px
SOURCE_SCALE, SOURCE_VY = 2.3, -0.125  # crop_config: scale, vy_ratio of the source crop
SOURCE_MAX_DIM = 1280  # LivePortrait's source_max_dim
LIP_ZERO_GAP = 0.03  # inter-ocular units: lips closed this far before animating (flag_lip_zero)
RING_SCALE = 1.3  # the head region that moves rigidly: inside the crop's free zone (landmark_reenact's is 1.9)
SPLINE = 0.0  # the head band's thin-plate spline regularisation (common/tps.py): 0 passes through every point



def draw(seed: int) -> dict:
    p = lr._params(seed)
    rng = stand_in_rng(seed)
    p.update(input_size=INPUT, output_size=OUTPUT, source_scale=SOURCE_SCALE, source_vy=SOURCE_VY,
             lip_zero=True, paste_mask="feathered_square", ring_scale=RING_SCALE,
             mask_margin=round(float(rng.uniform(0.04, 0.06)), 3), mask_blur=round(float(rng.uniform(0.03, 0.05)), 3),
             max_side=SOURCE_MAX_DIM, spline=SPLINE)
    return p


def source_crop(img: np.ndarray, lm: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The source's LivePortrait square at `size` px and the 2x3 matrix image -> crop."""
    cx, cy, side = align.liveportrait_square(lm, SOURCE_SCALE, SOURCE_VY)
    s = size / side
    m = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float32)
    return cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE), m


def lips_closed(lm: np.ndarray) -> np.ndarray:
    """The landmarks with the inner-lip gap set to LIP_ZERO_GAP face units (never opened wider)."""
    gap = float(lmk.mouth_gap(lm))
    want = LIP_ZERO_GAP * float(lmk.interocular(lm))
    return lmk.open_mouth(lm, want - gap, 0.3) if gap > want else lm


def still_zone(size: int, p: dict) -> np.ndarray:
    """1 where the crop may move, 0 where the paste-back mask is below one (the photo shows through), a
    smooth ramp of 0.1 of the crop between: what LivePortrait's stitching does, keeping the crop's edge
    where the still photo continues it."""
    inner = (p["mask_margin"] + 2.5 * p["mask_blur"]) * size
    ramp = 0.1 * size
    d = np.minimum.outer(np.minimum(np.arange(size), size - 1 - np.arange(size)),
                         np.minimum(np.arange(size), size - 1 - np.arange(size))).astype(np.float32)
    t = np.clip((d - inner) / ramp, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def keep_inside(out_lm: np.ndarray, motion: np.ndarray, ring: np.ndarray, size: int, p: dict) -> int:
    """Shift a frame's head (its landmarks and rigid motion alike) back where its moved ring would go past the
    crop's free zone (or past where the ring lies at rest, when that is further out): the head may move, not
    across the paste-back seam, as LivePortrait's stitching keeps it. Returns the frames shifted."""
    inner = (p["mask_margin"] + 2.5 * p["mask_blur"]) * size
    lo = np.minimum(inner, ring.min(0))
    hi = np.maximum(size - 1 - inner, ring.max(0))
    shifted = 0
    for t in range(len(motion)):
        moved = lmk.apply(motion[t], ring)
        shift = np.maximum(lo - moved.min(0), 0) - np.maximum(moved.max(0) - hi, 0)
        if np.abs(shift).max() > 0.5:
            motion[t][:, 2] += shift
            out_lm[t] += shift.astype(out_lm.dtype)
            shifted += 1
    return shifted


def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    src, drv = sources.role("source"), sources.role("driving")
    p = draw(sample.seed)
    img, lm = source_face_at_most(src, p, even=True, closed_gap=LIP_ZERO_GAP)
    crop, m = source_crop(img, lm, INPUT)
    c_lm = align.transform_points(lm, m).astype(np.float32)
    start = sample.params["clip_start"]
    n = min(sample.params["clip_frames"], p["max_frames"])
    track, neutral, with_face = lr.driving_track(drv, start, n, p)
    n = len(track)
    out_lm, motion = lr.drive(lips_closed(c_lm), track, neutral, p)
    ring = lmk.ring(c_lm, p["ring_scale"], p["ring_points"], crop.shape)
    still = still_zone(INPUT, p)
    p["frames_held_inside"] = keep_inside(out_lm, motion, ring, INPUT, p)
    render_frame = lr.source_render(crop, c_lm, ring, p, still)
    up = np.array([[OUTPUT / INPUT, 0, 0], [0, OUTPUT / INPUT, 0]], np.float32)
    to_512 = np.vstack([up, [0, 0, 1]]) @ np.vstack([m, [0, 0, 1]])  # image -> 512 crop
    mask = align.box_mask(OUTPUT, p["mask_margin"], p["mask_blur"])

    def frames():
        for t in range(n):
            face = render_frame(out_lm[t], motion[t])
            big = cv2.resize(face, (OUTPUT, OUTPUT), interpolation=cv2.INTER_LINEAR)
            yield align.paste_back(img, big, mask, to_512[:2])

    path, written = lr.save_driven(out_stem, frames(), drv, start, n, p)
    return Generated(path, p, written, with_face)
