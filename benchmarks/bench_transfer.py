"""What the data teaches: one detector recipe trained on datasets of several data recipes, scored on real-model fakes.

From the same sources and seed, each data recipe (recipes/data/*.json, passed to `gen run --recipe`) builds a
dataset; the same detector recipe (recipes/detector/small_cnn_cpu.json, `gen detect train --recipe`, fixed seed and
budget) is trained on each; each model is scored on an external labelled folder (../shared/wild, never tuned on)
with `gen detect eval --labels` and on synthetic test splits. Baselines in the same run: chance (0.5) and the
external set's confound AUC (the best single media property, `gen audit FOLDER --labels`): a detector is only
worth its AUC where it beats what file size or format alone tells.

Columns: external ROC AUC [95 % bootstrap over files]; AUC per external kind (that kind's fakes against all
reals); external macro F1 at the saved (validation) threshold; synthetic ROC AUC on the recipe's own test split
and on the all-four test split (for a one-type recipe: how its detector does on the other types); recall on
unseen types: for a one-type recipe, recall of each other type in the all-four test split; for a mixed recipe
(with --loto), leave-one-type-out: trained without type T, recall of T's test fakes.

Datasets, models and results are cached under --out: a rerun only does what is missing.

    python benchmarks/bench_transfer.py --out /tmp/bench_transfer           # the README's run
    python benchmarks/bench_transfer.py --out /tmp/bt --n 16 --recipes all4 only_face_swap --epochs 1   # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TYPES = ("generation", "face_swap", "reenactment", "lip_sync")
SHORT = {"generation": "gen", "face_swap": "fs", "reenactment": "re", "lip_sync": "ls"}
DEFAULT_RECIPES = ("only_generation", "only_face_swap", "only_reenactment", "only_lip_sync", "all4", "all4_social",
                   "all4_self_blend", "only_self_blend")
MIXED = "all4"  # the recipe whose test split every model is also scored on


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def recipe_types(path: Path) -> list[str]:
    return json.loads(path.read_text()).get("types") or list(TYPES)


def needs_missing_backend(path: Path) -> str | None:
    """The backend a data recipe names that this checkout lacks (e.g. self_blend before its branch lands)."""
    from synthfake.generators import BACKENDS

    for spec in json.loads(path.read_text()).get("backends", []):
        for part in spec.split("=", 1)[1].split(","):
            name = part.split(":")[0].strip()
            if name not in BACKENDS:
                return name
    return None


def dataset_name(name: str, a) -> str:
    """The cached dataset's folder name: recipe, n, seed and clip length (not --splits: keep one per --out)."""
    return f"{name}-n{a.n}-seed{a.seed}-clip{a.clip_seconds:g}"


def build(name: str, a, timings: dict) -> Path:
    """`gen run --recipe` into a cached dataset folder (a finished run is a no-op)."""
    from synthfake.errors import EXIT_FAILED

    ds = a.out / "data" / dataset_name(name, a)
    if (ds / "built.json").is_file():  # a finished build: not even a no-op `gen run`
        return ds
    shared_index = a.out / "sources.json"  # one scan of the sources serves every dataset (refreshed by size/mtime)
    if shared_index.is_file() and not ds.exists():
        ds.mkdir(parents=True)
        shutil.copy(shared_index, ds / "sources.json")
    t = time.time()
    cmd = [sys.executable, "-m", "synthfake.cli", "run", "--out", str(ds), "--sources", str(a.sources), "--recipe",
           str(a.recipes / f"{name}.json"), "--n", str(a.n), "--seed", str(a.seed), "--clip-seconds",
           str(a.clip_seconds), "--splits", a.splits, "--workers", str(a.workers), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    failed = sorted(p.name for p in (ds / "failures").glob("*.jsonl") if p.stat().st_size) if ds.exists() else []
    if proc.returncode != 0 and not (proc.returncode == EXIT_FAILED and failed):  # failed samples: recorded, kept out
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-600:]}")
    if failed:
        log(f"{ds.name}: some samples failed (kept out of the dataset; reasons in {ds / 'failures'})")
    timings[f"build {name}"] = time.time() - t
    (ds / "built.json").write_text(json.dumps({"seconds": timings[f"build {name}"], "cmd": cmd[3:],
                                               "failure_files": failed}))
    if not shared_index.is_file():
        shutil.copy(ds / "sources.json", shared_index)
    return ds


