"""Does the data teach? A learning curve: detectors trained on n = 50, 200, 800 fakes (as many reals) per data recipe.

For each data recipe (recipes/data/*.json) and each n, `gen run --recipe` builds a dataset (1 s clips, splits
60/20/20 by identity, seed 0) and the default CPU detector recipe (detector/default_recipe.json, the file in
recipes/detector/) is trained on it. Each point reports the minutes to generate and to train, the ROC AUC on
the dataset's own test split (identities never seen in training), and the ROC AUC on the external set
(../shared/wild, never tuned on) as found and equalised (every file re-encoded by one writer, `gen detect eval
--labels --equalise`), each with its 95 % bootstrap interval over files, the AUC per external kind (that kind's
fakes against all reals, with its interval), the AUC per media (image fakes against real images, video against
video; points made before this column show "-"), and the confound AUC (best single media property) of each
version of the external set: the bar a detector must clear to say more than file format or size.

Everything is cached under --out (datasets, crops, models, one JSON per point): a rerun only does what is
missing, so an interrupted curve resumes. Points run smallest n first, so a cut-short run has whole columns.

    python benchmarks/bench_curve.py --out out/curve                       # the README's curve (hours on 2 cores)
    python benchmarks/bench_curve.py --out /tmp/c --sizes 8 --recipes only_face_swap --epochs 1   # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import ROOT, SHARED, SHORT, TYPES, build, dataset_name, log  # noqa: E402

RECIPES = ("all4", "all4_self_blend", "only_face_swap")
SIZES = (50, 200, 800)
BOOT = 1000


def train_options(a):
    """The detector recipe's options (the default recipe unless --detector), workers and epochs from the flags."""
    from synthfake.detector.train import RECIPE_ONLY, TrainOptions
    from synthfake.recipe import read_recipe

    keys = {"image_size", "epochs", "batch_size", "lr", "frames", "score_frames", "margin", "center_fallback",
            "fallback_label", "seed", *RECIPE_ONLY}
    r = read_recipe(a.detector, keys)
    if a.epochs is not None:
        r["epochs"] = a.epochs
    return TrainOptions(**r, workers=a.workers, show=False)


def model_for(ds: Path, a) -> tuple[Path, float]:
    """(model folder trained on `ds`, training seconds); cached by dataset and every training option."""
    from synthfake.detector.train import train
    from synthfake.files import canonical_hash, write_json_atomic

    o = train_options(a)
    key = canonical_hash({"ds": ds.name, "opts": {k: v for k, v in asdict(o).items() if k not in ("show", "workers")}})
    d = a.out / "models" / f"{ds.name}-{key[:10]}"
    done = d / "trained.json"
    if not done.is_file():
        t = time.time()
        with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its loss log; keep stdout for the table
            train(ds, d, o, log=lambda m: None)
        write_json_atomic(done, {"seconds": time.time() - t, "options": asdict(o)})
    return d, json.loads(done.read_text())["seconds"]


def own_test(model: Path, ds: Path, a) -> dict:
    """ROC AUC on the dataset's own test split with its bootstrap interval (files resampled)."""
    from synthfake.detector.evaluate import evaluate
    from synthfake.detector.external import report_external
    from synthfake.labels import Labelled

    rep, recs, scores = evaluate(model, ds, "test", workers=a.workers, show=False, log=lambda m: None)
    rows = [Labelled(r.id, r.label, r.type, r.backend) for r in recs]
    probs = {r.id: s.prob for r, s in zip(recs, scores)}
    meta = json.loads((model / "detector.json").read_text())
    from synthfake.detector.meta import DetectorMeta

    boot = report_external(str(ds), rows, probs, DetectorMeta(threshold=meta["threshold"]), [], boot=BOOT)
    return {"roc_auc": boot.roc_auc, "ci": boot.roc_auc_ci, "files": rep.files, "fakes": boot.fakes,
            "macro_f1": rep.macro_f1, "recall_by_type": rep.recall_by_type}


def external(model: Path, a) -> dict:
    """The model on the external set as found and equalised (one equalised copy, cached under --out)."""
    from synthfake.detector.equalised_eval import evaluate_equalised

    reps = evaluate_equalised(model, a.wild, a.wild / "index.csv", cache=a.out / "equalised", workers=a.workers,
                              show=False, log=lambda m: None)
    out = {}
    for name, rep in reps.items():
        d = rep.as_dict()
        out[name] = {"roc_auc": d["roc_auc"], "ci": d["roc_auc_ci"], "files": d["files"], "fakes": d["fakes"],
                     "confound": d["confound"], "confound_auc": d["confound_auc"], "no_crops": d["no_crops"],
                     "kinds": d["auc_by_kind"], "media": d["auc_by_media"], "skipped": d["skipped"]}
    return out


