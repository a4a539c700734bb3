"""Training examples: a dataset's crops as (cache file, crop index, class index, is a video's[, pseudo]) items,
loaded and augmented on the fly, batched, and weighed (per file, per media kind); self-blended pseudo-fakes."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import torch

from .augment import AugmentSettings, augment
from .meta import DetectorMeta


class CropDataset(torch.utils.data.Dataset):
    """Training examples (cache file, crop index, class index, is a video's[, pseudo]), loaded lazily and augmented
    on the fly; a pseudo example is a real crop self-blended anew at each draw and labelled fake. `media`: the
    model is told which crops are a video's (`score.takes_media`)."""

    def __init__(self, items: list[tuple], meta: DetectorMeta, seed: int, aug: AugmentSettings,
                 weights: np.ndarray | None = None, media: bool = False):
        self.items, self.meta, self.seed, self.aug, self.weights = items, meta, seed, aug, weights
        self.media = media
        self.calls: dict[int, int] = defaultdict(int)
        self.mean = np.asarray(meta.mean, np.float32)
        self.std = np.asarray(meta.std, np.float32)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        path, j, y, video, *pseudo = self.items[i]
        with np.load(path, allow_pickle=False) as z:
            crop = z["crops"][j]
        self.calls[i] += 1  # a new draw each epoch; torch's per-worker seed keeps loader workers apart
        rng = np.random.default_rng([self.seed, torch.initial_seed() % 2 ** 63, i, self.calls[i]])
        if pseudo:
            from .pseudo_fakes import pseudo_fake

            blended = pseudo_fake(crop, rng, self.meta.margin)
            crop, y = (crop, 1 - self.meta.fake_index) if blended is None else (blended, self.meta.fake_index)
        x = augment(crop, rng, self.aug).astype(np.float32) * np.float32(1 / 255)
        x = ((x - self.mean) / self.std).transpose(2, 0, 1)
        out = {"pixel_values": torch.from_numpy(np.ascontiguousarray(x)), "labels": y}
        if self.weights is not None:
            out["weights"] = float(self.weights[i])
        if self.media:
            out["is_video"] = float(video)
        return out


def collate(batch: list[dict]) -> dict:
    """Stack examples into the batch the Trainer passes to the model."""
    out = {"pixel_values": torch.stack([b["pixel_values"] for b in batch]),
           "labels": torch.tensor([b["labels"] for b in batch], dtype=torch.long)}
    for key in ("weights", "is_video"):
        if key in batch[0]:
            out[key] = torch.tensor([b[key] for b in batch], dtype=torch.float32)
    return out


def file_weights(items: list[tuple]) -> np.ndarray:
    """Each crop's weight when every training file weighs the same: 1 / its file's crops, scaled to mean 1 (the
    loss keeps its size). Unbalanced, a clip of 16 crops outweighs a photo 16 to 1, and the head learns clips."""
    counts = Counter(item[0] for item in items)
    w = np.array([1.0 / counts[item[0]] for item in items])
    return w * (len(w) / w.sum())


def media_weights(items: list[tuple]) -> np.ndarray:
    """Each crop's weight when, within each media kind, fakes and reals weigh the same: n_kind / (2 n_kind,label),
    scaled to mean 1. A version 6 plan's reals spread over its files while its fakes follow their types (reenactment
    and lip sync are clips), so clips lean fake (README command 1's data: 41 % of fakes are videos, 26 % of reals)
    and a head trained on them learns 'a clip is fake' as its bias."""
    cells = Counter((item[3], item[2]) for item in items)
    kinds = Counter(item[3] for item in items)
    w = np.array([kinds[item[3]] / (2.0 * cells[(item[3], item[2])]) for item in items])
    return w * (len(w) / w.sum())


def with_pseudo_fakes(items: list[tuple], rate: float, fake_index: int, seed: int) -> list[tuple]:
    """`items` plus `rate` self-blended pseudo-fakes per real crop (whole repeats, then a seeded share)."""
    reals = [(p, j, c, v, True) for p, j, c, v in items if c != fake_index]
    whole, part = divmod(max(0.0, rate), 1.0)
    pick = np.random.default_rng([seed, 7]).permutation(len(reals))[:round(part * len(reals))]
    return items + reals * int(whole) + [reals[k] for k in sorted(pick)]
