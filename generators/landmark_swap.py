"""Weights-free face swap: a source face onto every frame of a target video, or onto a target photo.

Per frame: the source's 68 landmarks plus 10 forehead points are warped piecewise-affinely (Delaunay) onto the
target's temporally smoothed landmarks, so the source face takes the target's expression frame by frame. The warped
face is relit (the target's low frequencies of colour and shading under the source's detail, in log RGB) and
matched to the target's sharpness (Laplacian energy), then alpha-blended through a mask that covers the target's
brows and the skin above them (not its hair or fringe), leaving out the target's own eye apertures and mouth cavity
so its gaze, blinks and speech show through, and the source's hair (`swap_regions`). When either person wears
glasses only the face below them is swapped. Frames where the target turns its head far from the source's (or, for
a person not known to wear glasses, shows them) are left untouched and counted; such a target photo fails with that
reason. Pixels outside the mask are the target's; the target's audio is kept.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthfake import faces, media
from synthfake.errors import SampleFailed
from synthfake.generators import Context, Generated
from synthfake.generators import swap_regions as sr
from synthfake import glasses
from synthfake import landmarks as lmk
from synthfake.generators.common import relight, skin
from synthfake.generators.common import warp
from synthfake.generators.common.clips import render_clip
from synthfake.writer import save_image

TYPE = "face_swap"
VERSION = "2.7"  # 2.7: a black-and-white source for a colour target fails (drawn again); 2.6: the source
# mirrored when that turns it toward more of the target's frames (`facing`); 2.5: a pair's images end with one drawn JPEG encode (FINISH); 2.4: relit in log RGB below 0.18
# face units (lips and brows keep their hue on a pale face);
# 2.3: relit by frequency split (the target's low frequencies under the source's detail), a face with glasses
# swapped below them, hair strands across the temples left out; 2.2: the source's hair along the face's edge and
# over the brows left out (far darker than its cheeks is not skin); 2.1: a source video gives a frame drawn per
# sample, not always its indexed still
FINISH = {"image_jpeg": True}  # the pasted face has no camera JPEG grid, its photo around it does: both samples of
# the pair end with one drawn JPEG encode (synthfake.finish), so the grid does not tell the fake
ROI_MARGIN = 0.2
AVOID_GLASSES = True  # the plan prefers faces without glasses: with them only the lower face is swapped (a full
# hull pasted a source's rims as ghosts and erased a target's)
BLUR_ONLY = "laplacian_match_blur_only"  # `sharpness` of a swap whose source is blurred to the target, never sharpened
SOURCE_MAX_YAW = 0.25  # a source video's frames with the head turned further are not drawn



def _params(seed: int) -> dict:
    """The sample's blend settings; feather and colour strength drawn from its seed."""
    rng = np.random.default_rng(seed)
    return {"mask": "hull68+brows+forehead_skin-source_hair", "feather": round(float(rng.uniform(0.06, 0.1)), 3),
            "color": "lowfreq_relight", "color_strength": round(float(rng.uniform(0.92, 1.0)), 3),
            "blend": "alpha", "keep_target": "eyes+mouth_cavity", "sharpness": "laplacian_match",
            "occlusion": "glasses_bridge", "smooth_sigma": 1.0, "roi_margin": ROI_MARGIN}


def occlusion(dst: np.ndarray, dst_lm: np.ndarray, src_lm: np.ndarray | None = None,
              below_glasses: bool = False) -> str | None:
    """Why this target frame must not be swapped (glasses across the eyes of a face swapped in full, a head
    turned too far from the source's), or None."""
    score = 0.0 if below_glasses else glasses.score(dst, dst_lm)
    if score > glasses.FRAME_MAX:
        return f"glasses (bridge edge {score:.2f} > {glasses.FRAME_MAX})"
    if src_lm is not None and abs(lmk.yaw(src_lm) - lmk.yaw(dst_lm)) > lmk.MAX_YAW_GAP:
        return f"pose (yaw {lmk.yaw(src_lm):.2f} vs {lmk.yaw(dst_lm):.2f})"
    return None


