"""Weights-free face generation by morphing: a face that belongs to no real person, from 2-3 real faces.

This is a stand-in for text-to-image where no diffusion weights are available: the diffusers and HTTP
backends are the real generation path. As face-morphing datasets do, the faces (different identities of
one split) are aligned to the base face by a similarity fit on their landmarks, warped piecewise-affinely
(Delaunay) to a weighted mean shape, relit to the base (its colour and shading under their detail) and
averaged with seeded weights: each face's weight scaled per pixel by how much it shows skin there, the base's
alone at the hull's edge (no parent's hair or hat averaged in); eyes, mouth and any face's moustache or beard
region come from the heaviest parent alone (no ghosted gaze or moustache). Glasses (a person marked in the
sources index as wearing them): a parent's rims are inpainted before averaging, the base's laid back over the
result. The result is Poisson-blended into the base image, itself warped to the mean shape so that its jaw
line and background follow, and checked before it is written: dlib must find a face with 68 landmarks and its
embedding must lie farther than MIN_NEW_IDENTITY from every parent's; otherwise the weight of the nearest
parent is lowered and the morph made again, up to MAX_TRIES times.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthfake import faces
from synthfake.generators.common import rims
from synthfake.generators.common import warp
from synthfake import landmarks as lmk
from synthfake.generators.common.relight import colourless, relight, COLOURLESS
from synthfake.generators.common.skin import skin_likelihood
from synthfake.errors import SampleFailed
from synthfake.generators import Context, Generated
from synthfake.writer import save_image

TYPE = "generation"
VERSION = "1.7"  # 1.7: a black-and-white parent of a colour base fails (drawn again); 1.6: a pair's images end
# with one drawn JPEG encode (FINISH); 1.5: the relight works in log RGB
# (lips and shadows keep the skin's hue on a pale base);
# 1.4: faces relit to the base (`relight`), each weighted per pixel by its skin likelihood, the
# base's alone at the edge (no translucent hat); glasses rims inpainted on a parent, kept whole on the base;
# 1.3: where any face shows facial hair, the heaviest parent's pixels (no ghost moustache);
# 1.2: a video source gives a frame drawn per sample (near-frontal), not its indexed still
FINISH = {"image_jpeg": True}  # warped parents lose the base photo's JPEG grid in the face: both samples of a pair
# end with one drawn JPEG encode (synthfake.finish)
AVOID_GLASSES = True  # the plan prefers faces without glasses: rims found by `rims.rims` are inpainted on a
# parent and kept whole on the base, but faint ones (talk_d12's) are partly missed and show as ghosts
MIN_NEW_IDENTITY = 0.4  # embedding distance the morph keeps from every parent
MAX_TRIES = 4
MIN_WEIGHT = 0.12
EDGE_TAPER = 0.35  # face units inside the hull's edge over which the other faces fade out, the base's remains
SKIN_FLOOR = 0.02  # weight a face keeps where it shows no skin (against the others' skin likelihood, 0-1)
MAX_YAW = 0.25  # a video source's frames with the head turned further are not drawn (the similarity fit is 2-D)
FRAME_SALT = 1  # random stream of the k-th face's frame: [seed, FRAME_SALT + k]



def _params(seed: int, k: int) -> dict:
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(k, 4.0))
    return {"weights": [round(float(x), 4) for x in w / w.sum()], "align": "similarity68", "warp": "delaunay68",
            "color": "relight_to_base", "blend": "poisson_normal", "erode_px": int(rng.integers(2, 5)),
            "feather_px": int(rng.integers(4, 8)), "border_per_side": 3}


def _aligned(img: np.ndarray, lm: np.ndarray, base_lm: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    m = lmk.similarity(lm, base_lm)
    return cv2.warpAffine(img, m, (shape[1], shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT), lmk.apply(m, lm)


def to_mean_shape(imgs: list[np.ndarray], lms: list[np.ndarray], weights: list[float],
                  border_per_side: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(weighted mean landmarks, every face aligned to the base and warped onto them, full frame)."""
    base = imgs[0]
    h, w = base.shape[:2]
    aligned = [(base, lms[0])] + [_aligned(im, lm, lms[0], base.shape) for im, lm in zip(imgs[1:], lms[1:])]
    mean = sum(wt * lm for wt, (_, lm) in zip(weights, aligned)).astype(np.float32)
    border = lmk.image_border(base.shape, border_per_side)
    tris = warp.delaunay(np.vstack([mean, border]))
    warped = [warp.warp_region(im, np.vstack([lm, border]), np.vstack([mean, border]), tris, (0, 0, w, h))[0]
              for im, lm in aligned]
    return mean, warped


