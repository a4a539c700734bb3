"""Throughput of the model backends' inference paths on tiny models of the real formats, on CPU or CUDA.

Builds (in a temporary folder) the tiny FluxPipeline and the tiny ONNX models the tests use, then times the
adapters' own code: `diffusers_t2i.render` (images/s at batch 1 and at --batch), `inswapper.swap_frame`,
the LivePortrait per-frame path (motion, stitcher, generator, paste-back) and `wav2lip.sync_frame` on a real
face photo (frames/s). The numbers measure the pipeline around the models (alignment, pre/post-processing,
paste-back, runtime overheads), not the real models' cost, which depends on their size.

    python benchmarks/bench_models.py [--device cpu|cuda] [--n 50] [--images 16] [--batch 4] [--size 64]
                                      [--photo ../shared/data/faces/photo_s1.jpg] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import tiny_models  # noqa: E402  (the tests' builders of tiny models)

from synthfake import faces, media  # noqa: E402
from synthfake.generators.common import align  # noqa: E402
from synthfake.generators import diffusers_t2i, inswapper, liveportrait, wav2lip  # noqa: E402
from synthfake.generators.common import prompts  # noqa: E402

console = Console()


def timed(fn, n: int, warmup: int = 2) -> float:
    """Seconds per call of fn() over n calls, after warm-up calls."""
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def bench_t2i(work: Path, device: str, images: int, batch: int, size: int) -> list[tuple]:
    root = tiny_models.build_tiny_flux(work / "FLUX.1-schnell", size=size)
    given = {**{k: o.default for k, o in diffusers_t2i.OPTIONS.items()}, **tiny_models.tiny_flux_options(size)}
    loaded = diffusers_t2i._load(str(root), device, tuple(sorted(given.items())))
    texts = [prompts.sample(s).text for s in range(batch)]
    one = timed(lambda: diffusers_t2i.render(loaded, texts[:1], [0]), images)
    many = timed(lambda: diffusers_t2i.render(loaded, texts, list(range(batch))), max(1, images // batch))
    return [("diffusers_t2i", f"tiny FLUX {size}px, 2 steps, batch 1", 1 / one),
            ("diffusers_t2i", f"tiny FLUX {size}px, 2 steps, batch {batch}", batch / many)]


def bench_onnx(work: Path, device: str, n: int, photo: Path) -> list[tuple]:
    rgb = media.read_image(photo)
    lm = faces.detect(rgb).landmarks
    w = work / "onnx"
    tiny_models.inswapper(w / "inswapper_128.onnx")
    tiny_models.arcface(w / "w600k_r50.onnx")
    tiny_models.live_portrait(w)
    tiny_models.wav2lip(w / "wav2lip_gan_96.onnx")
    m = inswapper._models(str(w), device, True)  # allow_unverified: tiny models are not the published files
    lat = inswapper.latent(m, inswapper.embedding(m, rgb, faces.five_points(lm)))
    p = inswapper._params(0, device)
    rows = [("inswapper", f"swap_frame on a {rgb.shape[1]}x{rgb.shape[0]} photo",
             1 / timed(lambda: inswapper.swap_frame(m, rgb, lm, lat, p), n))]
    sess, _ = liveportrait._models(str(w), device)
    crop, mat = align.crop(rgb, faces.five_points(lm), liveportrait._template(), liveportrait.CROP)
    blob = liveportrait._prepare(crop)
    feature = sess["feature_extractor"].run(None, {"input": blob})[0]
    src = liveportrait.motion(sess, blob)
    x_s, mask = src.keypoints(), align.box_mask(liveportrait.CROP, 0.06, 0.04)

    def lp_frame():
        di = liveportrait.motion(sess, liveportrait._prepare(align.crop(rgb, faces.five_points(lm),
                                                                        liveportrait._template(), 512)[0]))
        x_d = liveportrait.relative(src, src, di).keypoints()
        x_d = sess["stitcher"].run(None, {"source": x_d, "target": x_s})[0]
        out = sess["generator"].run(None, {"feature_volume": feature, "source": x_d, "target": x_s})[0][0]
        face = np.clip(out.transpose(1, 2, 0) * 255, 0, 255).astype(np.uint8)
        return align.paste_back(rgb, face, mask, mat)

    rows.append(("liveportrait", "motion + stitch + generate + paste, per driving frame", 1 / timed(lp_frame, n)))
    w2l, _ = wav2lip._model(str(w), device, "wav2lip_gan_96")
    window = np.zeros((80, 16), np.float32)
    wp = wav2lip._params(0, device, "wav2lip_gan_96")
    rows.append(("wav2lip", "sync_frame (96 px face, lower-face paste)",
                 1 / timed(lambda: wav2lip.sync_frame(w2l, rgb, lm, window, wp), n)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--n", type=int, default=50, help="frames timed per ONNX backend")
    ap.add_argument("--images", type=int, default=16, help="images timed for diffusers_t2i")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=64, help="tiny FLUX image size (multiple of 16)")
    ap.add_argument("--photo", type=Path, default=ROOT.parent / "shared" / "data" / "faces" / "photo_s1.jpg")
    ap.add_argument("--work", type=Path, default=None)
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="bench_models_"))
    rows = bench_onnx(work, a.device, a.n, a.photo) + bench_t2i(work, a.device, a.images, a.batch, a.size)
    import onnxruntime as ort
    import torch

    gpu = torch.cuda.get_device_name(0) if a.device == "cuda" else "-"
    t = Table(title=f"model backends on {a.device} ({gpu}; onnxruntime {ort.__version__} "
                    f"{', '.join(ort.get_available_providers())}; torch {torch.__version__}; "
                    f"{os.cpu_count()} CPU cores)")
    for c in ("backend", "what", "per second"):
        t.add_column(c)
    for backend, what, rate in rows:
        t.add_row(backend, what, f"{rate:.1f}")
    console.print(t)


if __name__ == "__main__":
    main()
