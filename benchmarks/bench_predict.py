"""Scoring videos end to end: `gen detect predict` against the seed team's pipeline, same clips, same weights.

seed: the seed's predictor as its report describes it, written here from that description (none of our
      code): OpenCV `VideoCapture` seeks to 40 `np.linspace` frames, dlib's HOG detector on the full-
      resolution RGB frame with one upsample, the largest face grown by 30 % of its size on each side,
      `ViTImageProcessor` on the PIL crops, the 40 crops then their 40 flips as one batch through the torch
      `ViTForImageClassification`, mean of the fake probabilities.
ours: `python -m synthfake detect predict MODEL_DIR CLIPS --out sub.csv` (= `gen detect predict`) (onnxruntime,
      decode/detect worker processes started before the model loads, detection on a 360 px copy without
      upsampling, one decoding pass, fixed batches).

Each run is a fresh process timed from launch to exit (imports, model load, scoring, writing): end to end.
The two alternate A,B,A,B (--repeat each) so a busy spell on a shared machine hits both; the table gives
the min and the median. peak RSS: the main process's VmHWM, polled (ours: decode workers not included).
The probabilities differ by design: ours detects on a 360 px copy without upsampling (boxes shift by a few
pixels), samples bin-centre frames (the seed's linspace includes the first and last frame) and resizes
crops with PIL bilinear on uint8 (the seed's processor resamples the crop the same way, then rescales);
the column says how far apart they are.

    python benchmarks/bench_predict.py                              # tiny ViT, the 6 clips: ~2-4 min
    python benchmarks/bench_predict.py --model base --videos 2      # ViT-Base-sized random weights: ~3-5 min
    python benchmarks/bench_predict.py --model-dir M --videos 2     # a trained model folder (M's checked int8 copy)
    python benchmarks/bench_predict.py --model base --videos 2 --int8 D   # random ViT-Base, int8 checked on D's val

With an int8 copy in the model folder (`--model-dir` with one, or `--int8 D`: `gen detect export --int8 --dataset D`
as untimed setup), `gen detect predict` runs twice per round: as a user runs it (the int8 copy when its check
passed, else fp32) and with the other model (`--fp32` or `--int8`); the int8 check (macro F1 of both on the val
split, largest probability change) is printed under the table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "videos"


def seed_pipeline(model_dir: str, paths: list[str], frames: int = 40, upsample: int = 1, margin: float = 0.3) -> list:
    """The seed's predictor, from its description. Returns each clip's mean fake probability (None: no face)."""
    import cv2
    import dlib
    import numpy as np
    import torch
    from PIL import Image
    from transformers import ViTForImageClassification, ViTImageProcessor

    model = ViTForImageClassification.from_pretrained(model_dir).eval()
    processor = ViTImageProcessor.from_pretrained(model_dir)
    fake = next(i for i, name in model.config.id2label.items() if "fake" in name.lower())
    detector = dlib.get_frontal_face_detector()
    out = []
    for path in paths:
        cap = cv2.VideoCapture(path)
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        crops = []
        for i in np.linspace(0, total - 1, frames).astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
            ok, bgr = cap.read()
            if not ok:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            rects = detector(rgb, upsample)
            if not len(rects):
                continue
            r = max(rects, key=lambda r: r.width() * r.height())
            dx, dy = r.width() * margin, r.height() * margin
            h, w = rgb.shape[:2]
            x0, y0 = max(0, int(r.left() - dx)), max(0, int(r.top() - dy))
            x1, y1 = min(w, int(r.right() + dx)), min(h, int(r.bottom() + dy))
            crops.append(Image.fromarray(rgb[y0:y1, x0:x1]))
        cap.release()
        if not crops:
            out.append(None)
            continue
        batch = crops + [c.transpose(Image.FLIP_LEFT_RIGHT) for c in crops]
        with torch.no_grad():
            logits = model(**processor(images=batch, return_tensors="pt")).logits
        out.append(float(torch.softmax(logits, dim=-1)[:, fake].double().mean()))
    return out


def make_model(kind: str, out: Path) -> str:
    """A random-weight ViT saved as a detector folder and exported to ONNX (untimed setup)."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    from synthfake.detector.meta import TRAIN_LABELS, DetectorMeta
    from synthfake.detector.model import save_detector, tiny_config
    from synthfake.detector.onnx_export import export_onnx

    torch.manual_seed(0)
    cfg = tiny_config(224) if kind == "tiny" else ViTConfig(num_labels=2, id2label=dict(TRAIN_LABELS),
                                                            label2id={v: k for k, v in TRAIN_LABELS.items()})
    model = ViTForImageClassification(cfg).eval()
    with torch.no_grad():  # spread the probabilities so that a pipeline difference would show
        model.classifier.weight.mul_(5)
    meta = DetectorMeta(image_size=224)
    save_detector(model, meta, out)
    export_onnx(model, meta, out, log=lambda m: None)
    return (f"hidden {cfg.hidden_size}, {cfg.num_hidden_layers} layers, {cfg.num_attention_heads} heads, "
            f"patch {cfg.patch_size}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params")


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds from launch to exit, peak RSS MB of the process) of one command; fails loudly. The peak is
    the child's own VmHWM, polled: wait4's ru_maxrss would carry this process's peak (Linux keeps a parent's
    high-water mark across fork and exec), which after building a ViT-Base here is larger than either child's."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    while proc.poll() is None:
        try:
            hwm = [ln for ln in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if ln.startswith("VmHWM:")]
            peak = max(peak, int(hwm[0].split()[1]) / 1024) if hwm else peak
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... exited {proc.returncode}:\n{err[-3000:]}")
    return wall, peak