def morph(imgs: list[np.ndarray], lms: list[np.ndarray], weights: list[float], p: dict) -> np.ndarray:
    """The morph of faces imgs[0] (base, whose frame and background it keeps) and imgs[1:], with weights."""
    h, w = imgs[0].shape[:2]
    mean, warped = to_mean_shape(imgs, lms, weights, p["border_per_side"])
    wearers = p.get("glasses") or [False] * len(imgs)
    warped = [_without_rims(im, mean) if k and wears else im for k, (im, wears) in enumerate(zip(warped, wearers))]
    mask = warp.hull_mask(mean, (h, w), erode=p["erode_px"])
    ref = warped[0]
    region = warp.hull_mask(mean, (h, w), erode=2) > 0
    skins = [skin_likelihood(cv2.cvtColor(im, cv2.COLOR_RGB2LAB), mean) for im in warped]
    matched = [relight(im, ref, mean, region, dst_skin=skins[0]) if k else im for k, im in enumerate(warped)]
    face = np.clip(_skin_weighted_mean(matched, skins, mean, weights) + 0.5, 0, 255).astype(np.uint8)
    face = _dominant_features(face, skins, matched, mean, weights)
    blended = warp.poisson_blend(face, ref, mask)
    alpha = warp.feather(mask, p["feather_px"])[..., None]
    out = warp.blend(blended, ref, alpha)
    if wearers[0]:  # the base's glasses lie over the morphed face, whole
        out = warp.blend(ref, out, _rim_alpha(ref, mean))
    return out


