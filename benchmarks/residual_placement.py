"""Where a fake's residual sits, ours against real models': flat blocks, structured blocks, their ratio, kurtosis.

The detector's residual statistics are means over a region; they say how much fine detail a face holds, not where.
A camera leaves sensor noise everywhere, flat skin included; a generator's image is a denoiser's output, clean
where the scene is flat and detailed at structure. This prints, per fake type, the ROC AUC of each placement
statistic for a dataset's fakes against their paired reals (`params.paired_with`) and for a labelled folder's
fakes of that kind against its reals of the same media (equalised first, as `gen detect eval --equalise` does), and
whether the two agree in sign. A stand-in whose column disagrees with the real family's teaches a detector the
family backwards. Statistics on the face core of each 224 px crop (the detector's crop pipeline, 4 frames a video):
KB residual of 8x8 blocks, the flattest and the most structured quarter by Sobel gradient.

    python benchmarks/residual_placement.py DATASET ../shared/wild [--labels ../shared/wild/index.csv]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

KB = np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], np.float32) / 4
CORE = slice(48, 176)  # the face core of a 224 px crop (detector/residual_stats.py's region_masks)
STATS = ("flat", "edge", "flat/edge", "p10 block", "core mean", "kurtosis")


def placement(crop: np.ndarray) -> dict[str, float]:
    """Placement statistics of one RGB uint8 crop (224 px): log KB residual of the flattest and the most structured
    quarter of the core's 8x8 blocks, their log ratio, the 10th percentile block, the core's mean, the kurtosis."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    r = np.abs(cv2.filter2D(grey, -1, KB, borderType=cv2.BORDER_REFLECT))[CORE, CORE]
    g = (np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1)))[CORE, CORE]
    n = r.shape[0] // 8
    rb, gb = (x.reshape(n, 8, n, 8).mean(axis=(1, 3)).ravel() for x in (r, g))
    order = np.argsort(gb, kind="stable")
    q = len(order) // 4
    flat, edge = np.log(rb[order[:q]].mean() + 1e-3), np.log(rb[order[-q:]].mean() + 1e-3)
    c = r - r.mean()
    return {"flat": flat, "edge": edge, "flat/edge": flat - edge, "p10 block": np.log(np.percentile(rb, 10) + 1e-3),
            "core mean": np.log(r.mean() + 1e-3), "kurtosis": float((c ** 4).mean() / (c.var() ** 2 + 1e-6))}


def file_stats(crops: np.ndarray) -> dict[str, float] | None:
    """The mean of each statistic over a file's crops; None for a file without crops."""
    if not len(crops):
        return None
    rows = [placement(c) for c in crops]
    return {k: float(np.mean([row[k] for row in rows])) for k in STATS}


def dataset_groups(ds: Path, workers: int) -> dict[str, tuple[list, list]]:
    """{fake type: (its fakes' stats, their paired reals' stats)}."""
    from synthfake.detector.crops import CropSettings, iter_record_crops
    from synthfake.tally import planned_records

    records = planned_records(ds)
    stats = {r.id: file_stats(fc.crops) for r, fc in
             zip(records, iter_record_crops(ds, records, CropSettings(frames=4, size=224), workers))}
    by_id = {r.id: r for r in records}
    out: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for r in records:
        fake = by_id.get(r.params.get("paired_with", "")) if r.label == 0 else None
        if fake is not None and stats.get(r.id) and stats.get(fake.id):
            out[fake.type][0].append(stats[fake.id])
            out[fake.type][1].append(stats[r.id])
    return out


def folder_groups(folder: Path, labels: Path, workers: int) -> dict[str, tuple[list, list]]:
    """{kind: (its fakes' stats, the stats of the folder's reals of the media its fakes are)}, equalised first."""
    from synthfake.detector.crops import CropSettings, file_crops, is_video_file
    from synthfake.detector.equalise import equalise_folder
    from synthfake.labels import read_labels

    eq = equalise_folder(folder, labels, workers=workers, log=lambda *a: None)
    kind = {row.path: row.kind for row in read_labels(labels, folder)}
    fakes, reals = defaultdict(list), {True: [], False: []}
    for row in read_labels(eq.labels, eq.folder):
        s = file_stats(file_crops(eq.folder / row.path, CropSettings(frames=4, size=224)).crops)
        if s is None:
            continue
        video = is_video_file(row.path)
        if row.label == 1:
            fakes[(kind.get(eq.source_of.get(row.path, row.path)) or "?", video)].append(s)
        else:
            reals[video].append(s)
    out: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for (k, video), fs in fakes.items():
        out[k][0].extend(fs)
        out[k][1].extend(reals[video])
    return out


def auc(fakes: list, reals: list, key: str) -> float | None:
    from sklearn.metrics import roc_auc_score

    if not fakes or not reals:
        return None
    return float(roc_auc_score([1] * len(fakes) + [0] * len(reals), [s[key] for s in fakes + reals]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--labels", type=Path)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    ours = dataset_groups(a.dataset, a.workers)
    theirs = folder_groups(a.folder, a.labels or a.folder / "index.csv", a.workers)
    t = Table(title=f"ROC AUC, fakes against reals: ours ({a.dataset}) / real models' ({a.folder}, equalised)")
    t.add_column("statistic")
    kinds = sorted(set(ours) & set(theirs))
    for k in kinds:
        t.add_column(f"{k} ({len(ours[k][0])} / {len(theirs[k][0])})", justify="right")
    for key in STATS:
        cells = []
        for k in kinds:
            a1, a2 = auc(*ours[k], key), auc(*theirs[k], key)
            agree = "" if a1 is None or a2 is None else (" same" if (a1 - .5) * (a2 - .5) > 0 else " AGAINST")
            cells.append(f"{a1:.2f} / {a2:.2f}{agree}" if a1 is not None and a2 is not None else "-")
        t.add_row(key, *cells)
    Console().print(t)


if __name__ == "__main__":
    main()
