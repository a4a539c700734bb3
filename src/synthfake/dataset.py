"""A dataset folder: its plan, its cached sources index, and how a run is prepared against them.

    DATASET/plan.json        written once; a run with another plan fails
    DATASET/sources.json     the sources index the plan was made from
    DATASET/manifest/        one JSONL file per worker (records)
    DATASET/failures/        one JSONL file per worker (failed samples)
    DATASET/media/SPLIT/TYPE/ID.(mp4|png)
    DATASET/cache/           per-video landmark tracks
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .errors import PlanError, SynthfakeError
from .files import write_json_atomic
from .plan import SampleTable, Plan
from .sources import SourceIndex, load_index, save_index, scan

PLAN_FILE = "plan.json"
SOURCES_FILE = "sources.json"


def load(dataset: str | Path) -> tuple[Plan, SourceIndex]:
    ds = Path(dataset)
    if not (ds / PLAN_FILE).exists():
        raise SynthfakeError(f"{ds / PLAN_FILE}: no plan here; is {ds} a dataset made by `gen run`?")
    plan = Plan.from_file(ds / PLAN_FILE)
    index = load_index(ds / SOURCES_FILE)
    if index is None:
        raise SynthfakeError(f"{ds / SOURCES_FILE}: sources index missing")
    return plan, index


def _diff(a: Plan, b: Plan) -> str:
    da, db = a.model_dump(), b.model_dump()
    return ", ".join(f"{k}: {da[k]!r} in plan.json vs {db[k]!r} now" for k in da if da[k] != db[k])


def prepare(dataset: str | Path, sources_dir: str | Path, make_plan: Callable[[SourceIndex], Plan],
            check: Callable[[Plan], None], threshold: float,
            on_file: Callable[[str], None] | None = None) -> tuple[Plan, SourceIndex, SampleTable]:
    """Scan (reusing the cache), build and check the plan, and only then write plan.json and sources.json.

    A dataset that already has a plan must get the same plan from the same sources; otherwise this
    fails and writes nothing.
    """
    ds = Path(dataset)
    cached = load_index(ds / SOURCES_FILE)
    index = scan(sources_dir, cached, threshold, on_file)
    plan = make_plan(index)
    if (ds / PLAN_FILE).exists():
        old = Plan.from_file(ds / PLAN_FILE)
        if cached is not None and old.sources_digest != index.digest:
            raise PlanError(f"{ds / PLAN_FILE}: the files under {sources_dir} changed since this plan was made; "
                            f"use a new --out or restore the sources")
        if old.model_dump() != plan.model_dump():
            raise PlanError(f"{ds / PLAN_FILE}: this dataset holds another plan ({_diff(old, plan)}); "
                            f"rerun with the same settings or use a new --out")
        plan, index = old, cached or index  # the written plan keeps its ids
    check(plan)  # backends first: a missing backend says so even when the sources would not fit either
    layout = SampleTable(plan, index)
    if not (ds / PLAN_FILE).exists():
        ds.mkdir(parents=True, exist_ok=True)
        save_index(ds / SOURCES_FILE, index)
        write_json_atomic(ds / PLAN_FILE, plan.model_dump())
    return plan, index, layout
