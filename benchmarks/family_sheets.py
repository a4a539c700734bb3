"""Side-by-side sheets, one PNG per backend of a dataset: each fake beside its paired real, and their faces at 2x.

A row: the fake's middle frame, the paired real's same frame (both scaled to ROW px high), then the face of each
(its landmarks' box) at twice its pixels, or as large as the FACE px panel allows (the factor is written on it),
nearest-neighbour, so a 128 px swap square or a 96 px mouth crop shows as it is. When a redrawn fake's paired real
is another file than the fake's own target (a plan bug being fixed elsewhere), the target's same frame is shown
instead, and the row says so. For looking at full size, not for a score.

    python benchmarks/family_sheets.py DATASET --out DIR [--rows 6]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from synthfake import faces, media
from synthfake.manifest import read_records, resolve
from synthfake.shared_types import PAIR_ROLE

ROW = 480
FACE = 480  # the face panel's side


def middle_frame(path: Path, kind: str, frames: int) -> np.ndarray:
    return media.read_image(path) if kind == "image" else media.read_frames(path, max(0, frames // 2), 1)[0]


def fit(img: np.ndarray, h: int) -> np.ndarray:
    return cv2.resize(img, (max(1, round(img.shape[1] * h / img.shape[0])), h), interpolation=cv2.INTER_AREA)


def face_2x(img: np.ndarray, box) -> np.ndarray:
    """The face box at 2x its pixels, or at the largest factor that fits a FACE square (nearest), on grey."""
    x0, y0, x1, y1 = box
    crop = img[y0:y1, x0:x1]
    k = min(2.0, FACE / max(crop.shape[:2]))
    big = cv2.resize(crop, (max(1, int(crop.shape[1] * k)), max(1, int(crop.shape[0] * k))),
                     interpolation=cv2.INTER_NEAREST if k >= 1 else cv2.INTER_AREA)
    out = np.full((FACE, FACE, 3), 128, np.uint8)
    out[:big.shape[0], :big.shape[1]] = big
    cv2.putText(out, f"x{k:.2f}", (4, FACE - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def row(fake: np.ndarray, real: np.ndarray, label: str) -> np.ndarray:
    face = faces.detect(real) or faces.detect(fake)
    if face is not None:
        box = faces.margin_box(faces.box_from_landmarks(face.landmarks), 0.05, real.shape)
    else:
        box = (0, 0, real.shape[1], real.shape[0])
    if fake.shape != real.shape:  # a reenactment's real is its driving clip: its face is the driver's
        ff = faces.detect(fake)
        fbox = faces.margin_box(faces.box_from_landmarks(ff.landmarks), 0.05, fake.shape) if ff else box
    else:
        fbox = box
    parts = [fit(fake, ROW), fit(real, ROW), face_2x(fake, fbox), face_2x(real, box)]
    out = np.concatenate([np.pad(p, ((0, 0), (0, 4), (0, 0)), constant_values=255) for p in parts], 1)
    cv2.putText(out, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rows", type=int, default=6)
    a = ap.parse_args(argv)
    recs = read_records(a.dataset)
    root = Path(json.loads((a.dataset / "sources.json").read_text())["root"])
    real_of = {r.params.get("paired_with"): r for r in recs if r.label == 0 and r.params.get("paired_with")}
    by = defaultdict(list)
    for r in sorted(recs, key=lambda r: r.index):
        if r.label == 1 and r.id in real_of and len(by[r.backend]) < a.rows:
            by[r.backend].append(r)
    a.out.mkdir(parents=True, exist_ok=True)
    for backend, fakes in by.items():
        rows = []
        for r in fakes:
            real = real_of[r.id]
            f = middle_frame(resolve(a.dataset, r), r.media.kind, r.media.frames)
            own = next((s for s in r.sources if s.role == PAIR_ROLE[r.type]), None)
            label = f"{r.type} {backend} {r.id} " + " ".join(f"{k}={r.params[k]}" for k in
                                                              ("model", "pipeline", "working_size") if k in r.params)
            if own is not None and own.path != real.sources[0].path:  # the real is not the fake's own target
                kind = media.kind_of(own.path)
                g = media.read_image(root / own.path) if kind == "image" else media.read_frames(
                    root / own.path, int(r.params.get("clip_start", 0)) + r.media.frames // 2, 1)[0]
                label += " | target shown (paired real is another file)"
            else:
                g = middle_frame(resolve(a.dataset, real), real.media.kind, real.media.frames)
            rows.append(row(f, g, label))
        width = max(x.shape[1] for x in rows)
        sheet = np.concatenate([np.pad(x, ((0, 6), (0, width - x.shape[1]), (0, 0)), constant_values=255)
                                for x in rows], 0)
        path = a.out / f"{backend}.png"
        path.write_bytes(media.encode_png(sheet))
        print(path, sheet.shape)


if __name__ == "__main__":
    main()
