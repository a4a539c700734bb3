"""Scoring: stream crops (and their horizontal flips) through fixed-size batches; one probability per file.

Memory is bounded by the batch size whatever the number of frames or files: batches may span files, and
a file's probability (the mean fake probability over its crops and flips) is given as soon as its last
crop has been scored. Results do not depend on the batch size (float32, eval mode, inference mode).
This module imports no torch: the model is a function (pixels, video) -> fake probabilities (onnxruntime), or a
torch module, wrapped by `as_scorer` on first use; `video` (B,) is 1.0 for a crop of a video, which a model with
media heads scores with its video head (residual_stats.py) and every other model ignores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from .crops import FileCrops
from .meta import DetectorMeta


@dataclass
class FileScore:
    """One file's result: mean fake probability (None without crops), crops used, and any reason/note."""

    path: str
    prob: float | None
    crops: int
    sampled: int = 0
    reason: str = ""
    note: str = ""


@dataclass
class _Pending:
    path: str
    crops: int = 0
    last: FileCrops | None = None  # the file's last part, once it has come
    probs: list[float] = field(default_factory=list)


def to_pixels(crops: list[np.ndarray], flips: list[bool], mean, std) -> np.ndarray:
    """uint8 HWC crops (flipped where asked) -> normalised float32 NCHW, like ViTImageProcessor ((x/255 - mean)
    / std, as one multiply-add written straight into the NCHW array: 4x faster than three float passes)."""
    u = np.stack([c[:, ::-1] if f else c for c, f in zip(crops, flips)]).transpose(0, 3, 1, 2)
    std = np.asarray(std, np.float64)
    scale = (1 / (255 * std)).astype(np.float32)[None, :, None, None]
    bias = (-np.asarray(mean, np.float64) / std).astype(np.float32)[None, :, None, None]
    x = np.empty(u.shape, np.float32)
    np.multiply(u, scale, out=x)
    x += bias
    return x


def takes_media(model) -> bool:
    """Whether a torch model (or its config) scores a video's crops with a head of their own (`is_video`)."""
    return bool(getattr(getattr(model, "config", model), "media_heads", False))


def video_flags(video, n: int) -> np.ndarray:
    """(n,) float32 of 1.0 for a video's crop: `video` as given (None: all images)."""
    return np.zeros(n, np.float32) if video is None else np.asarray(video, np.float32).reshape(n)


def fake_probs(model, pixels, fake_index: int, pad_to: int = 0, video=None) -> np.ndarray:
    """Softmax probability of the fake class for a batch of a torch model, computed in float32.

    `pad_to`: pad a short batch with zeros to this size (fixed shapes on CUDA: one kernel plan, no
    re-allocation); the padding's outputs are dropped. `video`: which crops are a video's (`takes_media`).
    """
    import torch

    x = torch.as_tensor(pixels)
    n = len(x)
    v = torch.from_numpy(video_flags(video, n))
    if pad_to and n < pad_to:
        x = torch.cat([x, x.new_zeros((pad_to - n, *x.shape[1:]))])
        v = torch.cat([v, v.new_zeros(pad_to - n)])
    param = next(model.parameters())
    extra = {"is_video": v.to(param.device)} if takes_media(model) else {}
    with torch.inference_mode():
        logits = model(pixel_values=x.to(param.device, param.dtype), **extra).logits[:n]
    return torch.softmax(logits.float(), dim=-1)[:, fake_index].cpu().numpy()


def as_scorer(model, fake_index: int, pad_to: int = 0) -> Callable[..., np.ndarray]:
    """A function (pixels, video=None) -> fake probabilities: a torch module is wrapped, a function is kept."""
    if hasattr(model, "parameters"):
        return lambda pixels, video=None: fake_probs(model, pixels, fake_index, pad_to, video)
    return model


def score_stream(model, files: Iterable[FileCrops], meta: DetectorMeta, batch_size: int = 16,
                 tta: bool | None = None) -> Iterator[FileScore]:
    """A FileScore for each FileCrops (a whole file each), in order."""
    return score_parts(model, enumerate(files), meta, batch_size, tta)


def score_parts(model, parts: Iterable[tuple[int, FileCrops]], meta: DetectorMeta, batch_size: int = 16,
                tta: bool | None = None) -> Iterator[FileScore]:
    """A FileScore for each file, in seq order, from (seq, part) pairs whose files may interleave.

    Crops and their flips go through the model `batch_size` at a time; a file's probability is the mean
    over its crops and flips, in frame order, so it does not depend on the batching.
    """
    views = (False, True) if (meta.tta if tta is None else tta) else (False,)
    probs_of = as_scorer(model, meta.fake_index)
    files: dict[int, _Pending] = {}
    buf: list[tuple[int, np.ndarray, bool, bool]] = []
    next_seq = 0

    def flush() -> None:
        if buf:
            pixels = to_pixels([b[1] for b in buf], [b[2] for b in buf], meta.mean, meta.std)
            probs = probs_of(pixels, np.array([b[3] for b in buf], np.float32))
            for (seq, *_), p in zip(buf, probs):
                files[seq].probs.append(float(p))
            buf.clear()

    def ready() -> Iterator[FileScore]:
        nonlocal next_seq
        while (pe := files.get(next_seq)) and pe.last is not None and len(pe.probs) == pe.crops * len(views):
            del files[next_seq]
            next_seq += 1
            last = pe.last
            prob = float(np.mean(np.asarray(pe.probs, np.float64))) if pe.probs and not last.reason else None
            yield FileScore(pe.path, prob, pe.crops, last.sampled, last.reason, last.note)

    for seq, part in parts:
        pe = files.setdefault(seq, _Pending(part.path))
        pe.crops += len(part.crops)
        video = part.video
        for crop in part.crops:
            for flip in views:
                buf.append((seq, crop, flip, video))
                if len(buf) >= batch_size:
                    flush()
        if part.last:
            pe.last = part
        yield from ready()
    flush()
    yield from ready()


def label_of(score: FileScore, meta: DetectorMeta, threshold: float | None = None) -> int:
    """1 fake / 0 real at the threshold; the fallback label when the file has no probability."""
    if score.prob is None:
        return meta.fallback_label
    return int(score.prob >= (meta.threshold if threshold is None else threshold))


SHARE = 0.5  # the share of a folder that `--fake-share` calls fake when no other is given


def share_threshold(p, share: float = SHARE) -> float:
    """The threshold that calls `share` of the scores fake (rounded to whole files, at least one file each way):
    the midpoint between neighbouring scores. Uses no labels: for a folder whose scores sit elsewhere than the
    validation split's (new people, new generators), where a saved threshold can call everything one class."""
    s = np.sort(np.asarray(p, float))[::-1]
    if len(s) < 2:
        return float(s[0]) if len(s) else 0.5
    k = int(np.clip(round(share * len(s)), 1, len(s) - 1))
    return float((s[k - 1] + s[k]) / 2)