def int8_setup(model_dir: Path, dataset: Path) -> None:
    """`gen detect export MODEL --int8 --dataset D` (untimed): the int8 copy and its check on D's val split."""
    proc = subprocess.run([sys.executable, "-m", "synthfake", "detect", "export", str(model_dir), "--int8",
                           "--dataset", str(dataset)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"gen detect export --int8 exited {proc.returncode}:\n{proc.stderr[-3000:]}")


def run_seed(model_dir: Path, paths: list[str], result: Path) -> tuple[float, float, list]:
    wall, rss = timed([sys.executable, __file__, "--seed-child", str(model_dir), "--paths", json.dumps(paths),
                       "--result", str(result)])
    return wall, rss, json.loads(result.read_text())


def run_ours(model_dir: Path, clips: Path, out: Path, extra: list[str]) -> tuple[float, float, list]:
    wall, rss = timed([sys.executable, "-m", "synthfake", "detect", "predict", str(model_dir), str(clips),
                       "--out", str(out), "--quiet", *extra])
    with open(out.with_name(f"{out.stem}_probs.csv"), newline="") as fh:
        probs = {r["filename"]: (float(r["prob_fake"]) if r["prob_fake"] else None) for r in csv.DictReader(fh)}
    return wall, rss, [probs[n] for n in sorted(probs)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=6, help="How many clips (largest first).")
    ap.add_argument("--video-dir", type=Path, default=DATA)
    ap.add_argument("--model", choices=("tiny", "base"), default="tiny", help="Random-weight ViT size.")
    ap.add_argument("--model-dir", type=Path, help="Score with this model folder instead (not modified).")
    ap.add_argument("--int8", type=Path, metavar="DATASET", help="Make the random model's int8 copy, checked on "
                    "DATASET's val split (untimed), and time `predict` with it and with --fp32.")
    ap.add_argument("--repeat", type=int, default=3, help="Runs of each pipeline, alternating (at least 3).")
    ap.add_argument("--ours", default="", help="Extra flags for `gen detect predict` (e.g. '--runtime torch').")
    ap.add_argument("--seed-child", help=argparse.SUPPRESS)
    ap.add_argument("--paths", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.seed_child:
        a.result.write_text(json.dumps(seed_pipeline(a.seed_child, json.loads(a.paths))))
        return
    if not a.video_dir.is_dir():
        raise SystemExit(f"{a.video_dir}: test videos not found (the ../shared/data folder beside the project)")
    paths = sorted(map(str, a.video_dir.glob("*.mp4")), key=lambda p: -os.path.getsize(p))[:a.videos]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if a.model_dir:
            model = tmp / "model"
            model.mkdir()
            for f in a.model_dir.iterdir():  # a folder of links: the original stays as it is
                (model / f.name).symlink_to(f.resolve())
            cfg = json.loads((model / "config.json").read_text())
            desc = (f"{a.model_dir}: hidden {cfg.get('hidden_size')}, {cfg.get('num_hidden_layers')} layers, "
                    f"{cfg.get('model_type')}")
        else:
            model = tmp / "model"
            desc = f"random-weight ViT ({a.model}: {make_model(a.model, model)})"
            if a.int8:
                int8_setup(model, a.int8)
        check = model / "model.int8.json"
        rows = {"ours": a.ours.split()}  # as a user runs it: the int8 copy when its check passed, else fp32
        if check.exists():  # and the other one of the two
            other = "--fp32" if json.loads(check.read_text()).get("passed") else "--int8"
            rows[f"ours {other}"] = [*a.ours.split(), other]
        clips = tmp / "clips"
        clips.mkdir()
        for p in paths:
            (clips / Path(p).name).symlink_to(p)
        order = sorted(Path(p).name for p in paths)
        paths = [str(clips / n) for n in order]  # both score the same files in the same order
        runs: dict[str, list] = {"seed": [], **{k: [] for k in rows}}
        for i in range(max(3, a.repeat)):
            runs["seed"].append(run_seed(model, paths, tmp / "seed.json"))
            for name, flags in rows.items():
                runs[name].append(run_ours(model, clips, tmp / "sub.csv", flags))
            print(f"  round {i + 1}: " + ", ".join(f"{k} {v[-1][0]:.2f} s" for k, v in runs.items()), file=sys.stderr)
        info = json.loads(check.read_text()) if check.exists() else None
        if info:
            from synthfake.detector.quantize import int8_choice

            why = int8_choice(model)[1]
    print(f"model: {desc}, 224 px; {len(paths)} clips ({', '.join(order)}); {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the end; ours: `gen detect predict{(' ' + a.ours) if a.ours else ''}`")
    report(runs)
    if info:
        pairs = zip(*(r[0][2] for k, r in runs.items() if k != "seed"))
        gap = max((abs(x - y) for x, y in pairs if x is not None and y is not None), default=float("nan"))
        print(f"\nint8 copy ({', '.join(f'{k} {v}' for k, v in info.get('quantization', {}).items())}), checked on "
              f"{info.get('files')} val files of {info.get('dataset')}: macro F1 int8 {info['macro_f1_int8']:.4f}, "
              f"fp32 {info['macro_f1_fp32']:.4f}, max prob change {info['max_prob_diff']:.4f}, "
              f"{info.get('labels_changed')} label(s) changed. `ours`: {why}. On these clips, int8 against fp32: "
              f"max prob diff {gap:.4f}.")


def report(runs: dict[str, list]) -> None:
    """The markdown table: min and median end-to-end wall, speed-up over the seed, peak RSS, probability gap."""
    seed_probs = runs["seed"][0][2]
    print("| pipeline | runs | min s | median s | x faster (min) | x faster (median) | peak RSS MB | "
          "max prob diff vs seed |")
    print("|---|---|---|---|---|---|---|---|")
    smin, smed = min(r[0] for r in runs["seed"]), statistics.median(r[0] for r in runs["seed"])
    for name, rs in runs.items():
        walls = [r[0] for r in rs]
        diffs = [abs(x - y) for x, y in zip(rs[0][2], seed_probs) if x is not None and y is not None]
        gap = f"{max(diffs):.4f}" if diffs else "n/a"
        print(f"| {name} | {len(rs)} | {min(walls):.2f} | {statistics.median(walls):.2f} | {smin / min(walls):.1f} | "
              f"{smed / statistics.median(walls):.1f} | {max(r[1] for r in rs):.0f} | {gap} |")


if __name__ == "__main__":
    main()