def point(recipe: str, n: int, a) -> dict:
    """One point of the curve, computed once and cached as JSON under --out/points/, named by its dataset (recipe,
    n, seed, clip length) and the detector's options."""
    from synthfake.files import write_json_atomic

    path = a.out / "points" / f"{dataset_name(recipe, replace_n(a, n))}-{a.tag}.json"
    if path.is_file():
        return json.loads(path.read_text())
    t0 = time.time()
    log(f"{recipe} n={n}: dataset")
    ds = build(recipe, replace_n(a, n), {})
    gen_s = json.loads((ds / "built.json").read_text())["seconds"]
    log(f"{recipe} n={n}: training")
    model, train_s = model_for(ds, a)
    log(f"{recipe} n={n}: scoring")
    t1 = time.time()
    meta = json.loads((model / "detector.json").read_text())
    row = {"recipe": recipe, "n": n, "detector": a.detector.resolve().name, "dataset": str(ds), "model": str(model),
           "generate_min": gen_s / 60,
           "train_min": train_s / 60, "train_crops": meta["train_crops"], "own": own_test(model, ds, a),
           **external(model, a)}
    row["score_min"] = (time.time() - t1) / 60
    row["this_run_min"] = (time.time() - t0) / 60  # what this invocation spent on the point (cached parts are free)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, row)
    log(f"{recipe} n={n}: own {row['own']['roc_auc']:.3f}, external {row['found']['roc_auc']:.3f} found, "
        f"{row['equalised']['roc_auc']:.3f} equalised")
    return row


def replace_n(a, n: int):
    b = argparse.Namespace(**vars(a))
    b.n = n
    return b


def _f(v, nd=2) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{nd}f}"


def _ci(v, ci) -> str:
    return f"{_f(v)} [{_f(ci[0])}, {_f(ci[1])}]" if ci else _f(v)


def table(rows: list[dict], a) -> str:
    """The curve as a Markdown table (the README's), one row per point."""
    kinds = [k for k in TYPES if any(k in r["equalised"]["kinds"] for r in rows)]
    media = [m for m in ("image", "video") if any(m in r["equalised"].get("media", {}) for r in rows)]
    head = ["data recipe", "detector recipe", "n", "gen min", "train min", "train crops", "own-test AUC [95 %]",
            "ext AUC found [95 %]", "ext AUC equalised [95 %]", *(f"eq {SHORT[k]}" for k in kinds),
            *(f"eq {m}s" for m in media), "confound found / eq"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        f, e = r["found"], r["equalised"]
        lines.append("| " + " | ".join([
            r["recipe"], r.get("detector", "-").removesuffix(".json"), str(r["n"]), _f(r["generate_min"], 1),
            _f(r["train_min"], 1), str(r["train_crops"]),
            _ci(r["own"]["roc_auc"], r["own"]["ci"]), _ci(f["roc_auc"], f["ci"]), _ci(e["roc_auc"], e["ci"]),
            *(_ci(e["kinds"][k]["auc"], e["kinds"][k]["ci"]) if k in e["kinds"] else "-" for k in kinds),
            *(_ci(e["media"][m]["auc"], e["media"][m]["ci"]) if m in e.get("media", {}) else "-" for m in media),
            f"{_f(f['confound_auc'])} / {_f(e['confound_auc'])}"]) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("out/curve"), help="Cache of datasets, models and points.")
    p.add_argument("--sources", type=Path, default=SHARED / "data")
    p.add_argument("--wild", type=Path, default=SHARED / "wild")
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), help="Names under recipes/data/.")
    p.add_argument("--sizes", nargs="+", type=int, default=list(SIZES), help="Fakes per dataset (as many reals).")
    p.add_argument("--detector", type=Path, default=ROOT / "detector" / "default_recipe.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clip-seconds", type=float, default=1.0)
    p.add_argument("--splits", default="train=0.6,val=0.2,test=0.2")
    p.add_argument("--epochs", type=float, default=None, help="Override the detector recipe's epochs.")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default). On a machine "
                   "shared past its cores, 1 trains several times faster than 2 (threads wait on each other).")
    p.add_argument("--json", type=Path, default=None, help="Also write every point as one JSON list.")
    a = p.parse_args()
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    a.recipes_dir, a.recipes = a.recipes, ROOT / "recipes" / "data"
    if not (a.wild / "index.csv").is_file():
        raise SystemExit(f"{a.wild}/index.csv: external set not found")
    a.out.mkdir(parents=True, exist_ok=True)
    from synthfake.files import canonical_hash

    a.tag = canonical_hash(asdict(train_options(a)) | {"workers": 0}, 8)  # points of another detector recipe differ
    rows = []
    for n in sorted(a.sizes):
        for r in a.recipes_dir:
            rows.append(point(r, n, a))
    rows.sort(key=lambda r: (a.recipes_dir.index(r["recipe"]), r["n"]))
    print(table(rows, a))
    print(f"\nconfound = the best single media property's AUC (as found / equalised); own-test: the dataset's "
          f"test split (identities never trained on); detector recipe {a.detector}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
