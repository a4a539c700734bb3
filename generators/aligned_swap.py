"""Weights-free face swap through the pipeline of the one-shot swap models (inswapper, SimSwap), not at full size.

What Roop, ReActor and FaceFusion do around inswapper_128 or SimSwap, step by step: the target face is aligned to
the model's 5-point template and cut out at the model's working size (inswapper 128 px on arcface_128_v2;
SimSwap 256 or 512 px on arcface_112_v1), the model replaces the face inside that square, and the square is
scaled back and pasted over the frame through a feathered mask (insightface's eroded, blurred white square, or
FaceFusion's box mask). Here the model's step is `landmark_swap`'s swap run inside the crop, with the source
aligned to the same template at the same size, so the whole pasted square holds only as much detail as the
working size allows, like the real models' output: sharp frame, softer face square. Model and pipeline are
drawn per sample (FAMILIES) and recorded. Images end as one JPEG encode, their paired reals too (FINISH), so the
JPEG grid is the only thing a swap removes from the face square and the real keeps.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthfake import faces
from synthfake.generators import Context, Generated, stand_in_rng
from synthfake.generators import landmark_swap
from synthfake.generators import swap_regions as sr
from synthfake.generators.common import align, warp

TYPE = "face_swap"
VERSION = "1.4"  # 1.4: the source's highlights kneed at HIGHLIGHT_KNEE (`relight.highlights_kneed`); 1.3: the source
# is never sharpened toward the target (`landmark_swap.BLUR_ONLY`); 1.2: a black-and-white source for a colour target
# fails (drawn again); 1.1: the source mirrored when that turns it toward more of the target's frames
HIGHLIGHT_KNEE = 1.0  # times the target skin's 99th percentile of lightness detail, above which a source's is compressed:
# its specular highlights and pale occluders (a hat brim) relit onto a matte face were bright blotches (8 Dec)
AVOID_GLASSES = True  # as landmark_swap: with glasses only the face below them is swapped
FINISH = {"image_jpeg": True}  # the pair's images end with one drawn JPEG encode (synthfake.finish)
# model: (template, working size, weight); as FaceFusion's face_swapper model set declares them
FAMILIES = {"inswapper_128": ("arcface_128_v2", 128, 0.5), "simswap_256": ("arcface_112_v1", 256, 0.3),
            "simswap_unofficial_512": ("arcface_112_v1", 512, 0.2)}
PIPELINES = ("insightface", "facefusion")  # Roop/ReActor's insightface paste-back, or FaceFusion's



def draw(seed: int) -> dict:
    """The sample's model, pipeline and mask, from its seed; then landmark_swap's own blend settings."""
    rng = stand_in_rng(seed)
    names = list(FAMILIES)
    model = names[int(rng.choice(len(names), p=[FAMILIES[n][2] for n in names]))]
    tpl, size, _ = FAMILIES[model]
    pipeline = str(rng.choice(PIPELINES)) if model == "inswapper_128" else "facefusion"
    p = {"model": model, "template": tpl, "working_size": size, "pipeline": pipeline}
    if pipeline == "insightface":  # INSwapper.get(paste_back=True): erode mask_size/10, blur kernel mask_size/10
        p.update(crop_interp="linear", paste_mask="insightface_square", mask_margin=0.05, mask_blur=0.015)
    else:  # FaceFusion: INTER_AREA crop, static box mask, face_mask_blur around its default 0.3
        p.update(crop_interp="area", paste_mask="facefusion_box",
                 face_mask_blur=round(float(rng.uniform(0.2, 0.4)), 3))
    # the one-shot models' output is as soft as their working size makes it: an unsharp mask at 128 px to reach a
    # sharp target's Laplacian energy made crackle and blotches over the face, pasted back 3-8x larger (1.3)
    return {**p, **landmark_swap._params(seed), "sharpness": landmark_swap.BLUR_ONLY, "highlight_knee": HIGHLIGHT_KNEE}


def paste_mask(p: dict) -> np.ndarray:
    size = p["working_size"]
    if p["paste_mask"] == "insightface_square":
        return align.box_mask(size, p["mask_margin"], p["mask_blur"])
    return align.facefusion_box_mask(size, p["face_mask_blur"])


def to_crop(img: np.ndarray, lm: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(crop at the working size, its 2x3 matrix frame -> crop, the landmarks in the crop)."""
    interp = cv2.INTER_AREA if p["crop_interp"] == "area" else cv2.INTER_LINEAR
    size = p["working_size"]
    crop, m = align.crop(img, faces.five_points(lm), align.template(p["template"], size), size, interp)
    return crop, m, align.transform_points(lm, m).astype(np.float32)


class Swapper:
    """The source face aligned once at the working size; `frame` swaps one target frame through the crop."""

    def __init__(self, src_img: np.ndarray, src_lm: np.ndarray, p: dict):
        self.p = p
        self.src, _, self.src_lm = to_crop(src_img, src_lm, p)
        self.tris = warp.delaunay(sr.extend(self.src_lm))
        self.mask = paste_mask(p)
        p["source_fringe"] = sr.source_fringe(self.src, self.src_lm)

    def frame(self, rgb: np.ndarray, lm: np.ndarray) -> np.ndarray:
        crop, m, crop_lm = to_crop(rgb, lm, self.p)
        swapped = landmark_swap.swap_frame(self.src, self.src_lm, self.tris, crop, crop_lm, self.p)
        return align.paste_back(rgb, swapped, self.mask, m)


def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    src, tgt = sources.role("source"), sources.role("target")
    src_img, src_lm, p = landmark_swap.source_and_params(sample, src, tgt, draw)
    src_img, src_lm = landmark_swap.facing(src_img, src_lm, sample, tgt, p)
    p["below_glasses"] = src.wears_glasses or tgt.wears_glasses
    swapper = Swapper(src_img, src_lm, p)
    return landmark_swap.swap_target(sample, tgt, out_stem, src_lm, p, swapper.frame)