def swap_frame(src: np.ndarray, src_lm: np.ndarray, tris: np.ndarray, dst: np.ndarray, dst_lm: np.ndarray,
               p: dict) -> np.ndarray:
    """One frame: source face warped onto dst's landmarks, sharpness- and colour-matched, blended in the mask.

    src_lm are the source's 68 landmarks and tris the Delaunay triangles of `sr.extend(src_lm)`."""
    ext = sr.extend(dst_lm)
    x0, y0, x1, y1 = faces.margin_box(faces.box_from_landmarks(ext), p["roi_margin"], dst.shape)
    roi = dst[y0:y1, x0:x1]
    lm = dst_lm - np.array([x0, y0], np.float32)
    warped, covered = warp.piecewise_affine(src, sr.extend(src_lm), ext - (x0, y0), tris, roi.shape[:2])
    if covered.sum() < 255 * 64:
        return dst
    lab_d = cv2.cvtColor(roi, cv2.COLOR_RGB2LAB)
    skin_d = skin.skin_likelihood(lab_d, lm)
    skin_s = skin.skin_likelihood(cv2.cvtColor(warped, cv2.COLOR_RGB2LAB), lm)
    interior = sr.face_interior(lm, roi.shape[:2], np.minimum(skin_d, skin_s)) & covered
    warped = sr.transfer_colour(warped, roi, lm, covered, p["color_strength"], skin_d, p.get("highlight_knee"))
    # after colour: contrast changes Laplacian energy
    warped, _ = sr.match_sharpness(warped, roi, interior, p["sharpness"] != BLUR_ONLY)
    skin_s = skin.skin_likelihood(cv2.cvtColor(warped, cv2.COLOR_RGB2LAB), lm)
    alpha = sr.swap_alpha(lm, skin_s, skin_d, p["feather"], p.get("source_fringe", False),
                          p.get("below_glasses", False), sr.hair_strands(warped, lm))
    alpha = (alpha * (covered > 0))[..., None]
    return warp.paste(dst, (x0, y0, x1, y1), warped, alpha)


def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    src, tgt = sources.role("source"), sources.role("target")
    src_img, src_lm, p = source_and_params(sample, src, tgt, _params)
    src_img, src_lm = facing(src_img, src_lm, sample, tgt, p)
    tris = warp.delaunay(sr.extend(src_lm))
    p["source_fringe"] = sr.source_fringe(src_img, src_lm)
    p["below_glasses"] = src.wears_glasses or tgt.wears_glasses
    return swap_target(sample, tgt, out_stem, src_lm, p, lambda rgb, lm: swap_frame(src_img, src_lm, tris, rgb, lm, p))


def source_and_params(sample, src, tgt, params) -> tuple[np.ndarray, np.ndarray, dict]:
    """The swap's source face (image, landmarks) and the sample's parameters, with the video frame it came from.
    A black-and-white source for a colour target fails the sample (drawn again): its lips and skin would be
    pasted grey, where the one-shot models render the target's colours whatever the source's."""
    src_img, src_lm, frame = lmk.source_face(src, [sample.seed, 1], SOURCE_MAX_YAW)
    grey = relight.colourless(src_img, src_lm)
    if grey is not None and relight.colourless(tgt.still(), np.array(tgt.item.landmarks, np.float32)) is None:
        raise SampleFailed(f"{src.item.path}: a black-and-white source face (colourfulness {grey:.3f} < "
                           f"{relight.COLOURLESS}) for the colour face of {tgt.item.path}: it would be pasted grey")
    p = params(sample.seed)
    if frame is not None:
        p["source_frame"] = frame
    return src_img, src_lm, p


def facing(src_img: np.ndarray, src_lm: np.ndarray, sample, tgt, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """The source face as it is, or mirrored (`source_mirrored` in the params) when that leaves fewer of the
    target's face frames turned more than MAX_YAW_GAP from it: a target clip that turns right no longer loses its
    frames to a source photo turned left (held-out sources: 47 of 60 frames swapped and the sample failed, 60 of
    60 mirrored). A person's mirror image is still that person; the one-shot models it stands in for take any pose."""
    if tgt.item.kind == "image":
        yaws = [lmk.yaw(tgt.still_face().landmarks)]
    else:
        start, n = sample.params["clip_start"], sample.params["clip_frames"]
        yaws = [lmk.yaw(lm) for lm in tgt.track()[start:start + n] if not np.isnan(lm).any()]
    y = lmk.yaw(src_lm)

    def beyond(v: float) -> int:
        return sum(abs(v - t) > lmk.MAX_YAW_GAP for t in yaws)

    if beyond(-y) >= beyond(y):
        return src_img, src_lm
    p["source_mirrored"] = True
    return lmk.mirrored(src_img, src_lm)


def swap_target(sample, tgt, out_stem, src_lm: np.ndarray, p: dict, swap) -> Generated:
    """The target photo or clip with `swap(rgb, lm)` applied to each face frame; an occluded photo fails, an
    occluded video frame is kept as it is and counted in p["skipped_frames"] by reason."""
    if tgt.item.kind == "image":
        img, lm = media.read_image(tgt.path), tgt.still_face().landmarks
        why = occlusion(img, lm, src_lm, p["below_glasses"])
        if why:
            raise SampleFailed(f"{tgt.item.path}: target face occluded: {why}")
        return Generated(save_image(out_stem, swap(img, lm)), p, 1, 1)

    skipped: dict[str, int] = {}

    def one(rgb, lm, i):
        why = occlusion(rgb, lm, src_lm, p["below_glasses"])
        if why:
            skipped[why.split(" (")[0]] = skipped.get(why.split(" (")[0], 0) + 1
            return rgb
        return swap(rgb, lm)

    start, n = sample.params["clip_start"], sample.params["clip_frames"]
    path, written, swapped = render_clip(out_stem, tgt, start, n, one, sigma=p["smooth_sigma"])
    p["skipped_frames"] = skipped
    return Generated(path, p, written, swapped - sum(skipped.values()))
