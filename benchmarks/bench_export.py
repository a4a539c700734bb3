"""How long `gen export` takes per format on the 100-sample default dataset, against a baseline in the same run.

Baselines, each run as its authors document it, on the same records:
- webdataset: the webdataset package's own `ShardWriter` writing the same (media, record JSON) samples;
- hf: `datasets.Dataset.from_list(rows).to_parquet()` on the same rows with embedded media;
- ffpp: a plain copy of the dataset's media folder (`shutil.copytree`), the least any layout that holds the
  media can cost;
- deepfakebench: with --deepfakebench DIR (a SCLBD/DeepfakeBench checkout), its own
  `preprocessing/preprocess.py` imported from there and its `preprocess()` run on the dataset's videos as its
  config does for a dataset (fixed_num_frames, 32 frames, its thread pool of os.cpu_count() threads); it needs
  `pip install imutils scikit-image pyyaml tqdm`. Its 81-point dlib model is not shipped here, so the 68-point
  model is linked in its place (the same detector work; a 68- instead of an 81-point fit). It reads only
  videos, so the table compares time per face crop. Without --deepfakebench: a copy of the media folder.

    python benchmarks/bench_export.py [--dataset DATASET] [--n 100] [--sources ../shared/data] [--work DIR]
                                      [--formats webdataset,hf,ffpp,deepfakebench] [--deepfakebench DIR]

Without --dataset it makes `gen run --n N` (defaults: 10 s clips, N reals) under --work first (minutes).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from synthfake.export import Options, run_export
from synthfake.export.common import select

ROOT = Path(__file__).resolve().parents[1]
console = Console(width=160)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def crops(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*.png"))


def deepfakebench_preprocess(checkout: Path, items, out: Path) -> tuple[str, float, int]:
    """DeepfakeBench's own preprocess() on the videos of `items`: (name, seconds, face crops written)."""
    from synthfake import faces

    script = checkout / "preprocessing" / "preprocess.py"
    if not script.is_file():
        raise SystemExit(f"{script}: not found (--deepfakebench wants a SCLBD/DeepfakeBench checkout)")
    spec = importlib.util.spec_from_file_location("dfb_preprocess", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # its module-level code is imports and defs; its main is under __name__
    mod.logger = logging.getLogger("dfb_preprocess")  # preprocess.py makes this global in its __main__
    videos = out / "videos"
    videos.mkdir(parents=True)
    for it in items:
        if it.record.media.kind == "video":
            (videos / f"{it.record.id}.mp4").symlink_to(it.media.resolve())
    tools = out / "cwd" / "dlib_tools"
    tools.mkdir(parents=True)
    (tools / "shape_predictor_81_face_landmarks.dat").symlink_to(faces._model(faces.LANDMARKS[1]))
    here = os.getcwd()
    os.chdir(out / "cwd")  # it opens ./dlib_tools/shape_predictor_81_face_landmarks.dat
    try:
        secs = timed(lambda: mod.preprocess(videos, None, "fixed_num_frames", 32, 1, mod.logger))
    finally:
        os.chdir(here)
    return f"DeepfakeBench preprocess.py ({checkout.name})", secs, crops(videos / "frames")


def baseline(fmt: str, dataset: Path, out: Path, checkout: Path | None) -> tuple[str, float, int]:
    """(name, seconds, face crops written or 0) of the format's baseline."""
    items, _ = select(dataset, False, lambda m: None)
    if fmt == "deepfakebench" and checkout is not None:
        return deepfakebench_preprocess(checkout, items, out)
    if fmt == "webdataset":
        import webdataset as wds

        def run():
            out.mkdir(parents=True)
            with wds.ShardWriter(str(out / "shard-%05d.tar"), maxsize=256e6, verbose=0) as sink:
                for it in items:
                    sink.write({"__key__": it.record.id, it.media.suffix[1:]: it.media.read_bytes(),
                                "cls": str(it.record.label).encode(), "json": it.record.model_dump_json().encode()})

        return "wds.ShardWriter", timed(run), 0
    if fmt == "hf":
        import datasets

        def run():
            rows = [{"id": it.record.id, "label": it.record.label, "split": it.record.split,
                     "media": it.media.read_bytes(), "record": it.record.model_dump_json()} for it in items]
            out.mkdir(parents=True)
            datasets.Dataset.from_list(rows).to_parquet(str(out / "data.parquet"))

        return "datasets to_parquet", timed(run), 0
    return "copytree media", timed(lambda: shutil.copytree(dataset / "media", out / "media")), 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--sources", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--formats", default="webdataset,hf,ffpp,deepfakebench")
    ap.add_argument("--deepfakebench", type=Path, help="a SCLBD/DeepfakeBench checkout: run its preprocess.py")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="bench_export_"))
    dataset = a.dataset
    if dataset is None:
        dataset = work / "D"
        subprocess.run([sys.executable, "-m", "synthfake.cli", "run", "--n", str(a.n), "--sources", str(a.sources),
                        "--out", str(dataset), "--quiet"], check=True)
    items, _ = select(dataset, False, lambda m: None)
    mb = sum(it.record.bytes for it in items) / 1e6
    videos = sum(it.record.media.kind == "video" for it in items)
    t = Table(title=f"gen export of {dataset}: {len(items)} records ({videos} videos), {mb:.1f} MB of media; "
                    f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
    for c in ("format", "export s", "records/s", "baseline", "baseline s", "export / baseline"):
        t.add_column(c)
    for fmt in a.formats.split(","):
        out = work / f"out_{fmt}"
        shutil.rmtree(out, ignore_errors=True)
        opts = Options(embed=fmt == "hf", show=False, log=lambda m: None)
        secs = timed(lambda: run_export(dataset, fmt, out, opts))
        bout = work / f"base_{fmt}"
        shutil.rmtree(bout, ignore_errors=True)
        name, bsecs, bcrops = baseline(fmt, dataset, bout, a.deepfakebench)
        if bcrops:  # face crops: compare seconds per crop (the baseline reads videos only)
            ours = crops(out)
            t.add_row(fmt, f"{secs:.2f} ({ours} crops)", f"{len(items) / secs:.1f}", name,
                      f"{bsecs:.2f} ({bcrops} crops)", f"{(secs / ours) / (bsecs / bcrops):.2f}x per crop")
        else:
            t.add_row(fmt, f"{secs:.2f}", f"{len(items) / secs:.1f}", name, f"{bsecs:.2f}", f"{secs / bsecs:.1f}x")
    console.print(t)


if __name__ == "__main__":
    main()
