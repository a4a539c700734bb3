"""The one writer every sample goes through, real or fake: same codec, container and settings, and the commit.

Encoding: images are PNG (lossless; then one JPEG encode for both samples of a pair when the pair's backend
declares it, `finish.py`); videos are H.264 yuv420p MP4 at the source's fps with AAC audio, always
resampled to AUDIO_RATE and AUDIO_CHANNELS. A real is re-encoded exactly like a fake, so that a detector
cannot learn "fake = different encoder" (nor "fake = 16 kHz speech" from a lip-sync backend's audio). A backend
encodes through `save_image` / `save_video` into its temporary stem and returns what it wrote (`Generated`).

Commit (`commit_sample`): the quality gate on manipulated frames, the pair's finish (`finish.py`: one JPEG encode,
one audio band, when the pair's backend declares them), the plan's degradations, probe, sha256, fsync
and rename onto the final name, then the record appended (flushed and fsynced) to the shard's manifest. A
record exists only for a complete file.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime, timezone
from fractions import Fraction
from math import gcd
from pathlib import Path
from typing import IO, Iterable

import numpy as np

from . import finish, media
from .dataset import Dataset
from .degrade import apply_chain, draw_chain
from .errors import SampleFailed
from .files import commit_file, sha256_file
from .generators import Generated
from .manifest import Record, SourceRef, append_line
from .sample_spec import SampleSpec


def save_image(stem: Path, rgb: np.ndarray) -> Path:
    """A backend's image output: PNG beside its temporary stem."""
    return media.write_png(stem, rgb)


AUDIO_RATE = 44100  # the rate of the talking-head sources; speech recordings are often 16 kHz
AUDIO_CHANNELS = 2


def conform_audio(audio: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """Audio (samples, channels) float32 at AUDIO_RATE with AUDIO_CHANNELS (polyphase resampling, scipy)."""
    data, rate = audio
    data = np.asarray(data, np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if rate != AUDIO_RATE:
        from scipy.signal import resample_poly  # imported here: 1.5 s a process, and most sources need none

        g = gcd(int(rate), AUDIO_RATE)
        data = resample_poly(data, AUDIO_RATE // g, int(rate) // g, axis=0).astype(np.float32)
    if data.shape[1] != AUDIO_CHANNELS:
        mono = data.mean(1, keepdims=True)
        data = np.repeat(mono, AUDIO_CHANNELS, 1)
    return np.clip(data, -1.0, 1.0), AUDIO_RATE


def save_video(stem: Path, frames: Iterable[np.ndarray], fps: Fraction | float,
               audio: tuple[np.ndarray, int] | None = None, *, expected: int, source: str) -> tuple[Path, int]:
    """Write the clip; a clip of other than `expected` frames (a short decode of `source`) fails the sample."""
    path = Path(f"{stem}.mp4")
    n = media.write_video(path, frames, fps, conform_audio(audio) if audio is not None else None)
    if n != expected:
        raise SampleFailed(f"{source}: wrote {n} of {expected} frames")
    return path, n


def now() -> str:
    """The time a record or failure is written (UTC, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def source_refs(spec: SampleSpec) -> list[SourceRef]:
    """A sample's sources as its record (or failure) lists them."""
    return [SourceRef(path=it.path, sha256=it.sha256, identity=it.identity, role=role) for it, role in spec.sources]


def commit_sample(ds: Dataset, spec: SampleSpec, version: str, out: Generated, shard: tuple[int, int],
                  manifest: IO, t0: float) -> tuple[Record, float]:
    """Check, degrade and commit what a backend wrote for one sample, then append its record to `manifest`;
    returns the record and the seconds the commit took (probe, sha256, fsync, rename, append)."""
    if spec.label == 1 and out.manipulated_frames < ds.plan.min_manipulated * out.frames:
        raise SampleFailed(f"only {out.manipulated_frames}/{out.frames} frames manipulated "
                           f"(minimum {ds.plan.min_manipulated:.0%}); a fake of real frames is label noise")
    finish.apply(ds, spec, out)
    applied = _degrade(ds, spec, out) if ds.plan.degrade else []
    t1 = time.perf_counter()
    final = ds.media_dir(spec.split, spec.type) / f"{spec.id}{out.path.suffix}"
    info = media.probe(out.path)
    sha, size = sha256_file(out.path), out.path.stat().st_size
    commit_file(out.path, final)
    rank, world = shard
    rec = Record(
        id=spec.id, index=spec.index, type=spec.type, label=spec.label, backend=spec.backend,
        backend_version=version, weights=out.weights, weights_unverified=out.weights_unverified,
        params={**spec.params, **out.params},
        seed=spec.seed, sources=source_refs(spec), identities=sorted({it.identity for it, _ in spec.sources}),
        path=final.relative_to(ds.root).as_posix(), sha256=sha, bytes=size,
        media=info.model_copy(update={"frames": out.frames, "fps": round(info.fps, 4),
                                      "duration": round(info.duration, 4)}),
        manipulated_frames=out.manipulated_frames, degradations=applied, attempt=spec.attempt, split=spec.split,
        rank=rank, world_size=world, host=socket.gethostname(), elapsed_s=round(time.perf_counter() - t0, 3),
        created=now())
    append_line(manifest, rec)
    return rec, time.perf_counter() - t1


def _degrade(ds: Dataset, spec: SampleSpec, out: Generated) -> list[dict]:
    """Post-process the backend's output through the plan's chain, drawn for this sample; keep a 'before' still."""
    chain = draw_chain(ds.plan.degrade, [ds.plan.seed, *spec.degrade_seed], media.kind_of(out.path))
    if not chain:
        return []
    before = ds.pristine_still(spec.id)
    before.parent.mkdir(parents=True, exist_ok=True)
    frames = [media.read_image(out.path)] if media.kind_of(out.path) == "image" else \
        media.read_frames(out.path, out.frames // 2, 1)
    before.write_bytes(media.encode_png(frames[0]))
    new_path = apply_chain(out.path, Path(f"{out.path.with_suffix('')}.deg"), chain)
    out.path.unlink()
    n = media.probe(new_path).frames if new_path.suffix == ".mp4" else 1
    out.manipulated_frames = round(out.manipulated_frames * n / max(1, out.frames))  # frame-rate change
    out.path, out.frames = new_path, n
    return chain
