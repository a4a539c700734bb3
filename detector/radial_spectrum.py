"""The radial power spectrum of a grey crop, for the video head of `residual_stats` (`video_input: "spectrum"`).

Why: a video fake is made at a fixed resolution and scaled into its frame (Wav2Lip's 96 px mouth, LivePortrait's
256 px render, a 512 px talking-head decoder), which leaves a fall-off of the spectrum above that resolution's
Nyquist that the camera's own detail does not have. Fifteen numbers: the log mean power in 16 rings of frequency
from 8/224 of the sampling rate to Nyquist, each minus the lowest ring's (so a crop's contrast says nothing).
The transform is two fixed real matrices (cosine, sine) on each side of the Hann-windowed crop, in float64: an
ONNX graph of matrix products, no FFT operator, the same numbers in torch and onnxruntime.
"""

from __future__ import annotations

import math

import torch

N_BANDS = 16
LOWEST = 8 / 224  # frequencies under this share of the sampling rate hold the crop's layout, not its detail
N_SPECTRUM = N_BANDS - 1
EPS = 1e-3


def dft_matrices(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, n) cosine and sine matrices of the n-point DFT, float64."""
    k = torch.arange(n, dtype=torch.float64)
    angle = 2 * math.pi * torch.outer(k, k) / n
    return torch.cos(angle), torch.sin(angle)


def band_weights(n: int, bands: int = N_BANDS) -> torch.Tensor:
    """(bands, n, n) float64: each ring of frequency radius between LOWEST * n and n / 2 (unshifted DFT layout),
    weighted to average its cells."""
    f = torch.arange(n, dtype=torch.float64)
    f = torch.minimum(f, n - f)
    radius = torch.hypot(f[:, None], f[None, :])
    edges = torch.linspace(LOWEST * n, n / 2, bands + 1, dtype=torch.float64)
    w = torch.stack([((radius >= lo) & (radius < hi)).double() for lo, hi in zip(edges[:-1], edges[1:])])
    return w / w.sum(dim=(1, 2), keepdim=True)


def hann(n: int) -> torch.Tensor:
    """(n, n) float64 Hann window: the crop's edges do not leak into every frequency."""
    w = torch.hann_window(n, periodic=False, dtype=torch.float64)
    return torch.outer(w, w)


def fixed(n: int) -> tuple[torch.Tensor, ...]:
    """(cos, sin, band weights, window) for an n x n crop."""
    c, s = dft_matrices(n)
    return c, s, band_weights(n), hann(n)


def radial_spectrum(grey: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, bands: torch.Tensor,
                    window: torch.Tensor) -> torch.Tensor:
    """(B, N_SPECTRUM) of grey crops (B, 1, n, n) in grey levels: log ring power minus the lowest ring's."""
    g = grey[:, 0].double()
    g = (g - g.mean(dim=(1, 2), keepdim=True)) * window
    cg, sg = cos @ g, sin @ g
    re = cg @ cos - sg @ sin
    im = cg @ sin + sg @ cos
    power = torch.einsum("bhw,khw->bk", re * re + im * im, bands)
    s = torch.log(power + EPS)
    return (s[:, 1:] - s[:, :1]).float()
