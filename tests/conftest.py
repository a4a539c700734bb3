"""Shared fixtures: the real media in ../shared/data, a `gen` runner, and datasets built once per session."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
NO_DATA = f"real test media not found at {DATA} (the ../shared/data folder beside the project)"


def gen(*args, check: bool = True, env=None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the `gen` CLI in a fresh process, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "synthfake", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"gen {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stderr[-3000:]}")
    return proc


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that does not come, as in some containers, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(cond, seconds: float) -> bool:
    """Poll `cond` every 0.05 s for up to `seconds`; its last value."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def fake_real_pairs(records) -> list:
    """(fake, its paired real) for every real of `records` paired with a fake among them."""
    fakes = {r.id: r for r in records if r.label == 1}
    return [(fakes[r.params["paired_with"]], r) for r in records if r.params.get("paired_with") in fakes]


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A session folder `build(folder)` fills once per test run: under pytest-xdist the first worker to ask builds
    it under the run's shared temporary root while the others wait on a lock, then all reuse it (a failed build
    leaves no marker, so the next worker to ask builds again)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        root = tmp_path_factory.mktemp(name)
        build(root)
        return root
    shared = _run_root(tmp_path_factory)
    root, done = shared / name, shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            build(root)
            done.touch()
    return root


def _run_root(tmp_path_factory) -> Path:
    """The run's temporary root: one per test run, common to its xdist workers."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


@pytest.fixture(scope="session", autouse=True)
def run_environment(tmp_path_factory) -> None:
    """Every test and every `gen` it starts share one machine cache (synthfake.machine_cache: source scans and
    face tracks by sha256) made empty for this run, never the user's ~/.cache. Bytecode is written, so the ~300
    `gen` processes of a run compile the project's modules once, not each (an environment may set
    PYTHONDONTWRITEBYTECODE)."""
    os.environ["XDG_CACHE_HOME"] = str(_run_root(tmp_path_factory) / "machine-cache")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False


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
def warm_sources(data_dir, tmp_path_factory) -> Path:
    """What every dataset made on the real media computes first, made once: its sources.json and the landmark
    tracks of its videos (DATASET/cache/tracks). `dataset_dir` copies it into a new dataset folder, so a
    fixture's `gen run` reuses them as a resumed run does (~20-40 s a dataset); tests of scanning and
    tracking themselves start from bare folders."""
    from synthfake.pools import process_pool
    from synthfake.source_files import video_track
    from synthfake.sources import load_index

    def build(root: Path) -> None:
        gen("sources", "scan", data_dir, "--json", root / "sources.json")
        videos = [it for it in load_index(root / "sources.json").items
                  if it.kind == "video" and not it.excluded and it.embedding]
        with process_pool(2, "synthfake.sources") as pool:  # ~70 s of tracking on one core
            list(pool.map(video_track, [data_dir / it.path for it in videos], [it.sha256 for it in videos],
                          [root / "cache"] * len(videos), [it.embedding for it in videos]))

    return built_once(tmp_path_factory, "warm", build)


@pytest.fixture(scope="session")
def dataset_dir(warm_sources, tmp_path_factory):
    """A new dataset folder for `gen run --sources ../shared/data`, holding the warm index and tracks."""
    def make(name: str) -> Path:
        out = tmp_path_factory.mktemp(name) / "D"
        shutil.copytree(warm_sources, out)
        return out
    return make


SWAP_DATASET = ("--type", "face_swap", "--backend", "face_swap=landmark_swap", "--n", 12, "--reals", 0,
                "--clip-seconds", 1)  # the landmark swap's dataset that several files read


@pytest.fixture(scope="session")
def swap_dataset(data_dir, dataset_dir) -> Path:
    """`gen run SWAP_DATASET` on the real media, made once for several tests."""
    out = dataset_dir("swap")
    gen("run", *SWAP_DATASET, "--sources", data_dir, "--out", out, "--workers", 2, "--quiet")
    return out


@pytest.fixture(scope="session")
def mixed_dataset(data_dir, warm_sources, tmp_path_factory) -> Path:
    """Every fake type plus reals in all three splits, with short clips: `gen run --n 8 --reals 4`, read by the
    tests of several files (training adds its crop cache under cache/, written atomically)."""
    def build(root: Path) -> None:
        out = root / "D"
        shutil.copytree(warm_sources, out)
        gen("run", "--n", 8, "--reals", 4, "--clip-seconds", 0.5, "--splits", "train=0.34,val=0.33,test=0.33",
            "--sources", data_dir, "--out", out, "--workers", 1, "--quiet")

    return built_once(tmp_path_factory, "mixed", build) / "D"