def train_opts(a):
    from synthfake.detector.train import TrainOptions
    from synthfake.recipe import read_recipe

    keys = {"image_size", "epochs", "batch_size", "lr", "frames", "score_frames", "margin", "center_fallback",
            "fallback_label", "seed", "model", "augment"}
    r = read_recipe(a.detector, keys)
    if a.epochs is not None:
        r["epochs"] = a.epochs
    return TrainOptions(**r, workers=a.workers, show=False)


def trained(ds: Path, tag: str, a, timings: dict, leave_out: str | None = None) -> Path:
    """A model folder trained on `ds` with the detector recipe (cached by dataset, recipe and budget)."""
    from synthfake.detector.train import train
    from synthfake.files import canonical_hash

    o = replace(train_opts(a), leave_out=leave_out)
    key = canonical_hash({"ds": ds.name, "opts": {k: v for k, v in asdict(o).items() if k not in ("show",)}})
    d = a.out / "models" / f"{tag}{'-without-' + leave_out if leave_out else ''}-{key[:10]}"
    if not (d / "detector.json").is_file():
        t = time.time()
        with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its loss log; keep stdout for the table
            train(ds, d, o, log=lambda m: None)
        timings[f"train {d.name}"] = time.time() - t
    return d


def cached_json(path: Path, make, needs: tuple[str, ...] = ()) -> dict:
    """The JSON cached at `path`, or `make()`'s (cached) when there is none or it lacks a key in `needs` (written
    by an older version of the bench)."""
    if path.is_file():
        rep = json.loads(path.read_text())
        if all(k in rep for k in needs):
            return rep
    rep = make()
    path.write_text(json.dumps(rep))
    return rep


def synthetic(model: Path, ds: Path, a, what: str, timings: dict, leave_out: str | None = None) -> dict:
    from synthfake.detector.evaluate import evaluate

    def make():
        t = time.time()
        rep, _, _ = evaluate(model, ds, "test", leave_out, workers=a.workers, show=False, log=lambda m: None)
        timings[f"eval {model.name} on {what}"] = time.time() - t
        return rep.as_dict()

    return cached_json(model / f"test-{what}.json", make)


def external(model: Path, a, timings: dict) -> dict:
    from synthfake.detector.external import evaluate_external

    def make():
        t = time.time()
        rep = evaluate_external(model, a.wild, a.wild / "index.csv", workers=a.workers, show=False,
                                log=lambda m: None)
        timings[f"external {model.name}"] = time.time() - t
        return rep.as_dict()

    return cached_json(model / "external.json", make, needs=("auc_by_kind",))


