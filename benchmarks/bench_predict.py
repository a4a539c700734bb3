"""Scoring videos: this predictor vs the seed team's way, same videos, same model, one run.

seed: OpenCV VideoCapture decodes EVERY frame into memory, K uniform frames are face-cropped, and one
      batch of K originals + K flips goes through the model.
ours: `synthfake.detector`: one PyAV pass per video keeping only the K wanted frames, decoding and
      detection in worker processes, crops streamed through fixed batches of --batch-size.
Both methods run torch with --threads CPU threads.
Both use the same face detector, crop and resize code, so the probability difference measures the
pipeline (decoder, batching), not a different detector.

Each (method, frames) row runs in a fresh subprocess: the model is loaded, then the videos are scored.
wall: scoring time after the model is loaded (worker start-up included for ours); each row runs --repeat
      times, alternating the methods, and keeps the fastest time (the least disturbed on a shared machine).
peak RSS: the process's ru_maxrss (largest over the repeats); above load: that peak minus the RSS right
      after the model was loaded (the working memory of scoring).
tree anon: the largest sum of anonymous RSS (heap, frames, tensors; not shared library pages) over the
      process and all its descendants (decode workers, fork server), sampled every 10 ms from /proc.
CUDA: also the peak of torch.cuda.max_memory_allocated above the weights.

    python benchmarks/bench_predict.py                      # tiny ViT at 224, all videos, K = 40/80/160
    python benchmarks/bench_predict.py --model base --videos 2 --frames 40   # ViT-Base-sized random weights
    python benchmarks/bench_predict.py --device cuda --fp16 --model base
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "videos"


def rss_kb() -> int:
    """This process's resident memory now."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def anon_kb(pid: int) -> int:
    """Anonymous resident memory (heap, frames, tensors), without the shared library pages RSS counts."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_anon_kb(pid: int) -> int:
    """Anonymous RSS of a process and all its descendants (decode workers, the fork server)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += anon_kb(p)
        try:
            for t in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (t / "children").read_text().split()]
        except OSError:
            pass
    return total


class TreeSampler(threading.Thread):
    """Samples the process tree's anonymous RSS every 10 ms and keeps the peak."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stop = 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_anon_kb(os.getpid()))
            time.sleep(0.01)


def seed_way(model, meta, paths, frames):
    """The seed's predictor: decode every frame with OpenCV, crop K, one batch of K + K flips."""
    import cv2

    from synthfake.detector.crops import CropSettings, crop_face
    from synthfake.detector.score import fake_probs, to_pixels
    from synthfake.media import uniform_indices

    s = CropSettings(frames=frames, margin=meta.margin, size=meta.image_size, detect_side=meta.detect_side)
    out = []
    for p in paths:
        cap = cv2.VideoCapture(str(p))
        allf = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            allf.append(f)
        cap.release()
        crops = [c for i in uniform_indices(len(allf), frames)
                 if (c := crop_face(cv2.cvtColor(allf[i], cv2.COLOR_BGR2RGB), s)) is not None]
        del allf
        if not crops:
            out.append(None)
            continue
        probs = fake_probs(model, to_pixels(crops + crops, [False] * len(crops) + [True] * len(crops), meta.mean,
                                            meta.std), meta.fake_index)
        out.append(float(probs.astype("float64").mean()))
    return out


