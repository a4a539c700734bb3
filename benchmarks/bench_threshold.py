"""Which rule for the saved threshold carries to new people: macro F1 of trained models under each rule, on
people they never trained on.

The models are not retrained; only the threshold differs. For each model, its val scores give each rule's
threshold: val's best (the rule before 6 Dec), 0.5, the best on train and val pooled, and val's best pulled
toward 0.5 by priors of 1, 2, 4 and 8 people (`detector.train.pick_threshold`; 2 is the default). Each threshold is
then applied to the model's own test split, to every file of each --heldout dataset (people the model never saw,
`gen detect eval --split all`; --drop leaves out files showing some people) and to each --labelled folder
(equalised with --equalise-cache, as `gen detect eval --equalise` does). A file without crops takes the model's
fallback label. The table gives, per rule and set, the mean and the worst macro F1 over the models.

    python benchmarks/bench_threshold.py --curve out/curve --heldout out/heldout \\
        --drop 'LivePortrait__d(0|3|9|12|18|20)(_photo)?' \\
        --labelled ../shared/wild=../shared/wild/index.csv --equalise-cache out/eq
    python benchmarks/bench_threshold.py --model model=out/demo          # one model and the dataset it trained on

--curve takes a `bench_curve.py --out` folder: each model under models/ with its dataset under data/.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from synthfake.detector.evaluate import evaluate
from synthfake.detector.metrics import best_threshold, macro_f1_at
from synthfake.detector.model import load_detector
from synthfake.detector.train import people_of, pick_threshold

PRIORS = (1, 2, 4, 8)


def split_scores(model: Path, dataset: Path, split: str, drop: str | None = None):
    """(labels, probabilities, people) of a dataset split; a file without crops keeps probability None."""
    _, recs, scores = evaluate(model, dataset, split, show=False, log=lambda *a: None)
    keep = [(r, s) for r, s in zip(recs, scores)
            if not (drop and any(re.fullmatch(drop, i) for i in r.identities))]
    people = people_of([r for r, s in keep if s.prob is not None])
    return [r.label for r, _ in keep], [s.prob for _, s in keep], people


def labelled_scores(model: Path, folder: Path, labels: Path, cache: Path | None):
    """(labels, probabilities) of a labelled folder, equalised first when a cache folder is given."""
    from synthfake.detector.external import labelled_files, score_labelled

    if cache is not None:
        from synthfake.detector.equalise import EqualiseSettings, equalise_folder

        eq = equalise_folder(folder, labels, EqualiseSettings(), cache, log=lambda *a: None)
        folder, labels = eq.folder, eq.labels
    rows, _ = labelled_files(folder, labels)
    probs = score_labelled(model, folder, rows, show=False, log=lambda *a: None)
    return [r.label for r in rows], [probs[r.path] for r in rows]


def thresholds(val, train) -> dict[str, float]:
    """Each rule's threshold from val's (and train's) scores; files without crops left out, as training does."""
    yv, pv = zip(*[(y, p) for y, p in zip(val[0], val[1]) if p is not None])
    yt, pt = zip(*[(y, p) for y, p in zip(train[0], train[1]) if p is not None])
    out = {"val's best (before)": best_threshold(yv, pv)[0], "0.5": 0.5,
           "best on train + val": best_threshold(yv + yt, pv + pt)[0]}
    for prior in PRIORS:
        out[f"pulled toward 0.5, prior {prior}" + (" (default)" if prior == 2 else "")] = \
            pick_threshold(yv, pv, len(val[2]), prior)[0]
    return out


def f1_at(labels, probs, fallback: float, t: float) -> float:
    p = np.array([fallback if q is None else q for q in probs], float)
    return float(macro_f1_at(labels, p, [t])[0])


def pairs(a) -> list[tuple[Path, Path]]:
    """(model, its training dataset) for every --model and every model of every --curve folder."""
    out = [tuple(map(Path, m.split("=", 1))) for m in a.model]
    for c in map(Path, a.curve):
        for m in sorted((c / "models").glob("*")):
            if (m / "config.json").is_file():
                out.append((m, c / "data" / m.name.rsplit("-", 1)[0]))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=[], help="MODEL_DIR=DATASET it trained on")
    ap.add_argument("--curve", action="append", default=[], help="a bench_curve.py --out folder")
    ap.add_argument("--heldout", action="append", default=[], help="a dataset of people no model saw")
    ap.add_argument("--drop", help="leave out held-out files with an identity matching this regular expression")
    ap.add_argument("--labelled", action="append", default=[], help="FOLDER=LABELS_CSV")
    ap.add_argument("--equalise-cache", type=Path, help="equalise --labelled sets into this folder first")
    a = ap.parse_args(argv)
    models = pairs(a)
    if not models:
        ap.error("give --model MODEL=DATASET or --curve FOLDER")
    console, results = Console(), {}
    for model, dataset in models:
        _, meta = load_detector(model)
        val, train = split_scores(model, dataset, "val"), split_scores(model, dataset, "train")
        sets = {"own test": split_scores(model, dataset, "test")[:2]}
        for h in map(Path, a.heldout):
            sets[f"{h.name} (all)"] = split_scores(model, h, "all", a.drop)[:2]
        for spec in a.labelled:
            folder, labels = map(Path, spec.split("=", 1))
            sets[folder.name] = labelled_scores(model, folder, labels, a.equalise_cache)
        for rule, t in thresholds(val, train).items():
            for name, (y, p) in sets.items():
                results.setdefault(rule, {}).setdefault(name, []).append(f1_at(y, p, float(meta.fallback_label), t))
        console.print(f"{model.name}: {len(val[2])} val people; " + ", ".join(
            f"{k} {len(v[0])} files" for k, v in sets.items()))
    names = list(next(iter(results.values())))
    table = Table(title=f"macro F1 over {len(models)} model(s): mean / worst, per threshold rule")
    table.add_column("threshold rule")
    for n in names:
        table.add_column(n, justify="right")
    for rule, by_set in results.items():
        table.add_row(rule, *(f"{np.mean(v):.3f} / {np.min(v):.3f}" for v in by_set.values()))
    console.print(table)


if __name__ == "__main__":
    main()
