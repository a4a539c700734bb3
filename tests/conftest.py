"""Shared fixtures: the real media in ../shared/data, a `gen` runner, and datasets built once per session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
NO_DATA = f"real test media not found at {DATA} (the ../shared/data folder beside the project)"


def gen(*args, check: bool = True, env=None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the `gen` CLI in a fresh process, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "synthfake.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"gen {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(NO_DATA)
    return DATA


@pytest.fixture(scope="session")
def photo_sources(data_dir, tmp_path_factory) -> Path:
    """Face and non-face photos only (fast samples): a temporary copy, never inside the repository."""
    d = tmp_path_factory.mktemp("photos")
    for sub in ("faces", "nonfaces"):
        shutil.copytree(data_dir / sub, d / sub)
    return d


@pytest.fixture(scope="session")
def swap_dataset(data_dir, tmp_path_factory) -> Path:
    """`gen run --type face_swap --n 12 --reals 0` on the real media, made once for several tests."""
    out = tmp_path_factory.mktemp("swap") / "D"
    gen("run", "--type", "face_swap", "--n", 12, "--reals", 0, "--clip-seconds", 2, "--sources", data_dir,
        "--out", out, "--quiet")
    return out


@pytest.fixture(scope="session")
def mixed_dataset(data_dir, tmp_path_factory) -> Path:
    """Every fake type plus reals in all three splits, with short clips: `gen run --n 8 --reals 4`."""
    out = tmp_path_factory.mktemp("mixed") / "D"
    gen("run", "--n", 8, "--reals", 4, "--clip-seconds", 0.5, "--splits", "train=0.34,val=0.33,test=0.33",
        "--sources", data_dir, "--out", out, "--quiet")
    return out