def our_way(model, meta, paths, frames, batch_size, workers):
    """`gen detect predict`'s path: worker processes stream crops into fixed batches."""
    from synthfake.detector.evaluate import crop_settings
    from synthfake.detector.score import score_parts
    from synthfake.detector.stream import stream_crops

    parts = stream_crops(paths, crop_settings(meta, frames), workers, chunk=max(1, batch_size // 2))
    return [s.prob for s in score_parts(model, parts, meta, batch_size)]


def child(a) -> dict:
    """One row: load the model, score the videos, report time and memory as JSON."""
    import torch

    from synthfake.detector.model import load_detector

    import cv2  # noqa: F401  (both methods' imports happen before the baseline, not inside the timing)

    import synthfake.detector.evaluate  # noqa: F401
    import synthfake.detector.stream  # noqa: F401

    torch.set_num_threads(a.threads)
    model, meta = load_detector(Path(a.model_dir), a.device, a.fp16)
    paths = json.loads(a.paths)
    cuda = a.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        weights_mb = torch.cuda.memory_allocated() / 2 ** 20
    base_kb = rss_kb()
    sampler = TreeSampler()
    sampler.start()
    t0 = time.perf_counter()
    if a.method == "seed":
        probs = seed_way(model, meta, paths, a.frames)
    else:
        probs = our_way(model, meta, paths, a.frames, a.batch_size, a.workers)
    if cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"method": a.method, "frames": a.frames, "wall_s": wall, "probs": probs, "peak_rss_mb": peak_kb / 1024,
            "above_load_mb": (peak_kb - base_kb) / 1024, "tree_peak_mb": sampler.peak / 1024,
            "cuda_peak_above_weights_mb": (torch.cuda.max_memory_allocated() / 2 ** 20 - weights_mb) if cuda else None}


def make_model(kind: str, out: Path) -> str:
    """A random-weight ViT saved as a detector folder (same weights for every row)."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    from synthfake.detector.model import DetectorMeta, TRAIN_LABELS, save_detector, tiny_config

    torch.manual_seed(0)
    cfg = tiny_config(224) if kind == "tiny" else ViTConfig(num_labels=2, id2label=dict(TRAIN_LABELS),
                                                            label2id={v: k for k, v in TRAIN_LABELS.items()})
    model = ViTForImageClassification(cfg).eval()
    with torch.no_grad():  # spread the probabilities so that a pipeline difference would show
        model.classifier.weight.mul_(5)
    save_detector(model, DetectorMeta(image_size=224), out)
    desc = (f"hidden {cfg.hidden_size}, {cfg.num_hidden_layers} layers, {cfg.num_attention_heads} heads, "
            f"patch {cfg.patch_size}, image {cfg.image_size}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params")
    return desc


def scaled_copies(paths: list[str], height: int, seconds: float, out: Path) -> list[str]:
    """The clips re-encoded at `height` pixels high (first `seconds`), like a competition's HD videos."""
    import cv2

    from synthfake import media

    out.mkdir(parents=True, exist_ok=True)
    res = []
    for p in paths:
        info = media.probe(p)
        w = round(info.width * height / info.height) // 2 * 2
        count = int(seconds * info.fps) if seconds else None
        frames = (cv2.resize(f, (w, height), interpolation=cv2.INTER_CUBIC) for f in media.iter_frames(p, 0, count))
        dst = out / Path(p).name
        media.write_video(dst, frames, media.video_fps(Path(p)))
        res.append(str(dst))
    return res


def run_row(a, method: str, frames: int, model_dir: Path, paths: list[str]) -> dict:
    """One row in a fresh subprocess (so its memory peaks are its own)."""
    cmd = [sys.executable, __file__, "--child", method, "--model-dir", str(model_dir), "--paths", json.dumps(paths),
           "--frames", str(frames), "--batch-size", str(a.batch_size), "--workers", str(a.workers),
           "--device", a.device, "--threads", str(a.threads)] + (["--fp16"] if a.fp16 else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{method} K={frames} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=6, help="How many of the test videos (largest first).")
    ap.add_argument("--video-dir", type=Path, default=DATA)
    ap.add_argument("--model", choices=("tiny", "base"), default="tiny")
    ap.add_argument("--frames", type=int, nargs="+", default=[40, 80, 160])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2,
                    help="torch CPU threads (both methods)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--fp16", action="store_true")
    ap.add_argument("--height", type=int, help="Re-encode the clips at this height first (e.g. 1080), untimed.")
    ap.add_argument("--seconds", type=float, default=10.0, help="With --height: keep the first N seconds.")
    ap.add_argument("--repeat", type=int, default=3, help="Runs per row (alternating); the fastest time is kept.")
    ap.add_argument("--json", type=Path, help="Also write every row here.")
    ap.add_argument("--child", choices=("seed", "ours"), help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    ap.add_argument("--paths", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        a.method, a.frames = a.child, a.frames[0]
        print(json.dumps(child(a)))
        return
    from synthfake.media import probe

    if not a.video_dir.is_dir():
        raise SystemExit(f"{a.video_dir}: test videos not found (the ../shared/data folder beside the project)")
    paths = sorted(map(str, a.video_dir.glob("*.mp4")), key=lambda p: -os.path.getsize(p))[:a.videos]
    with tempfile.TemporaryDirectory() as tmp:
        if a.height:
            paths = scaled_copies(paths, a.height, a.seconds, Path(tmp) / "videos")
        desc = make_model(a.model, Path(tmp) / "model")
        clips = ", ".join(f"{Path(p).name} {i.width}x{i.height} {i.frames} frames" for p, i in
                          zip(paths, map(probe, paths)))
        print(f"model: random-weight ViT ({a.model}: {desc}); device {a.device}{' fp16' if a.fp16 else ''}; "
              f"ours: batch {a.batch_size}, {a.workers} workers; torch threads {a.threads}; "
              f"load average {os.getloadavg()[0]:.1f}\nvideos: {clips}")
        rows = []
        for k in a.frames:
            runs = {"seed": [], "ours": []}
            for _ in range(a.repeat):  # alternate the methods so that a busy spell hits both alike
                for method in runs:
                    runs[method].append(run_row(a, method, k, Path(tmp) / "model", paths))
                    print(f"  {method} K={k}: {runs[method][-1]['wall_s']:.2f} s", file=sys.stderr)
            rows += [best_of(r) for r in runs.values()]
    report(rows, a)


def best_of(runs: list[dict]) -> dict:
    """The fastest run's time (least disturbed by other load), the largest memory peaks of all runs."""
    row = dict(min(runs, key=lambda r: r["wall_s"]))
    for k in ("peak_rss_mb", "above_load_mb", "tree_peak_mb", "cuda_peak_above_weights_mb"):
        if row[k] is not None:
            row[k] = max(r[k] for r in runs)
    row["walls"] = [r["wall_s"] for r in runs]
    return row


def report(rows: list[dict], a) -> None:
    """The markdown table (speed-up and probability difference against the seed at the same K)."""
    cuda = a.device.startswith("cuda")
    head = "| method | frames | wall s | x faster | peak RSS MB | above load MB | tree anon MB |"
    head += " CUDA peak above weights MB | max prob diff vs seed |" if cuda else " max prob diff vs seed |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    by = {(r["method"], r["frames"]): r for r in rows}
    for r in rows:
        seed = by[("seed", r["frames"])]
        diffs = [abs(x - y) for x, y in zip(r["probs"], seed["probs"]) if x is not None and y is not None]
        cells = [r["method"], str(r["frames"]), f"{r['wall_s']:.2f}", f"{seed['wall_s'] / r['wall_s']:.2f}",
                 f"{r['peak_rss_mb']:.0f}", f"{r['above_load_mb']:.0f}", f"{r['tree_peak_mb']:.0f}"]
        if cuda:
            cells.append(f"{r['cuda_peak_above_weights_mb']:.0f}")
        cells.append(f"{max(diffs):.2e}" if diffs else "n/a")
        print("| " + " | ".join(cells) + " |")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
