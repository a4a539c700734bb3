"""A dataset the size of a real one: seconds and peak memory of what users wait for, at 10^4, 10^5 and 10^6
samples, this code against a baseline revision in the same run (issue 29, section 3; issue 30, counting).

Operations, each in a fresh process (peak RSS is that process's high-water mark; a process past --timeout is
stopped and shown as "> T s", one that hits --memory-gb as "over M GB"):
- scan:      the scan `gen run` starts with, over a sources index of --files files (synthetic, with embeddings:
             identities are found as a scan finds them), its entries cached (a resumed or pre-scanned run).
- plan:      `gen run`'s work after the scan, before its first sample: plan, write it, warnings, the shard's
             todo list, then the first sample's spec (the run stops there). Also at 10^9.
- start:     scan + plan, as a user waits for them.
- status:    `gen status` of a finished dataset (all records over --world part files).
- resume64:  shard 0 of --world starting on that dataset (reads what it needs, finds nothing to do).
- resume1:   a single worker starting on it (reads every part).
- audit:     `gen audit --max-samples 0 --workers 0` (every check, no decoding).
- hf, wds:   `gen export --format hf|webdataset` (sha256 of every file checked), with records/s.
The datasets are synthetic (tests/synthetic_dataset.py): records as workers write them, each pointing to a tiny
media file, made once per code version and size under --work (the baseline's with its own plan version).

    python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--files 10000] [--world 64]
        [--baseline 7506d2f] [--ops scan,plan,start,status,resume64,resume1,audit,hf,wds] [--timeout 300]
        [--baseline-timeout 120] [--memory-gb 6]
        [--work /tmp/bench_scale]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPS = ("scan", "plan", "start", "status", "resume64", "resume1", "audit", "hf", "wds")
HUGE = 10**9  # `start` is also tried at this size: refused with the reason, or how far it gets


# ------------------------------------------------------------------ inside a child process
class Stop(BaseException):
    """Raised by the first sample's make: the start-up is over."""


