"""Scoring: stream crops (and their horizontal flips) through fixed-size batches; one probability per file.

Memory is bounded by the batch size whatever the number of frames or files: batches may span files, and
a file's probability (the mean fake probability over its crops and flips) is given as soon as its last
crop has been scored. Results do not depend on the batch size (float32, eval mode, inference mode).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np
import torch

from .crops import FileCrops
from .model import DetectorMeta


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
    fc: FileCrops
    expected: int
    probs: list[float] = field(default_factory=list)


def to_pixels(crops: list[np.ndarray], flips: list[bool], mean, std) -> torch.Tensor:
    """uint8 HWC crops (flipped where asked) -> normalised float32 NCHW, like ViTImageProcessor."""
    x = np.stack([c[:, ::-1] if f else c for c, f in zip(crops, flips)]).astype(np.float32) * np.float32(1 / 255)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def fake_probs(model, pixels: torch.Tensor, fake_index: int) -> np.ndarray:
    """Softmax probability of the fake class for a batch, computed in float32."""
    param = next(model.parameters())
    with torch.inference_mode():
        logits = model(pixel_values=pixels.to(param.device, param.dtype)).logits
    return torch.softmax(logits.float(), dim=-1)[:, fake_index].cpu().numpy()


def score_stream(model, files: Iterable[FileCrops], meta: DetectorMeta, batch_size: int = 16,
                 tta: bool | None = None) -> Iterator[FileScore]:
    """A FileScore for each FileCrops, in order; the model sees at most `batch_size` crops at a time."""
    tta = meta.tta if tta is None else tta
    pending: OrderedDict[int, _Pending] = OrderedDict()
    buf: list[tuple[int, np.ndarray, bool]] = []

    def flush() -> None:
        if buf:
            probs = fake_probs(model, to_pixels([c for _, c, _ in buf], [f for _, _, f in buf], meta.mean, meta.std),
                               meta.fake_index)
            for (seq, _, _), p in zip(buf, probs):
                pending[seq].probs.append(float(p))
            buf.clear()

    def ready() -> Iterator[FileScore]:
        while pending:
            seq, pe = next(iter(pending.items()))
            if len(pe.probs) < pe.expected:
                return
            del pending[seq]
            prob = float(np.mean(np.asarray(pe.probs, np.float64))) if pe.probs else None
            yield FileScore(pe.fc.path, prob, len(pe.fc.crops), pe.fc.sampled, pe.fc.reason, pe.fc.note)

    for seq, fc in enumerate(files):
        pending[seq] = _Pending(fc, len(fc.crops) * (2 if tta else 1))
        for crop in fc.crops:
            for flip in ((False, True) if tta else (False,)):
                buf.append((seq, crop, flip))
                if len(buf) >= batch_size:
                    flush()
        yield from ready()
    flush()
    yield from ready()


def label_of(score: FileScore, meta: DetectorMeta, threshold: float | None = None) -> int:
    """1 fake / 0 real at the threshold; the fallback label when the file has no probability."""
    if score.prob is None:
        return meta.fallback_label
    return int(score.prob >= (meta.threshold if threshold is None else threshold))
