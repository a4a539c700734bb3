"""Generation throughput: samples/s with 1 and 2 local workers on the same plan, per type, in one run.

Also the share of a worker's time spent on bookkeeping (probe, sha256, fsync + rename, record append)
rather than generating. The 1-worker row of each type is the baseline its 2-worker row is compared to.
A second table gives the cost per sample of each degradation preset on the first type's outputs, against
a plain re-encode through the same writer (the empty chain) as baseline.

    python benchmarks/bench_generate.py [--sources ../shared/data] [--n 16] [--clip-seconds 1]
                                        [--type face_swap --type ...]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from synthfake.dataset import Dataset
from synthfake.degrade import PRESETS, apply_chain, draw_chain
from synthfake.executors import run_local
from synthfake.run_config import RunConfig, RunSettings
from synthfake.manifest import read_records
from synthfake.shared_types import DEFAULT_BACKENDS, DEFAULT_RATIOS
from synthfake.runner import Shard
from synthfake.source_files import video_track

ROOT = Path(__file__).resolve().parents[1]


def _prepare(out: Path, sources: Path, sample_type: str, n: int, clip: float):
    fields = dict(n=n, reals=0, seed=0, ratios={sample_type: DEFAULT_RATIOS[sample_type]},
                  backends={sample_type: DEFAULT_BACKENDS[sample_type], "real": "reencode"},
                  splits={"train": 0.7, "val": 0.15, "test": 0.15}, clip_seconds=clip)
    ds = Dataset.prepare(out, sources, fields, 0.4)
    ds.save()
    return ds


def preset_costs(ds: Path, tmp: Path) -> Table:
    """Seconds per sample for each preset's drawn chain over the dataset's outputs, vs an empty chain."""
    recs = read_records(ds)
    table = Table(title=f"degradation cost per sample ({len(recs)} outputs of {ds.name})")
    for col in ("preset", "s/sample", "vs re-encode", "ops applied (mean)"):
        table.add_column(col, justify="left" if col == "preset" else "right")
    base = None
    for name in ("none", *PRESETS):
        t0, ops = time.perf_counter(), 0
        for r in recs:
            kind = r.media.kind
            chain = draw_chain(PRESETS[name], [0, 300, r.index], kind) if name != "none" else []
            ops += len(chain)
            apply_chain(ds / r.path, tmp / f"{name}_{r.index}", chain)
        per = (time.perf_counter() - t0) / max(1, len(recs))
        base = base or per
        table.add_row(name, f"{per:.3f}", f"{per / base:.2f}x", f"{ops / max(1, len(recs)):.1f}")
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--clip-seconds", type=float, default=1.0)
    ap.add_argument("--type", dest="types", action="append", choices=list(DEFAULT_RATIOS))
    args = ap.parse_args()
    types = args.types or ["face_swap"]
    table = Table(title=f"generation throughput (n={args.n} per run, clips <= {args.clip_seconds:g} s)")
    for col in ("type", "backend", "workers", "samples", "failed", "wall s", "samples/s", "vs 1 worker",
                "bookkeeping"):
        table.add_column(col, justify="left" if col in ("type", "backend") else "right")
    tmp = Path(tempfile.mkdtemp(prefix="bench_generate_"))
    try:
        for t in types:
            warm = tmp / f"{t}_warm"  # landmark tracks of the videos, made before timing so neither run pays them
            index = _prepare(warm, args.sources, t, args.n, args.clip_seconds).index
            for it in index.items:
                if it.is_face and it.kind == "video":
                    video_track(Path(index.root) / it.path, it.sha256, warm / "cache", it.embedding)
            base_rate = None
            for workers in (1, 2):
                out = tmp / f"{t}_{workers}"
                ds = _prepare(out, args.sources, t, args.n, args.clip_seconds)
                shutil.copytree(warm / "cache", out / "cache", dirs_exist_ok=True)
                t0 = time.perf_counter()
                if workers == 1:
                    res = Shard(out, RunSettings(show_progress=False), 0, 1).run()
                    book = res.bookkeeping_s / max(1e-9, res.bookkeeping_s + res.generate_s)
                else:
                    run_local(RunConfig(out, args.sources, {}, 0.4, RunSettings(show_progress=False), "local", workers),
                              ds)
                    book = None
                wall = time.perf_counter() - t0
                done = len(read_records(out))
                rate = done / wall
                base_rate = base_rate or rate
                table.add_row(t, DEFAULT_BACKENDS[t], str(workers), str(done), str(args.n - done), f"{wall:.1f}",
                              f"{rate:.2f}", f"{rate / base_rate:.2f}x", f"{book:.1%}" if book is not None else "-")
        costs = preset_costs(tmp / f"{types[0]}_1", tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    Console(width=140).print(table)
    Console(width=140).print(costs)


if __name__ == "__main__":
    main()
