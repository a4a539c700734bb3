"""How often a landmark_swap frame passes a glance, measured: dlib still finds the face with its eyes and brows
where the target's are, and few colour outliers inside the face.

For each (source photo, target video) pair of ../shared/data with different people, 8 frames spread over the
target are swapped with `landmark_swap.swap_frame`. Per frame: `found` = dlib finds a face whose eye and brow
landmarks (17-26, 36-47) lie within 0.1 inter-ocular distance (mean) of the target frame's; `outliers` = share of
pixels inside the target's landmark hull whose LAB chroma is over 20 units from the hull's median chroma, in the
swapped frame minus the same in the target frame (blotches the swap added). The baseline row is the target frame
itself (no swap). Prints a table.

    python benchmarks/bench_swap_quality.py [--frames 8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from synthfake import faces, media
from synthfake.generators.common import warp
from synthfake.generators.common import landmarks as lmk
from synthfake.generators import landmark_swap

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EYES_BROWS = np.r_[17:27, 36:48]


def outlier_share(rgb: np.ndarray, lm: np.ndarray) -> float:
    mask = warp.hull_mask(lm, rgb.shape[:2], erode=3) > 0
    ab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 1:].astype(np.float32)[mask]
    return float((np.linalg.norm(ab - np.median(ab, 0), axis=1) > 20).mean())


def judge(out: np.ndarray, lm: np.ndarray) -> bool:
    f = faces.detect(out)
    if f is None:
        return False
    err = np.linalg.norm(f.landmarks[EYES_BROWS] - lm[EYES_BROWS], axis=1).mean()
    return bool(err < 0.1 * float(lmk.interocular(lm)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=8)
    args = ap.parse_args()
    photos = ["photo_s1.jpg", "photo_s12.jpg", "photo_s42.jpg"]
    videos = sorted(p.name for p in (DATA / "videos").glob("*.mp4"))
    rows = {"target frame (baseline)": [], "landmark_swap": []}
    outl = {"target frame (baseline)": [], "landmark_swap": []}
    for ph in photos:
        src = media.read_image(DATA / "faces" / ph)
        sf = faces.detect(src)
        tris = warp.delaunay(sf.landmarks)
        for v in videos:
            for _, frame in media.sample_frames(DATA / "videos" / v, args.frames):
                tf = faces.detect(frame)
                if tf is None:
                    continue
                out = landmark_swap.swap_frame(src, sf.landmarks, tris, frame, tf.landmarks, landmark_swap._params(0))
                base = outlier_share(frame, tf.landmarks)
                rows["target frame (baseline)"].append(judge(frame, tf.landmarks))
                rows["landmark_swap"].append(judge(out, tf.landmarks))
                outl["target frame (baseline)"].append(0.0)
                outl["landmark_swap"].append(outlier_share(out, tf.landmarks) - base)
    print(f"| frames ({len(photos)} sources x {len(videos)} targets x {args.frames}) | n | eyes+brows found in place | "
          f"colour outliers added (mean / p90) |")
    print("|---|---|---|---|")
    for k in rows:
        o = np.array(outl[k])
        print(f"| {k} | {len(rows[k])} | {100 * np.mean(rows[k]):.1f} % | {100 * o.mean():.2f} % / "
              f"{100 * np.percentile(o, 90):.2f} % |")


if __name__ == "__main__":
    main()
