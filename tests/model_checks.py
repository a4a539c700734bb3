"""Shared checks for the model-backend tests: records against their files and weights, `gen audit` integrity."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from conftest import DATA, gen

from synthfake.files import sha256_file
from synthfake.manifest import Record, read_failures, read_records, resolve


def sources(tmp: Path, names: list[str]) -> Path:
    """A temporary sources folder holding copies of the named files from the shared data."""
    d = tmp / "sources"
    d.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(next(DATA.rglob(name)), d / name)
    return d


def model_env(home: Path, **extra: str) -> dict:
    """The environment for `gen`: an empty home (no cached weights), no SYNTHFAKE_* variable of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHFAKE_")}
    home.mkdir(parents=True, exist_ok=True)
    env.update({"HOME": str(home), **extra})
    return env


def check_records(ds: Path, weights: dict[str, Path]) -> list[Record]:
    """Every record's file exists with its bytes and sha256; each fake's weights are exactly these files' sha256."""
    records = read_records(ds)
    want = {name: sha256_file(p) for name, p in weights.items()}
    for r in records:
        path = resolve(ds, r)
        assert path.is_file(), r.path
        assert path.stat().st_size == r.bytes, r.path
        assert sha256_file(path) == r.sha256, r.path
        assert r.weights == (want if r.label == 1 else {}), (r.weights, want)
    return records


def audit_integrity(ds: Path, tmp: Path) -> dict:
    """`gen audit`'s integrity check over the dataset (decoding checks off); returns it, asserting PASS."""
    report = tmp / "audit.json"
    gen("audit", ds, "--json", report, "--max-samples", 0, "--workers", 0, "--quiet", check=False)
    check = next(c for c in json.loads(report.read_text())["checks"] if c["name"] == "integrity")
    assert check["status"] == "PASS", check
    return check


def failures(ds: Path) -> dict[int, str]:
    return {f.index: f.reason for f in read_failures(ds)}
