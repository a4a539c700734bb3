"""How often a landmark_swap frame passes a glance, measured against what a person sees, with the previous
version (1.0: 68-point hull, LAB transfer on the hull, Poisson blend, feathered) as the baseline in the same run.

For each (source photo, target video) pair of ../shared/data with different people, N frames spread over the
target are swapped. Per frame (the target frame itself is the reference row):
- `found`: dlib finds a face whose eye and brow landmarks (17-26, 36-47) lie within 0.1 inter-ocular distance
  (mean) of the target frame's;
- `outliers`: share of face-hull pixels whose LAB chroma is > 20 from the hull's median, minus the target's;
- `brow doubling`: share of brows (3 inner points each) whose lightness profile along the face's up axis, from
  0.15 below to 0.5 above the brow landmarks, holds two dark valleys (prominence >= 6 L) instead of one;
- `ring dE`: |LAB mean of the face skin minus that of the skin ring around the face| in the output, minus the same
  in the target frame (a pale or tinted face on its own neck and cheeks);
- `edge hair added`: share of the face's edge band (0.2 inter-ocular distance inside the 68-point hull, above the
  nose tip, brows and eyes left out) that is dark in the output (L under 0.6 of the target's cheek median, where
  hair falls across a face) but not in the target frame: a source's hair strands pasted over its temples;
- `blur |log2|`: |log2| of the Laplacian variance of the face skin in the output over the target's;
- `mouth r`, `eyes r`: Pearson r over all frames between the target's mouth opening (eye opening) and the one
  dlib measures on the output (1: the swap follows the target's speech and blinks).

Rows for `aligned_swap` (one per model family: the same swap inside the family's aligned crop, pasted back) are
added after landmark_swap's: its `blur` column measures the working size's loss of detail, which is the family's
trace, not a defect of the swap.

    python benchmarks/bench_swap_quality.py [--frames 4]
    python benchmarks/bench_swap_quality.py --sources DIR --photos a.jpg b.jpg --videos x.mp4 y.mp4   # other sources
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from synthfake import faces, media
from synthfake.generators import aligned_swap, landmark_swap
from synthfake.generators import swap_regions as sr
from synthfake import glasses as glasses_of
from synthfake import landmarks as lmk
from synthfake.generators.common import skin
from synthfake.generators.common import warp

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EYES_BROWS = np.r_[17:27, 36:48]


def swap_v1(src, src_lm, tris68, dst, dst_lm):
    """landmark_swap 1.0 as it was (seed 0's parameters): the baseline."""
    x0, y0, x1, y1 = faces.margin_box(faces.box_from_landmarks(dst_lm), 0.25, dst.shape)
    roi = dst[y0:y1, x0:x1]
    lm = dst_lm - np.array([x0, y0], np.float32)
    warped, covered = warp.piecewise_affine(src, src_lm, lm, tris68, roi.shape[:2])
    mask = warp.hull_mask(lm, roi.shape[:2], erode=2) & covered
    warped = cv2.addWeighted(warp.lab_transfer(warped, roi, mask), 0.9, warped, 0.1, 0)
    alpha = warp.feather(mask, 5)[..., None]
    out = dst.copy()
    out[y0:y1, x0:x1] = np.clip(alpha * warp.poisson_blend(warped, roi, mask) + (1 - alpha) * roi + .5, 0, 255)
    return out


def outlier_share(rgb: np.ndarray, lm: np.ndarray) -> float:
    mask = warp.hull_mask(lm, rgb.shape[:2], erode=3) > 0
    ab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 1:].astype(np.float32)[mask]
    return float((np.linalg.norm(ab - np.median(ab, 0), axis=1) > 20).mean())