def confound(a) -> tuple[str, float]:
    from synthfake.audit.external import folder_confounds, top_confound

    check, _ = folder_confounds(a.wild, a.wild / "index.csv", log=lambda m: None)
    return top_confound(check)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/bench_transfer"), help="Cache of datasets and models.")
    p.add_argument("--sources", type=Path, default=SHARED / "data")
    p.add_argument("--wild", type=Path, default=SHARED / "wild")
    p.add_argument("--recipes", nargs="+", default=list(DEFAULT_RECIPES), help="Names under recipes/data/.")
    p.add_argument("--detector", type=Path, default=ROOT / "recipes" / "detector" / "small_cnn_cpu.json")
    p.add_argument("--n", type=int, default=40, help="Fakes per dataset (and as many reals).")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clip-seconds", type=float, default=1.0)
    p.add_argument("--splits", default="train=0.6,val=0.2,test=0.2")
    p.add_argument("--epochs", type=float, default=None, help="Override the detector recipe's epochs.")
    p.add_argument("--loto", nargs="*", default=[MIXED], help="Mixed recipes to run leave-one-type-out on.")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    a.recipes_dir = a.recipes
    a.recipes = ROOT / "recipes" / "data"
    if not (a.wild / "index.csv").is_file():
        raise SystemExit(f"{a.wild}/index.csv: external set not found")
    a.out.mkdir(parents=True, exist_ok=True)
    t0, timings, rows = time.time(), {}, []
    name, conf_auc = confound(a)
    log(f"external set confound: {name} alone AUC {conf_auc:.3f}")
    for r in a.recipes_dir:
        missing = needs_missing_backend(a.recipes / f"{r}.json")
        if missing:
            log(f"{r}: skipped: backend {missing!r} is not in this checkout (generators.BACKENDS)")
            rows.append({"recipe": r, "skipped": f"backend {missing} not available"})
            continue
        log(f"{r}: building dataset (n={a.n})")
        ds = build(r, a, timings)
        log(f"{r}: training")
        model = trained(ds, r, a, timings)
        meta = json.loads((model / "detector.json").read_text())
        row = {"recipe": r, "model": str(model), "types": recipe_types(a.recipes / f"{r}.json"),
               "train_crops": meta["train_crops"], "val_files": meta["val_files"], "threshold": meta["threshold"]}
        ext = external(model, a, timings)
        row.update(ext_auc=ext["roc_auc"], ext_ci=ext["roc_auc_ci"], ext_f1=ext["macro_f1"],
                   ext_kinds={k: v["auc"] for k, v in ext["auc_by_kind"].items()}, ext_no_crops=ext["no_crops"])
        own = synthetic(model, ds, a, "own", timings)
        mixed = synthetic(model, build(MIXED, a, timings), a, MIXED, timings) if r != MIXED else own
        row.update(syn_auc=own["roc_auc"], syn_all4_auc=mixed["roc_auc"], syn_files=own["files"])
        unseen = {}
        if len(row["types"]) == 1:
            unseen = {t: (mixed["recall_by_type"].get(t), mixed["count_by_type"].get(t)) for t in TYPES
                      if t not in row["types"]}
        elif r in a.loto:
            for t in TYPES:
                log(f"{r}: leave out {t}")
                m = trained(ds, r, a, timings, leave_out=t)
                rep = synthetic(m, ds, a, f"without-{t}", timings, leave_out=t)
                unseen[t] = (rep["recall_by_type"].get(t), rep["count_by_type"].get(t))
        row["unseen_recall"] = unseen
        rows.append(row)
        log(f"{r}: external AUC {row['ext_auc']}, synthetic AUC {row['syn_auc']}")
    minutes = (time.time() - t0) / 60
    print_table(rows, name, conf_auc, a, minutes)
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "confound": [name, conf_auc], "minutes": minutes,
                                      "timings": timings, "args": {k: str(v) for k, v in vars(a).items()}}, indent=1))


def _f(v, nd=2) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{nd}f}"


def print_table(rows: list[dict], conf_name: str, conf_auc: float, a, minutes: float) -> None:
    from rich.console import Console
    from rich.table import Table

    opts = train_opts(a)
    arch = opts.model or {"type": "vit (tiny)"}
    t = Table(title=f"transfer: data recipe -> {a.detector.name} ({arch['type']} from scratch, {opts.image_size} px, "
                    f"{opts.epochs:g} epochs), n={a.n} fakes + {a.n} reals per dataset, seed {a.seed}; external: "
                    f"{a.wild}",
              caption=f"baselines: chance 0.50; external confound ({conf_name} alone) AUC {conf_auc:.2f}. "
                      f"Whole run {minutes:.1f} min.")
    for c in ("recipe", "ext AUC [95 %]", *(f"ext {SHORT[k]}" for k in TYPES), "ext F1@thr", "confound AUC",
              "syn AUC own", "syn AUC all4", "unseen-type recall (n)"):
        t.add_column(c, justify="left" if c in ("recipe", "unseen-type recall (n)") else "right")
    for r in rows:
        if "skipped" in r:
            t.add_row(r["recipe"], f"skipped: {r['skipped']}", *["" for _ in range(9)])
            continue
        ci = r["ext_ci"] or [None, None]
        unseen = " ".join(f"{SHORT[k]} {_f(v)} ({n})" for k, (v, n) in r["unseen_recall"].items()) or "-"
        t.add_row(r["recipe"], f"{_f(r['ext_auc'])} [{_f(ci[0])}, {_f(ci[1])}]",
                  *(_f(r["ext_kinds"].get(k)) for k in TYPES), _f(r["ext_f1"]), _f(conf_auc), _f(r["syn_auc"]),
                  _f(r["syn_all4_auc"]), unseen)
    Console(width=200).print(t)


if __name__ == "__main__":
    main()