def child(op: str, size: int, work: Path, files: int, world: int) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from synthetic_dataset import plan_dataset, write_records, write_sources

    sources, index_file, ds_dir = work / "sources", work / "sources.json", work / f"D{size}"
    if op == "setup":
        if not index_file.exists():
            from synthfake.sources import save_index

            save_index(index_file, write_sources(sources, files, files // 4, embeddings=True))
        if size and not (ds_dir / "made.json").exists():
            shutil.rmtree(ds_dir, ignore_errors=True)
            ds_dir.mkdir(parents=True)
            shutil.copy(index_file, ds_dir / "sources.json")
            ds = plan_dataset(ds_dir, sources, None, size // 2, size - size // 2)
            write_records(ds, world=world)
            (ds_dir / "made.json").write_text(json.dumps({"size": size, "world": world}))
        return {}
    t0, c0 = time.perf_counter(), time.process_time()
    note = ""
    if op == "start":
        note = _start(work, sources, index_file, size)
    elif op == "plan":  # start without the scan: the index as the scan returns it
        from synthfake import dataset
        from synthfake.sources import load_index

        cached = load_index(index_file)
        dataset.scan = lambda *a, **k: cached.model_copy(update={"root": str(Path(sources).resolve())})
        t0, c0 = time.perf_counter(), time.process_time()
        note = _start(work, sources, index_file, size)
    elif op == "scan":
        from synthfake.sources import load_index, scan

        index = scan(sources, load_index(index_file), 0.4)
        note = f"{len(index.items)} files, {len({it.identity for it in index.items})} identities"
    elif op == "status":
        from synthfake.status import dataset_status

        st = dataset_status(ds_dir)
        note = f"done {st['total']['done']} left {st['total']['left']}"
    elif op in ("resume64", "resume1"):
        from synthfake.run_config import RunSettings
        from synthfake.runner import Shard

        res = Shard(ds_dir, RunSettings(show_progress=False), 0, world if op == "resume64" else 1).run()
        note = f"skipped {res.skipped}"
    elif op == "audit":
        from synthfake.audit import run_audit
        from synthfake.audit.base import Settings

        rep = run_audit(ds_dir, Settings(max_samples=0, workers=0, show_progress=False))
        note = f"{rep.records} records, {rep.status}"
    elif op in ("hf", "wds"):
        from synthfake.export import Options, run_export

        out = Path(tempfile.mkdtemp(dir=work, prefix=f"export-{op}-"))
        try:
            res = run_export(ds_dir, {"hf": "hf", "wds": "webdataset"}[op], out / "x",
                             Options(show=False, log=lambda m: None))
            note = f"{res.exported} records"
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "note": note}


def _start(work: Path, sources: Path, index_file: Path, size: int) -> str:
    """Everything `gen run` does before its first sample (cli._launch, then Shard.run until make)."""
    from synthfake.cli_run import _check_ready
    from synthfake.dataset import Dataset
    from synthfake.plan_options import plan_warnings
    from synthfake.run_config import RunSettings
    from synthfake.runner import Shard
    from synthfake.shared_types import DEFAULT_BACKENDS, DEFAULT_RATIOS

    out = Path(tempfile.mkdtemp(dir=work, prefix="start-"))
    try:
        shutil.copy(index_file, out / "sources.json")  # the scan's cache, as a resumed or pre-scanned run has
        fields = dict(n=size // 2, reals=size - size // 2, seed=0, ratios=dict(DEFAULT_RATIOS),
                      backends=dict(DEFAULT_BACKENDS))
        settings = RunSettings(show_progress=False)
        early = "plan_fields" in inspect.signature(_check_ready).parameters  # since 9975061: before the scan
        try:
            if early:
                _check_ready(fields, settings.context(out / "cache", {}))
            ds = Dataset.prepare(out, sources, fields, 0.4)
        except Exception as e:  # refused: say why
            return f"refused: {str(e)[:90]}"
        if not early:  # the baseline checks the backends on the plan it made
            _check_ready(ds.plan, settings.context(ds.cache_dir, ds.plan.backend_opts))
        ds.save()
        plan_warnings(ds.table)

        def stop(self, spec):
            raise Stop(spec.index)

        Shard.make = stop
        try:
            Shard(ds, settings, 0, 1).run()
        except Stop as s:
            return f"first sample {s.args[0]}"
        return "no sample started"
    finally:
        shutil.rmtree(out, ignore_errors=True)


# ------------------------------------------------------------------ the parent
def baseline_site(rev: str, work: Path) -> Path:
    """`rev` of this repository laid out as an importable `synthfake` (src/ plus generators/ and detector/)."""
    site = work / f"site-{rev}"
    if not (site / "synthfake").is_dir():
        tree = work / f"tree-{rev}"
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        site.mkdir(parents=True, exist_ok=True)
        shutil.copytree(tree / "src" / "synthfake", site / "synthfake")
        for pkg in ("generators", "detector"):
            (site / "synthfake" / pkg).symlink_to(tree / pkg)
    return site


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_child(args, op: str, size: int, work: Path, site: Path | None, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(site) if site else "")
    limit = int(args.memory_gb * 2**30)
    cmd = [sys.executable, __file__, "--child", op, "--size", str(size), "--work", str(work), "--files",
           str(args.files), "--world", str(args.world)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    t0, peak = time.perf_counter(), 0.0
    while proc.poll() is None:
        peak = max(peak, peak_rss_mb(proc.pid) or 0.0)
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            proc.wait()
            return {"wall": None, "peak": peak, "note": f"> {timeout:.0f} s (stopped)"}
        time.sleep(0.2)
    out, err = proc.communicate()
    if proc.returncode != 0:
        why = "MemoryError" if "MemoryError" in err else (err.strip().splitlines() or ["?"])[-1][:80]
        return {"wall": None, "peak": peak, "note": f"over {args.memory_gb:g} GB" if why == "MemoryError" else why}
    got = json.loads(out.strip().splitlines()[-1])
    got["peak"] = max(peak, got.pop("rss", 0.0))
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--world", type=int, default=64)
    ap.add_argument("--baseline", default="7506d2f")
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--baseline-timeout", type=float, default=120, help="the baseline's limit (past the goal's "
                    "60 s, how far past matters less than the run's length)")
    ap.add_argument("--memory-gb", type=float, default=6)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_scale")
    ap.add_argument("--child")
    ap.add_argument("--size", type=int, default=0)
    args = ap.parse_args()
    if args.child:
        got = child(args.child, args.size, args.work, args.files, args.world)
        got["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(got))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    sizes, ops = [int(s) for s in args.sizes.split(",")], args.ops.split(",")
    trees = {f"baseline {args.baseline}": baseline_site(args.baseline, args.work), "this": None}
    load0 = os.getloadavg()
    results: dict = {}
    for name, site in trees.items():
        work = args.work / name.replace(" ", "-")
        work.mkdir(parents=True, exist_ok=True)
        for size in sizes:  # datasets first (not timed; kept for the next run)
            t = time.perf_counter()
            got = run_child(args, "setup", size, work, site, 24 * 3600)
            console.print(f"{name}: dataset of {size} ready ({time.perf_counter() - t:.0f} s) {got.get('note', '')}")
        for op in ops:
            for size in (sizes if op != "scan" else [0]) + ([HUGE] if op in ("start", "plan") else []):
                limit = args.timeout if site is None else args.baseline_timeout
                results[(name, op, size)] = got = run_child(args, op, size, work, site, limit)
                console.print(f"{name} {op} {size}: {got}", highlight=False)
    load1 = os.getloadavg()
    table = Table(title=f"bench_scale: {args.files} source files, records over {args.world} parts; load average "
                        f"{load0[0]:.1f} at start, {load1[0]:.1f} at end on {os.cpu_count()} cores")
    table.add_column("operation")
    table.add_column("samples", justify="right")
    for name in trees:
        for col in ("s (cpu s)", "peak MB", "note"):
            table.add_column(f"{name}: {col}", justify="left" if col == "note" else "right")
    for op in ops:
        for size in (sizes if op != "scan" else [0]) + ([HUGE] if op in ("start", "plan") else []):
            row = [op, f"{size:.0e}" if size else f"{args.files} files"]
            for name in trees:
                r = results[(name, op, size)]
                secs = "-" if r.get("wall") is None else f"{r['wall']:.1f} ({r['cpu']:.1f})"
                rate = f", {size / r['wall']:.0f} rec/s" if op in ("hf", "wds") and r.get("wall") else ""
                row += [secs, f"{r['peak']:.0f}", f"{r.get('note', '')}{rate}"]
            table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
