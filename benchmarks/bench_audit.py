"""How `gen audit` grows with the dataset: seconds per check at 1k, 10k and 100k records.

The records are synthetic: copies of a small real dataset's records (same type and split), each with its
own planned index, id and path, the path a hard link to the real file it was copied from. So every
record is valid and every file exists, on a few MB of disk. Each file's sha256 is computed once per
inode, so hashing costs per distinct file: the line `sha256` gives this machine's hashing speed, to
estimate a dataset of distinct files. The decoding checks look at `--max-samples` records each over
`--workers` processes, whatever the size.

    python benchmarks/bench_audit.py [--sizes 1000,10000,100000] [--max-samples 100] [--workers 2]
                                     [--base DATASET] [--sources ../shared/data] [--work DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from synthfake.dataset import Dataset
from synthfake.audit import run_audit
from synthfake.audit.base import Settings
from synthfake.audit.integrity import HASH_THREADS
from synthfake.files import write_json_atomic
from synthfake.manifest import read_records
from synthfake.plan import SampleTable
from synthfake.sample_spec import sample_id
from synthfake.sources import save_index

ROOT = Path(__file__).resolve().parents[1]
SCAN_TARGET_S = 30.0  # the checks that do not decode media, at 100k records, on 2 cores
console = Console()


def make_base(sources: Path, out: Path) -> Path:
    """A small real dataset: 8 face swaps and 8 paired reals, 1 s clips."""
    if not (out / "plan.json").exists():
        subprocess.run([sys.executable, "-m", "synthfake.cli", "run", "--type", "face_swap", "--n", "8", "--reals",
                        "8", "--clip-seconds", "1", "--sources", str(sources), "--out", str(out), "--quiet"],
                       check=True)
    return out


def make_synthetic(base: Path, n: int, out: Path) -> Path:
    """n records planned like the base (same types and sources), each a copy of a base record of its type
    and split, with its own index, id and a hard-linked file."""
    opened = Dataset.open(base)
    plan, index = opened.plan, opened.index
    plan = plan.model_copy(update={"n": n // 2, "reals": n - n // 2})
    layout = SampleTable(plan, index)
    templates: dict[tuple[str, str], list] = {}
    for r in read_records(base):
        templates.setdefault((r.type, r.split), []).append(r)
    if out.exists():
        shutil.rmtree(out)
    (out / "manifest").mkdir(parents=True)
    save_index(out / "sources.json", index)
    write_json_atomic(out / "plan.json", plan.model_dump())
    lines = []
    for i, t in enumerate(layout.types):
        t = str(t)
        split = layout.spec(i).split if t == "real" else layout.split_of[i]
        pool = templates.get((t, split)) or [r for (tt, _), rs in templates.items() if tt == t for r in rs]
        src = pool[i % len(pool)]
        sid = sample_id(layout.hash, i)
        path = f"media/{split}/{t}/{sid}{Path(src.path).suffix}"
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        os.link(base / src.path, out / path)
        lines.append(src.model_copy(update={"id": sid, "index": i, "split": split, "path": path}).model_dump_json())
    (out / "manifest" / "part-00000-of-00001.jsonl").write_text("\n".join(lines) + "\n")
    return out


def sha256_speed(base: Path) -> float:
    """MB/s of sha256 over the base dataset's media (already in the page cache)."""
    files = [p for p in (base / "media").rglob("*") if p.is_file()]
    data = [p.read_bytes() for p in files]
    t0 = time.perf_counter()
    for _ in range(5):
        for d in data:
            hashlib.sha256(d).digest()
    return 5 * sum(map(len, data)) / 1e6 / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--max-samples", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--base", type=Path, help="a small dataset made by `gen run` (made when absent)")
    ap.add_argument("--sources", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_audit_"))
    try:
        base = args.base or make_base(args.sources, work / "base")
        rows: dict[int, dict] = {}
        for n in sizes:
            t0 = time.perf_counter()
            ds = make_synthetic(base, n, work / f"D{n}")
            console.print(f"{n} records made in {time.perf_counter() - t0:.1f} s; auditing ...")
            rep = run_audit(ds, Settings(max_samples=args.max_samples, workers=args.workers, show_progress=False))
            rows[n] = {"report": rep, "checks": {c.name: c for c in rep.checks}}
            shutil.rmtree(ds)
        show(rows, sizes, args, sha256_speed(base))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def show(rows: dict, sizes: list[int], args, mbps: float) -> None:
    t = Table(title=f"gen audit: seconds per check, wall (CPU of the auditing process); decoding checks capped at "
                    f"{args.max_samples} records each over {args.workers} processes; {os.cpu_count()} cores, "
                    f"load average {os.getloadavg()[0]:.1f}")
    t.add_column("check")
    t.add_column("part")
    for n in sizes:
        t.add_column(f"{n:,} records", justify="right")
    names = [c.name for c in rows[sizes[0]]["report"].checks]
    totals = {n: {"scan": 0.0, "scan_cpu": 0.0, "decode": 0.0} for n in sizes}
    for name in names:
        for part in ("scan", "decode"):
            if part not in rows[sizes[0]]["checks"][name].timings:
                continue
            cells = []
            for n in sizes:
                tm = rows[n]["checks"][name].timings
                totals[n][part] += tm[part]
                if part == "scan":
                    totals[n]["scan_cpu"] += tm["scan_cpu"]
                    cells.append(f"{tm['scan']:.2f} ({tm['scan_cpu']:.2f})")
                else:
                    cells.append(f"{tm['decode']:.2f}")
            t.add_row(name, part, *cells)
    load = {n: rows[n]["report"].seconds - totals[n]["scan"] - totals[n]["decode"] for n in sizes}
    t.add_row("plan + layout", "scan", *(f"{load[n]:.2f}" for n in sizes))
    t.add_row("no decoding", "total", *(f"{totals[n]['scan'] + load[n]:.2f} ({totals[n]['scan_cpu']:.2f})"
                                        for n in sizes), style="bold")
    t.add_row("decoding", "total", *(f"{totals[n]['decode']:.2f}" for n in sizes), style="bold")
    t.add_row("audit", "total", *(f"{rows[n]['report'].seconds:.2f}" for n in sizes), style="bold")
    console.print(t)
    big = max(sizes)
    wall, cpu = totals[big]["scan"] + load[big], totals[big]["scan_cpu"] + load[big]
    target = SCAN_TARGET_S * big / 100_000
    console.print(f"no-decoding checks at {big:,} records: {wall:.1f} s wall, {cpu:.1f} s CPU (target {target:.0f} s: "
                  f"{'met' if wall <= target else 'NOT met'} on the wall clock, "
                  f"{'met' if cpu <= target else 'NOT met'} in CPU time)")
    console.print(f"sha256 here: {mbps:.0f} MB/s; hashing {big:,} distinct files of 100 KB would add about "
                  f"{big * 0.1 / mbps:.0f} s of CPU (spread over {HASH_THREADS} threads, I/O permitting)")


if __name__ == "__main__":
    main()