def brow_doubling(rgb: np.ndarray, lm: np.ndarray) -> float:
    L = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32), (0, 0), 1.0)
    iod, up = float(lmk.interocular(lm)), lmk.up_vector(lm)
    t = np.linspace(-0.15, 0.5, 40) * iod
    doubled = []
    for idx in ([18, 19, 20], [23, 24, 25]):
        prof = np.mean([cv2.remap(L, (lm[i, 0] + t * up[0])[None].astype(np.float32),
                                  (lm[i, 1] + t * up[1])[None].astype(np.float32), cv2.INTER_LINEAR)[0]
                        for i in idx], 0)
        valleys = [k for k in range(2, 38) if prof[k] == prof[k - 2:k + 3].min()
                   and min(prof[:k].max(), prof[k + 1:].max()) - prof[k] >= 6]
        doubled.append(len(valleys) >= 2)
    return float(np.mean(doubled))


def skin_and_ring(rgb_target: np.ndarray, lm: np.ndarray):
    shape = rgb_target.shape[:2]
    is_skin = skin.skin_likelihood(cv2.cvtColor(rgb_target, cv2.COLOR_RGB2LAB).astype(np.float32), lm) > 0.3
    inner = sr.face_interior(lm, shape) > 0
    k = max(3, int(0.25 * float(lmk.interocular(lm))))
    hull = warp.hull_mask(sr.extend(lm), shape)
    ring = (cv2.dilate(hull, np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0) & (hull == 0) & is_skin
    return inner & is_skin, ring


def edge_hair(rgb: np.ndarray, target: np.ndarray, lm: np.ndarray) -> float:
    shape = rgb.shape[:2]
    iod = float(lmk.interocular(lm))
    hull = warp.hull_mask(lm, shape)
    k = 2 * max(1, int(0.2 * iod)) + 1
    band = (hull > 0) & (cv2.erode(hull, np.ones((k, k), np.uint8)) == 0) & (lmk.height_above(shape, lm, lm[33]) > 0)
    features = np.zeros(shape, np.uint8)  # brows, eyes and lashes are dark in any swap: not counted
    for idx in (np.arange(17, 22), np.arange(22, 27), *sr.EYES):
        cv2.polylines(features, [np.round(lm[idx]).astype(np.int32)], idx[0] >= 36, 255, max(3, int(0.3 * iod)))
    band &= features == 0
    L_t = cv2.cvtColor(target, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    line = skin.SKIN_DARKEST * float(np.median(L_t[skin.cheeks(shape, lm) > 0]))
    L_o = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    return float(((L_o < line) & (L_t >= line))[band].mean()) if band.any() else 0.0


def ring_de(rgb: np.ndarray, inner, ring) -> float:
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    return float(np.linalg.norm(lab[inner].mean(0) - lab[ring].mean(0))) if ring.sum() > 50 else np.nan


def eye_open(lm: np.ndarray) -> float:
    v = np.linalg.norm(lm[[37, 38, 43, 44]] - lm[[41, 40, 47, 46]], axis=1).mean()
    return float(v / lmk.interocular(lm))


def aligned(model: str) -> dict:
    """aligned_swap's settings of seed 0 with the model (and its FaceFusion pipeline) fixed."""
    tpl, size, _ = aligned_swap.FAMILIES[model]
    return dict(aligned_swap.draw(0), model=model, template=tpl, working_size=size, pipeline="facefusion",
                crop_interp="area", paste_mask="facefusion_box", face_mask_blur=0.3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--sources", type=Path, default=DATA, help="a folder with faces/ and videos/")
    ap.add_argument("--photos", nargs="+", default=["photo_s1.jpg", "photo_s12.jpg", "photo_s42.jpg"])
    ap.add_argument("--videos", nargs="*", help="target videos in DIR/videos (default: all)")
    args = ap.parse_args()
    data, photos = args.sources, args.photos
    videos = args.videos or sorted(p.name for p in (data / "videos").glob("*.mp4"))
    names = ["target frame (reference)", "landmark_swap 1.0 (baseline)", f"landmark_swap {landmark_swap.VERSION}",
             *(f"aligned_swap {aligned_swap.VERSION} {m}" for m in aligned_swap.FAMILIES)]
    m = {k: {q: [] for q in ("found", "outl", "brow", "hair", "ring", "blur", "mouth", "eyes")} for k in names}
    tgt_mouth, tgt_eyes, skipped, glasses = [], [], 0, []
    for ph in photos:
        src = media.read_image(data / "faces" / ph)
        sf = faces.detect(src)
        tris68, tris = warp.delaunay(sf.landmarks), warp.delaunay(sr.extend(sf.landmarks))
        p2 = dict(landmark_swap._params(0), source_fringe=sr.source_fringe(src, sf.landmarks))
        families = [aligned(m) for m in aligned_swap.FAMILIES]
        for v in videos:
            sampled = [(fr, faces.detect(fr)) for _, fr in media.frames_of(data / "videos" / v, args.frames)]
            sampled = [(fr, tf.landmarks) for fr, tf in sampled if tf is not None]
            scores = [glasses_of.score(fr, lm) for fr, lm in sampled]
            glasses += scores  # a target wearing glasses is swapped below them, as `gen run` does for its person
            p2["below_glasses"] = glasses_of.wears("video", float(np.median(scores)) if scores else None)
            swappers = [aligned_swap.Swapper(src, sf.landmarks, dict(f, below_glasses=p2["below_glasses"]))
                        for f in families]
            for frame, lm in sampled:
                if landmark_swap.occlusion(frame, lm, sf.landmarks, p2["below_glasses"]):
                    skipped += 1
                    continue
                outs = [frame, swap_v1(src, sf.landmarks, tris68, frame, lm),
                        landmark_swap.swap_frame(src, sf.landmarks, tris, frame, lm, p2),
                        *(sw.frame(frame, lm) for sw in swappers)]
                inner, ring = skin_and_ring(frame, lm)
                base_out, base_ring = outlier_share(frame, lm), ring_de(frame, inner, ring)
                base_sharp = sr.sharpness(frame, inner.astype(np.uint8))
                tgt_mouth.append(float(lmk.mouth_opening(lm)))
                tgt_eyes.append(eye_open(lm))
                for k, out in zip(names, outs):
                    f = faces.detect(out)
                    ok = f is not None and np.linalg.norm(f.landmarks[EYES_BROWS] - lm[EYES_BROWS],
                                                          axis=1).mean() < 0.1 * float(lmk.interocular(lm))
                    m[k]["found"].append(ok)
                    m[k]["outl"].append(outlier_share(out, lm) - base_out)
                    m[k]["brow"].append(brow_doubling(out, lm))
                    m[k]["hair"].append(edge_hair(out, frame, lm))
                    m[k]["ring"].append(abs(ring_de(out, inner, ring) - base_ring))
                    sharp = sr.sharpness(out, inner.astype(np.uint8))
                    m[k]["blur"].append(abs(np.log2((sharp + 1) / (base_sharp + 1))))
                    m[k]["mouth"].append(float(lmk.mouth_opening(f.landmarks)) if f else np.nan)
                    m[k]["eyes"].append(eye_open(f.landmarks) if f else np.nan)
    print(f"{len(photos)} sources x {len(videos)} targets x {args.frames} frames; {skipped} frames skipped as "
          f"occluded/turned by {landmark_swap.VERSION}; glasses score of the target frames max {max(glasses):.2f} "
          f"(threshold {glasses_of.FRAME_MAX})\n")
    print("| frames | n | eyes+brows found in place | colour outliers added (mean) | brow doubling | edge hair added "
          "(mean) | ring dE (mean) | blur abs log2 (mean) | mouth r | eyes r |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in names:
        q = {a: np.array(b, np.float64) for a, b in m[k].items()}
        r_m = lmk.pearson(np.array(tgt_mouth)[~np.isnan(q["mouth"])], q["mouth"][~np.isnan(q["mouth"])])
        r_e = lmk.pearson(np.array(tgt_eyes)[~np.isnan(q["eyes"])], q["eyes"][~np.isnan(q["eyes"])])
        print(f"| {k} | {len(q['found'])} | {100 * q['found'].mean():.1f} % | {100 * q['outl'].mean():.2f} % | "
              f"{100 * q['brow'].mean():.1f} % | {100 * q['hair'].mean():.2f} % | {np.nanmean(q['ring']):.2f} | "
              f"{q['blur'].mean():.2f} | {r_m:.2f} | {r_e:.2f} |")


if __name__ == "__main__":
    main()
