"""`gen status`: done / failed / left per type and per shard of the current world size (sample i is shard
i % world, whichever partition wrote its record), each planned index counted once (tally.py), and what was not
counted (a second record of an index, a record whose id is not this plan's, an index outside it)."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from .dataset import Dataset, as_dataset
from .tables import table

COLUMNS = ("planned", "done", "failed", "left")


def dataset_status(dataset: str | Path | Dataset) -> dict:
    ds = as_dataset(dataset)
    counts = ds.counts()
    total = {k: sum(v[k] for v in counts["types"].values()) for k in COLUMNS}
    foreign = sum(v.get("foreign", 0) for v in counts["types"].values())
    if foreign:
        total["foreign"] = foreign
    return {"dataset": str(ds.root), "plan": ds.plan.hash, "types": counts["types"], "total": total,
            "world_size": counts["world_size"], "other_world_sizes": counts["other_world_sizes"],
            "shards": counts["shards"], "not_counted": counts["not_counted"], "notes": counts["notes"]}


def not_counted_lines(st: dict) -> list[str]:
    """One line per kind of line that was not counted, with the first examples; none when all were."""
    names = {"duplicate_records": "second record(s) of an index already held (the first one counts)",
             "foreign_records": "record(s) whose id is not this plan's id for its index (the index is held, "
                                "not made again: remove the line to make it)",
             "outside_plan": "record(s) or failure(s) of an index outside the plan",
             "foreign_failures": "failure(s) whose id is not this plan's"}
    out = [f"not counted: {n} {names[k]}" for k, n in st.get("not_counted", {}).items() if n]
    return out + [f"  {line}" for line in st.get("notes", [])[:5]] if out else []


SHARD_ROWS = 64  # past this many shards, those with nothing made or failed are one row


def status_tables(st: dict) -> list[Table]:
    cols = COLUMNS + (("foreign",) if "foreign" in st["total"] else ())
    t = table(f"{st['dataset']} (plan {st['plan']})", ("type", *cols))
    for name, row in {**st["types"], "total": st["total"]}.items():
        t.add_row(name, *(str(row.get(k, 0)) for k in cols), style="bold" if name == "total" else None)
    lines = not_counted_lines(st)
    if lines:
        t.caption = Text("\n".join(lines), style="yellow")  # literal: the notes quote file names and ids
        t.caption_justify = "left"
    w = st["world_size"]
    rows = st["shards"].items()
    untouched = [row for _, row in rows if not row.get("done") and not row.get("failed")] \
        if len(st["shards"]) > SHARD_ROWS else []
    s = table(f"shards of world size {w} (rank/world size)", ("shard", *cols),
              ((name, *(str(row.get(k, 0)) for k in cols)) for name, row in rows
               if not untouched or row.get("done") or row.get("failed")))
    if untouched:  # 100,000 shards printed 100,016 lines in 52 s (7 Dec sweep); `--json` still lists each one
        s.add_row(f"{len(untouched)} more", *(str(sum(r.get(k, 0) for r in untouched)) for k in cols),
                  style="dim")
    if st.get("other_world_sizes"):
        older = ", ".join(str(k) for k in st["other_world_sizes"])
        s.caption = Text(f"parts of world size {older} on disk too (an earlier partition): their samples are "
                         f"counted here by index, sample i in shard i % {w}", style="yellow")
        s.caption_justify = "left"
    return [t, s]
