"""Where one generation worker's time goes, per weights-free backend: decode, face detection and landmarks, the
manipulation itself, encode, bookkeeping (probe, sha256, fsync + rename, record), and the rest (planning, the
shard's loop). The manipulation is everything a backend's `generate` does that is none of the others (source
loading and alignment included). Beside it, the floor: decoding and encoding the same frames and nothing else
(the `reencode` backend on the same clips, which is also how every paired real is made).

Each category's time is exclusive: a clock attributes every moment to the innermost category running (decoding
inside a backend's frame loop counts as decode, not as manipulation). Landmark tracks of the source videos, dlib's
models and scipy's signal module are loaded before timing (each is paid once per dataset or per worker).

    python benchmarks/profile_generate.py [--sources ../shared/data] [--n 8] [--clip-seconds 1]
                                          [--backend face_swap=landmark_swap ...]
"""

from __future__ import annotations

import argparse
import functools
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ("decode", "detect", "manipulate", "encode", "bookkeeping", "other")
DEFAULT = ("generation=morph", "face_swap=landmark_swap", "face_swap=self_blend", "reenactment=landmark_reenact",
           "lip_sync=mouth_sync", "generation=latent_decode_sharp", "face_swap=aligned_swap",
           "reenactment=crop_reenact", "lip_sync=crop_sync")  # the landmark backends, then the defaults