def _rim_alpha(img: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Soft alpha (h, w, 1) of a wearer's glasses rims (`rims.rims`), widened over their edges."""
    rim = cv2.dilate(rims.rims(img, mean).astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
    return cv2.GaussianBlur(rim.astype(np.float32) / 255.0, (0, 0), 1.0)[..., None]


def _without_rims(img: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """A parent wearer's face with its glasses rims inpainted from the skin around them, so no rim is averaged
    into the morph as a ghost."""
    rim = cv2.dilate(rims.rims(img, mean).astype(np.uint8) * 255, np.ones((5, 5), np.uint8))
    return cv2.inpaint(img, rim, max(3, int(0.04 * float(lmk.interocular(mean)))), cv2.INPAINT_TELEA)


def _skin_weighted_mean(matched: list[np.ndarray], skins: list[np.ndarray], mean: np.ndarray,
                       weights) -> np.ndarray:
    """The weighted average of the colour-matched faces, each weighted per pixel by how much it shows skin there
    (`skins`: each face's skin likelihood before relighting, plus a floor, so where none does, brows say, the
    plain weights hold), and the other faces' weight tapered
    to none over EDGE_TAPER face units at the hull's edge: one parent's hair or hat over its temple is not
    averaged in as a translucent wedge (schmidhuber + lenna, 1.3; lenna's hat passes as skin by colour)."""
    iod = float(lmk.interocular(mean))
    sigma = 0.02 * iod + 0.5
    inside = cv2.distanceTransform(warp.hull_mask(mean, skins[0].shape), cv2.DIST_L2, 5)
    taper = np.clip(inside / (EDGE_TAPER * iod), 0.0, 1.0)  # the base's own temples and jaw at the hull's edge
    near = np.ones((2 * int(0.03 * iod) + 1,) * 2, np.uint8)  # a thin strand's neighbours are not skin either
    w = [wt * (SKIN_FLOOR + cv2.GaussianBlur(cv2.erode(sk, near), (0, 0), sigma)) * (taper if k else 1.0)
         for k, (wt, sk) in enumerate(zip(weights, skins))]
    total = sum(w)
    out = buf = None  # sum((wk / total)[..., None] * im) term by term in that order, into two frame buffers
    for wk, im in zip(w, matched):
        term = np.multiply(np.divide(wk, total, out=wk)[..., None], im, out=buf)
        if out is None:
            out, buf = term, np.empty_like(term)
        else:
            out += term
    return out


def _dominant_features(face: np.ndarray, skins: list[np.ndarray], matched: list[np.ndarray],
                       mean: np.ndarray, weights) -> np.ndarray:
    """Eyes and mouth (with the upper lip up to the nose) from the heaviest parent alone, feathered into the average:
    averaging eyes that look in different directions ghosts them, and a moustache averaged in shows as a shadow."""
    d = int(np.argmax(weights))
    iod = float(lmk.interocular(mean))
    region = np.zeros(face.shape[:2], np.uint8)
    for idx in (np.arange(36, 42), np.arange(42, 48), np.r_[31:36, 48:60]):
        region |= warp.hull_mask(mean[idx], face.shape[:2])
    region |= _facial_hair(skins, mean)
    region = warp.morph_around(cv2.dilate, region,
                               cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(0.12 * iod) + 1,) * 2))
    sigma = max(1.0, 0.06 * iod)
    # blurred and mixed on the region's box grown by the kernel only: beyond it the weight is 0 and the face kept
    x0, y0, x1, y1 = warp.grown_box(region, warp.kernel_size(sigma), face.shape)
    out = face.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    soft = cv2.GaussianBlur(region[y0:y1, x0:x1].astype(np.float32) / 255.0, (0, 0), sigma)[..., None]
    box = (slice(y0, y1), slice(x0, x1))
    out[box] = np.clip(soft * matched[d][box] + (1 - soft) * face[box] + 0.5, 0, 255).astype(np.uint8)
    return out


def _facial_hair(skins: list[np.ndarray], mean: np.ndarray) -> np.ndarray:
    """Where any face shows hair below the nose (moustache, beard: its `skins` map rates it not skin by colour
    or far darker than its cheeks), as a uint8 mask: the heaviest parent's pixels go there, so a moustache is
    whole or absent."""
    shape = skins[0].shape
    lower = (warp.hull_mask(mean, shape, erode=2) > 0) & (lmk.height_above(shape, mean, mean[33]) < 0)
    sigma = 0.02 * float(lmk.interocular(mean)) + 0.5
    hair = np.zeros(shape, bool)
    # blurred on the lower face's box grown by the kernel: its windows see what they see on the whole frame
    x0, y0, x1, y1 = warp.grown_box(lower.view(np.uint8), warp.kernel_size(sigma), shape)
    box = (slice(y0, y1), slice(x0, x1))
    for sk in skins:
        if x1 > x0 and y1 > y0:
            hair[box] |= lower[box] & (cv2.GaussianBlur(sk[box], (0, 0), sigma) < 0.3)
    return hair.astype(np.uint8) * 255


def check(img: np.ndarray, parent_embeddings: list[np.ndarray]) -> list[float] | None:
    """Embedding distances of the morph to each parent, or None when dlib finds no face with 68 landmarks."""
    face = faces.detect(img)
    if face is None or face.landmarks.shape != (68, 2):
        return None
    e = faces.embedding(img, face)
    return [faces.distance(e, pe) for pe in parent_embeddings]


def _shift_from(weights: np.ndarray, k: int) -> np.ndarray:
    """Move a third of parent k's weight to the others (never below MIN_WEIGHT)."""
    w = weights.copy()
    take = max(0.0, min(w[k] / 3, w[k] - MIN_WEIGHT))
    w[k] -= take
    others = [j for j in range(len(w)) if j != k]
    w[others] += take / len(others)
    return w


def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    faces_in = sources.all("base") + sources.all("parent")
    if len(faces_in) < 2:
        raise SampleFailed("morph needs a base face and at least one parent face")
    p = _params(sample.seed, len(faces_in))
    drawn = [lmk.source_face(s, [sample.seed, FRAME_SALT + k], MAX_YAW) for k, s in enumerate(faces_in)]
    imgs, lms, p["source_frames"] = (list(x) for x in zip(*drawn))
    yaws = [lmk.yaw(lm) for lm in lms]  # schmidhuber (-0.18) + lenna (0.61) drew her hat across his temple
    far = int(np.argmax(np.abs(np.array(yaws) - yaws[0])))
    if abs(yaws[far] - yaws[0]) > lmk.MAX_YAW_GAP:
        raise SampleFailed(f"{faces_in[far].item.path}: head turned {yaws[far]:.2f} against the base's "
                           f"{yaws[0]:.2f} (more than {lmk.MAX_YAW_GAP} apart): its hidden side would be stretched in")
    grey = [colourless(im, lm) for im, lm in zip(imgs, lms)]
    for k in range(1, len(faces_in)) if grey[0] is None else ():  # its detail would be blended in with grey lips
        if grey[k] is not None:
            raise SampleFailed(f"{faces_in[k].item.path}: a black-and-white parent face (colourfulness "
                               f"{grey[k]:.3f} < {COLOURLESS}) for the colour base {faces_in[0].item.path}")
    p["glasses"] = [s.wears_glasses for s in faces_in]  # the base's rims kept whole, a parent's inpainted
    embs = [np.array(s.item.embedding, np.float32) for s in faces_in]
    weights = np.array(p["weights"])
    tries = []
    for _ in range(MAX_TRIES):
        out = morph(imgs, lms, list(weights), p)
        dist = check(out, embs)
        tries.append({"weights": [round(float(x), 4) for x in weights],
                      "distances": None if dist is None else [round(d, 4) for d in dist]})
        if dist is not None and min(dist) > MIN_NEW_IDENTITY:
            break
        if dist is None:
            raise SampleFailed(f"{faces_in[0].item.path}: no face with 68 landmarks found in the morph")
        weights = _shift_from(weights, int(np.argmin(dist)))
    else:
        nearest = faces_in[int(np.argmin(dist))].item.path
        raise SampleFailed(f"{nearest}: morph stays within {MIN_NEW_IDENTITY} of this parent after {MAX_TRIES} "
                           f"weightings (distances {[round(d, 3) for d in dist]})")
    p.update(final_weights=tries[-1]["weights"], parent_distances=tries[-1]["distances"], tries=tries,
             min_new_identity=MIN_NEW_IDENTITY)
    return Generated(save_image(out_stem, out), p, 1, 1)
