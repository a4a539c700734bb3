"""Which trace each backend leaves: a fake's residual statistics minus its paired real's, per backend.

A fake and its paired real are the same clip or photo (`params.paired_with`), so their difference is the
manipulation's. Each file's crops (the detector's crop pipeline and cache, 224 px, 16 frames) go through the
residual_stats model's fixed features (`detector/residual_stats.py`): the mean log size of a high-pass residual
over the face core, the margin ring, the mouth and the eyes. A family stand-in should lower the core's or the
mouth's residual (the face regenerated at a lower size) and leave the ring as it was; a whole-image change of
the ring is a trace of the backend's own.

    python benchmarks/residual_traces.py DATASET [DATASET ...] [--workers 1]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table



def columns() -> list[tuple[int, str]]:
    """(feature column, label): the KB residual truncated at 3 grey levels in each region, then the gradients in
    the core and the ring, found by name in the model's feature list."""
    from synthfake.detector.residual_stats import REGIONS, feature_names

    names = feature_names()
    return ([(names.index(f"kb_t {r}"), f"{r} KB") for r in REGIONS]
            + [(names.index(f"grad {r}"), f"{r} grad") for r in ("core", "ring")])


def file_features(ds: Path, workers: int) -> tuple[dict, dict]:
    """({record id: mean feature vector over its crops}, {record id: record}) over every split."""
    import torch

    from synthfake.detector.crops import CropSettings, iter_record_crops
    from synthfake.detector.model import load_base
    from synthfake.detector.score import to_pixels
    from synthfake.tally import planned_records

    model, meta = load_base(None, 224, arch={"type": "residual_stats"})
    records = planned_records(ds)
    feats, recs = {}, {r.id: r for r in records}
    for r, fc in zip(records, iter_record_crops(ds, records, CropSettings(frames=16, size=224), workers)):
        if len(fc.crops):
            x = torch.from_numpy(to_pixels(list(fc.crops), [False] * len(fc.crops), meta.mean, meta.std))
            with torch.no_grad():
                feats[r.id] = model.features(x).numpy().mean(0)
    return feats, recs


def paired_differences(feats: dict, recs: dict) -> dict[str, np.ndarray]:
    """{backend: (pairs, features) fake minus its paired real}; pairs of an image and a video apart."""
    out = defaultdict(list)
    for rid, r in recs.items():
        fake = recs.get(r.params.get("paired_with", "")) if r.label == 0 else None
        if fake is not None and rid in feats and fake.id in feats:
            kinds = (fake.media.kind, r.media.kind)  # a still of a video paired with the clip: its own row
            out[fake.backend if kinds[0] == kinds[1] else f"{fake.backend} ({kinds[0]} vs {kinds[1]} real)"].append(
                feats[fake.id] - feats[rid])
    return {b: np.asarray(v) for b, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("datasets", nargs="+", type=Path)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args()
    t = Table(title="fake minus its paired real: mean log residual size (share of pairs below 0)")
    cols = columns()
    for c in ("dataset", "backend", "pairs", *(label for _, label in cols)):
        t.add_column(c)
    for ds in a.datasets:
        diffs = paired_differences(*file_features(ds, a.workers))
        for b, d in sorted(diffs.items()):
            t.add_row(ds.name, b, str(len(d)), *(f"{d[:, j].mean():+.2f} ({(d[:, j] < 0).mean():.0%})" for j, _ in cols))
    Console(width=200).print(t)


if __name__ == "__main__":
    main()
