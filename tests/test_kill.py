"""Kill -9 a worker at random moments (6 times, mid-run), rerun, and find every index exactly once, no torn line,
no record without its file and no file without its record."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from synthfake.files import sha256_file
from synthfake.manifest import read_records

from conftest import gen

N = 16


def _start(args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "synthfake.cli", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _check(ds: Path) -> None:
    for f in (ds / "manifest").glob("*.jsonl"):
        data = f.read_bytes()
        assert not data or data.endswith(b"\n"), f"torn line left in {f}"
        for line in data.splitlines():
            json.loads(line)
    recs = read_records(ds, strict=True)
    assert sorted(r.index for r in recs) == list(range(N)), "an index missing or duplicated"
    for r in recs:
        p = ds / r.path
        assert p.exists() and sha256_file(p) == r.sha256, f"record without its file: {r.path}"
    on_disk = {p.relative_to(ds).as_posix() for p in (ds / "media").rglob("*") if p.is_file()}
    assert on_disk == {r.path for r in recs}, f"files without records: {on_disk - {r.path for r in recs}}"


def test_kill9_then_rerun_loses_and_duplicates_nothing(photo_sources, tmp_path):
    rng = random.Random(1234)
    common = ["--type", "face_swap", "--n", N, "--reals", 0, "--sources", photo_sources, "--quiet"]
    gen("sources", "scan", photo_sources, "--json", tmp_path / "sources.json")  # each run starts generating at once
    moments, done_at_kill = [], []
    for trial in range(6):
        ds = tmp_path / f"D{trial}"
        ds.mkdir()
        shutil.copy(tmp_path / "sources.json", ds / "sources.json")
        when = rng.uniform(1.0, 2.5)
        moments.append(round(when, 2))
        if trial < 3:  # kill one child of `--workers 2`
            parent = _start(["run", *common, "--out", ds, "--workers", 2])
            time.sleep(when)
            kids = _children(parent.pid)
            if kids:
                try:
                    os.kill(rng.choice(kids), signal.SIGKILL)
                except ProcessLookupError:
                    pass  # the child ended between the listing and the kill (a busy machine): as if none was left
            parent.wait(timeout=300)
        else:  # two independent shards, as Slurm would start them; kill one
            procs = [_start(["run", *common, "--out", ds, "--rank", r, "--world-size", 2]) for r in (0, 1)]
            time.sleep(when)
            victim = rng.choice(procs)
            victim.send_signal(signal.SIGKILL)
            for p in procs:
                p.wait(timeout=300)
        done_at_kill.append(len(read_records(ds)) if (ds / "manifest").is_dir() else 0)
        gen("run", *common, "--out", ds, "--workers", 2)  # the rerun resumes
        _check(ds)
    print(f"\nkilled at {moments} s after start, with {done_at_kill} of {N} records written; every rerun complete "
          f"and consistent")
