"""How long `gen export` takes per format on the 100-sample default dataset, against a baseline in the same run.

Baselines, each run as its authors document it, on the same records:
- webdataset: the webdataset package's own `ShardWriter` writing the same (media, record JSON) samples;
- hf: `datasets.Dataset.from_list(rows).to_parquet()` on the same rows with embedded media;
- ffpp / deepfakebench: a plain copy of the dataset's media folder (`shutil.copytree`), the least any layout
  that holds the media can cost (DeepfakeBench's own preprocess.py needs an 81-point dlib model not shipped
  here, so it cannot be run; its face cropping is what the deepfakebench row pays for).

    python benchmarks/bench_export.py [--dataset DATASET] [--n 100] [--sources ../shared/data] [--work DIR]
                                      [--formats webdataset,hf,ffpp,deepfakebench]

Without --dataset it makes `gen run --n N` (defaults: 10 s clips, N reals) under --work first (minutes).
"""

from __future__ import annotations

import argparse
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
console = Console()


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def baseline(fmt: str, dataset: Path, out: Path) -> tuple[str, float]:
    items, _ = select(dataset, False, lambda m: None)
    if fmt == "webdataset":
        import webdataset as wds

        def run():
            out.mkdir(parents=True)
            with wds.ShardWriter(str(out / "shard-%05d.tar"), maxsize=256e6, verbose=0) as sink:
                for it in items:
                    sink.write({"__key__": it.record.id, it.media.suffix[1:]: it.media.read_bytes(),
                                "json": it.record.model_dump_json().encode()})

        return "wds.ShardWriter", timed(run)
    if fmt == "hf":
        import datasets

        def run():
            rows = [{"id": it.record.id, "label": it.record.label, "split": it.record.split,
                     "media": it.media.read_bytes(), "record": it.record.model_dump_json()} for it in items]
            out.mkdir(parents=True)
            datasets.Dataset.from_list(rows).to_parquet(str(out / "data.parquet"))

        return "datasets to_parquet", timed(run)
    return "copytree media", timed(lambda: shutil.copytree(dataset / "media", out / "media"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--sources", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--formats", default="webdataset,hf,ffpp,deepfakebench")
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
        name, bsecs = baseline(fmt, dataset, bout)
        t.add_row(fmt, f"{secs:.2f}", f"{len(items) / secs:.1f}", name, f"{bsecs:.2f}", f"{secs / bsecs:.1f}x")
    console.print(t)


if __name__ == "__main__":
    main()
