"""`gen status`: done / failed / left per type and per shard, read from the files on disk."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from .dataset import Dataset, as_dataset


def dataset_status(dataset: str | Path | Dataset) -> dict:
    ds = as_dataset(dataset)
    counts = ds.counts()
    total = {k: sum(v[k] for v in counts["types"].values()) for k in ("planned", "done", "failed", "left")}
    return {"dataset": str(ds.root), "plan": ds.plan.hash, "types": counts["types"], "total": total,
            "shards": counts["shards"]}


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
