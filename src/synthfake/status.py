"""`gen status`: done / failed / left per type and per shard, read from the files on disk."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.table import Table

from . import dataset as dsmod
from .manifest import read_failures, read_records
from .plan import SampleTable


def dataset_status(dataset: str | Path) -> dict:
    ds = Path(dataset)
    plan, index = dsmod.load(ds)
    layout = SampleTable(plan, index)
    records = read_records(ds)
    done_ids = {r.id for r in records}
    failures = [f for f in read_failures(ds) if f.id not in done_ids]
    done, failed = Counter(r.type for r in records), Counter(f.type for f in {f.id: f for f in failures}.values())
    types = {t: {"planned": c, "done": done[t], "failed": failed[t], "left": c - done[t] - failed[t]}
             for t, c in layout.expected.items() if c}
    worlds = sorted({int(f.stem.split("-of-")[1]) for sub in ("manifest", "failures")
                     for f in (ds / sub).glob("part-*.jsonl")}) or [1]
    fail_idx = {f.index for f in failures}
    done_idx = {r.index for r in records}
    shards: dict[str, dict] = {}
    for w in worlds:
        for r in range(w):
            mine = range(r, plan.total, w)
            d = sum(1 for i in mine if i in done_idx)
            f = sum(1 for i in mine if i in fail_idx)
            shards[f"{r}/{w}"] = {"planned": len(mine), "done": d, "failed": f, "left": len(mine) - d - f}
    total = {k: sum(v[k] for v in types.values()) for k in ("planned", "done", "failed", "left")}
    return {"dataset": str(ds), "plan": plan.hash, "types": types, "total": total, "shards": shards}


def status_tables(st: dict) -> list[Table]:
    t = Table(title=f"{st['dataset']} (plan {st['plan']})")
    for c in ("type", "planned", "done", "failed", "left"):
        t.add_column(c, justify="left" if c == "type" else "right")
    for name, row in {**st["types"], "total": st["total"]}.items():
        t.add_row(name, *(str(row[k]) for k in ("planned", "done", "failed", "left")),
                  style="bold" if name == "total" else None)
    s = Table(title="shards (rank/world size)")
    for c in ("shard", "planned", "done", "failed", "left"):
        s.add_column(c, justify="left" if c == "shard" else "right")
    for name, row in st["shards"].items():
        s.add_row(name, *(str(row[k]) for k in ("planned", "done", "failed", "left")))
    return [t, s]