class Clock:
    """Exclusive seconds per category: entering a category pauses the one running."""

    def __init__(self):
        self.totals: dict[str, float] = defaultdict(float)
        self.stack = [["other", time.perf_counter()]]

    def enter(self, cat: str) -> None:
        now = time.perf_counter()
        self.totals[self.stack[-1][0]] += now - self.stack[-1][1]
        self.stack.append([cat, now])

    def leave(self) -> None:
        now = time.perf_counter()
        cat, start = self.stack.pop()
        self.totals[cat] += now - start
        self.stack[-1][1] = now

    def flush(self) -> None:
        """Count the running category's time up to now."""
        now = time.perf_counter()
        self.totals[self.stack[-1][0]] += now - self.stack[-1][1]
        self.stack[-1][1] = now

    def reset(self) -> None:
        self.totals.clear()
        self.stack = [["other", time.perf_counter()]]

    def timed(self, cat: str, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            self.enter(cat)
            try:
                return fn(*a, **k)
            finally:
                self.leave()
        return wrapper

    def timed_iter(self, cat: str, it):
        """Each step of iterator `it` counted under `cat`."""
        it = iter(it)
        while True:
            self.enter(cat)
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                self.leave()
            yield item

    def timed_gen(self, cat: str, gen_fn):
        @functools.wraps(gen_fn)
        def wrapper(*a, **k):
            return self.timed_iter(cat, gen_fn(*a, **k))
        return wrapper


def instrument(clock: Clock, backends: list[str]) -> None:
    """Wrap the project's decode, detection, encode and commit functions, and each backend's generate, where the
    callers look them up."""
    from synthfake import generators

    for name in backends:
        mod = generators.get(name)
        mod.generate = clock.timed("manipulate", mod.generate)
    from synthfake import faces, media, writer
    from synthfake.media import encode, frames, image, probe

    frames._decode = clock.timed_gen("decode", frames._decode)
    timed_read = clock.timed("decode", image.read_image)
    for mod in (media, frames, probe):
        mod.read_image = timed_read
    media.read_audio_of_video = clock.timed("decode", media.read_audio_of_video)
    media.read_audio = clock.timed("decode", media.read_audio)
    for name in ("detect_boxes", "landmarks", "detect", "track", "descriptor", "embed", "embedding"):
        if callable(getattr(faces, name, None)):
            setattr(faces, name, clock.timed("detect", getattr(faces, name)))
    raw_write = encode.write_video

    def write_video(path, frames_in, fps, audio=None, crf=None, preset=None):
        return raw_write(path, clock.timed_iter("manipulate", frames_in), fps, audio, crf, preset)

    media.write_video = clock.timed("encode", write_video)
    media.write_png = clock.timed("encode", media.write_png)
    writer.commit_sample = clock.timed("bookkeeping", writer.commit_sample)
    import synthfake.runner as runner

    runner.commit_sample = writer.commit_sample


def preload() -> None:
    """What a worker pays once, paid before timing: dlib's three models and scipy's signal module (a run's first
    sample would otherwise carry them, however the code before or after a change loads them)."""
    import scipy.signal  # noqa: F401  (resampling and filters of audio; 1.5-3 s to import)

    from synthfake import faces

    faces.preload_models()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sources", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--clip-seconds", type=float, default=1.0)
    ap.add_argument("--backend", action="append", default=None, help="TYPE=NAME (repeatable)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "synthfake_profile_generate",
                    help="Scratch folder; its tracks/ (landmark tracks of the sources) is kept for the next run.")
    args = ap.parse_args()
    from synthfake.dataset import Dataset
    from synthfake.run_config import RunSettings
    from synthfake.runner import Shard
    from synthfake.shared_types import DEFAULT_RATIOS
    from synthfake.source_files import video_track

    preload()
    clock = Clock()
    specs = args.backend or list(DEFAULT)
    instrument(clock, [s.split("=")[1] for s in specs] + ["reencode"])
    t = Table(title=f"one worker, {args.n} samples of {args.clip_seconds:g} s clips per backend: seconds per sample "
                    f"(share of the sample's time)")
    for c in ("backend", "samples/s", "s/sample", *CATEGORIES, "floor: decode+encode s/sample"):
        t.add_column(c, justify="left" if c == "backend" else "right")
    tmp = args.work
    (tmp / "tracks").mkdir(parents=True, exist_ok=True)
    try:
        for spec in specs:
            typ, name = spec.split("=")
            fields = dict(n=args.n, reals=args.n, seed=0, ratios={typ: DEFAULT_RATIOS[typ]},
                          backends={typ: name, "real": "reencode"}, splits={"train": 0.7, "val": 0.15, "test": 0.15},
                          clip_seconds=args.clip_seconds)
            shutil.rmtree(tmp / name, ignore_errors=True)
            (tmp / name / "cache").mkdir(parents=True)
            (tmp / name / "cache" / "tracks").symlink_to(tmp / "tracks")
            ds = Dataset.prepare(tmp / name, args.sources, fields, 0.4)
            ds.save()
            ds.manifest_dir.mkdir(exist_ok=True)
            ds.failures_dir.mkdir(exist_ok=True)
            for it in ds.index.items:  # tracks once, before timing
                if it.is_face and it.kind == "video":
                    video_track(Path(ds.index.root) / it.path, it.sha256, ds.cache_dir, it.embedding)
            fakes, reals = list(ds.table.indices(real=False)), list(ds.table.indices(real=True))
            rows = {}
            for what, todo in (("fakes", fakes), ("reals", reals)):
                shard = Shard(ds, RunSettings(show_progress=False))
                clock.reset()
                t0 = time.perf_counter()
                with open(ds.worker_files(0, 1)[0], "a") as shard.manifest, \
                        open(ds.worker_files(0, 1)[1], "a") as shard.failures:
                    for i in todo:
                        shard._make_group([ds.table.spec(i)], lambda: None)
                wall = time.perf_counter() - t0
                clock.flush()
                rows[what] = (wall, dict(clock.totals), len(todo))
            wall, cats, k = rows["fakes"]
            rwall, rcats, rk = rows["reals"]
            floor = (rcats.get("decode", 0) + rcats.get("encode", 0)) / max(1, rk)
            t.add_row(f"{typ}/{name}", f"{k / wall:.2f}", f"{wall / k:.3f}",
                      *(f"{cats.get(c, 0) / k:.3f} ({100 * cats.get(c, 0) / wall:.0f}%)" for c in CATEGORIES),
                      f"{floor:.3f}")
    finally:
        for spec in specs:
            shutil.rmtree(tmp / spec.split("=")[1], ignore_errors=True)
    Console(width=220).print(t)


if __name__ == "__main__":
    main()
