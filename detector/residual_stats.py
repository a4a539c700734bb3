"""A detector that sees residual statistics, not faces: fixed high-pass filters, the mean size of their output
over four parts of the crop, a standardisation and a linear (or small MLP) head.

Why: a from-scratch CNN trained on a few people learns who they are (measured: own-test AUC 0.62 on people it
never saw). What a manipulation leaves that a person does not is in the residuals: a face swapped at 128 px,
a mouth regenerated at 96 px, a crop warped at 256 px and pasted back, or a decoder's output all hold less (or
other) fine detail and sensor noise than the frame around them. The filters are the spatial rich model's
second-order predictors (Fridrich & Kodovsky 2012) and a first difference, on grey levels, plus Sobel
gradients (how much structure there is to carry detail) and a residual of each chroma plane; each is averaged
over the face core, the margin ring, the mouth and the eyes of the crop (`detector/crops.py`: the face box is
its central 1/(1 + 2 * margin)), in log. 32 numbers a crop; the head is all that trains.
With `mscn`, 48 more: BRISQUE-style statistics (Mittal et al. 2012) of the mean-subtracted, contrast-normalised
grey image at full and half size, per region: its log variance, its shape ((E|z|)^2 / E z^2, a generalised
Gaussian's), and the mean product of neighbours in four directions. They say how detail is distributed, not only
how much there is.
With `media_heads`, a second linear head scores video crops on contrasts alone: each filter's face core, mouth and
eyes against its own margin ring (23 numbers), trained on the video crops while the first head trains on the
images. In a video the absolute detail level is the camera's, the codec's and the beauty filter's; a paste-back
leaves the face unlike its own surroundings. A head without absolute levels cannot read a soft real clip as fake
(strategy/README.md, 5b). The media kind comes in as `is_video` (B,), 1.0 for a video's crop. With
`video_input: "spectrum"` the video head reads the crop's radial power spectrum instead (`radial_spectrum.py`).

It is a transformers model (config + PreTrainedModel, registered with the Auto classes), so training (the
Trainer), saving, loading, the ONNX export and scoring take it like the ViT and the ResNet.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModelForImageClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput

from . import radial_spectrum

MODEL_TYPE = "residual_stats"
KB = [[-1, 2, -1], [2, -4, 2], [-1, 2, -1]]  # SRM 3x3 "KB", / 4
KV = [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]]  # / 12
REGIONS = ("core", "ring", "mouth", "eyes")
EPS = 1e-3


def grey_kernels() -> torch.Tensor:
    """(5, 1, 5, 5): SRM KB, SRM KV, the horizontal first difference, Sobel x, Sobel y (3x3 ones centred)."""
    k = torch.zeros(5, 1, 5, 5)
    k[0, 0, 1:4, 1:4] = torch.tensor(KB, dtype=torch.float32) / 4
    k[1, 0] = torch.tensor(KV, dtype=torch.float32) / 12
    k[2, 0, 2, 2:4] = torch.tensor([-1.0, 1.0])
    sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    k[3, 0, 1:4, 1:4], k[4, 0, 1:4, 1:4] = sobel, sobel.T
    return k


def region_masks(n: int) -> torch.Tensor:
    """(4, n, n) masks, each summing to 1: face core, margin ring (outer 24/224), mouth, eyes."""
    m = torch.zeros(4, n, n)
    a, c = int(n * 48 / 224), int(n * 24 / 224)
    m[0, a:n - a, a:n - a] = 1
    m[1] = 1
    m[1, c:n - c, c:n - c] = 0
    m[2, int(n * .58):int(n * .8), int(n * .31):int(n * .69)] = 1
    m[3, int(n * .27):int(n * .47), int(n * .25):int(n * .75)] = 1
    return m / m.sum(dim=(1, 2), keepdim=True)


class ResidualStatsConfig(PretrainedConfig):
    """`image_size` (the masks' size), `clip` (grey levels a truncated residual is capped at), `hidden` (0: a
    linear head), `mscn` (48 more statistics), `media_heads` (video crops scored on contrasts; `image_head_all`:
    the first head learns from the video crops too, not only the images; `video_input`: what the video head reads,
    "contrasts" or "spectrum"), `pixel_mean` / `pixel_std` (the normalisation the crops arrive with, undone to grey
    levels)."""

    model_type = MODEL_TYPE

    def __init__(self, image_size: int = 224, clip: float = 3.0, hidden: int = 0, pixel_mean=(0.5, 0.5, 0.5),
                 pixel_std=(0.5, 0.5, 0.5), mscn: bool = False, media_heads: bool = False,
                 image_head_all: bool = False, video_input: str = "contrasts", **kwargs):
        super().__init__(**kwargs)
        if video_input not in VIDEO_INPUTS:
            raise ValueError(f"video_input {video_input!r}: one of {', '.join(VIDEO_INPUTS)}")
        self.video_input = video_input
        self.image_size, self.clip, self.hidden = int(image_size), float(clip), int(hidden)
        self.mscn, self.media_heads, self.image_head_all = bool(mscn), bool(media_heads), bool(image_head_all)
        self.pixel_mean, self.pixel_std = [float(v) for v in pixel_mean], [float(v) for v in pixel_std]


N_FEATURES = 3 * 2 * len(REGIONS) + len(REGIONS) + 2 * 2  # residuals (plain, truncated), gradients, chroma
CHROMA = slice(N_FEATURES - 4, N_FEATURES)  # the chroma residuals' columns (Cr, Cb x core, ring)
GREY_LEVELS = 0.5  # mean |Cr| + |Cb| (grey levels) under which a crop has no colour: its chroma says nothing
MSCN_STATS = ("var", "shape", "h", "v", "d1", "d2")  # per region and scale; h..d2: neighbour products
N_MSCN = 2 * len(MSCN_STATS) * len(REGIONS)


VIDEO_INPUTS = ("contrasts", "spectrum")
N_CONTRASTS = 3 * 7 + 2  # core, mouth, eyes minus ring for 6 residuals and the gradient; Cr, Cb core minus ring
CHROMA_CONTRASTS = slice(N_CONTRASTS - 2, N_CONTRASTS)


def contrasts(f: torch.Tensor) -> torch.Tensor:
    """(B, 23) of the log features (B, >= 32): each region's log residual size minus the margin ring's, per filter
    (a ratio of sizes): what a global change of detail (focus, codec, filter) leaves unchanged."""
    out = []
    for b in range(0, 28, 4):  # 6 residual columns and the gradient, 4 regions each (REGIONS' order)
        ring = f[:, b + 1:b + 2]
        out += [f[:, b:b + 1] - ring, f[:, b + 2:b + 4] - ring]
    out += [f[:, 28:29] - f[:, 29:30], f[:, 30:31] - f[:, 31:32]]
    return torch.cat(out, 1)


def n_features(mscn: bool) -> int:
    return N_FEATURES + (N_MSCN if mscn else 0)


def feature_names(mscn: bool = False) -> list[str]:
    """The name of each feature column, in `features`' order (e.g. "kb_t ring": KB truncated, margin ring)."""
    residuals = [f"{f}{t} {r}" for f in ("kb", "kv", "diff") for t in ("", "_t") for r in REGIONS]
    names = residuals + [f"grad {r}" for r in REGIONS] + [f"{c} {r}" for c in ("cr", "cb") for r in REGIONS[:2]]
    extra = [f"mscn{s} {k} {r}" for s in (1, 2) for k in MSCN_STATS for r in REGIONS]
    return names + (extra if mscn else [])


def gaussian_window(n: int = 7, sigma: float = 7 / 6) -> torch.Tensor:
    """(1, 1, n, n): BRISQUE's local weighting window."""
    ax = torch.arange(n, dtype=torch.float32) - n // 2
    g = torch.exp(-ax ** 2 / (2 * sigma * sigma))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def mscn_stats(grey: torch.Tensor, window: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(B, 6 * R) of grey (B, 1, H, W) in grey levels: MSCN log variance, shape and four neighbour products per
    region, each a mask-weighted mean (the masks (R, H, W) sum to 1; a product's map is one pixel smaller)."""
    p = window.shape[-1] // 2
    mu = F.conv2d(F.pad(grey, (p, p, p, p), mode="reflect"), window)
    var = F.conv2d(F.pad(grey * grey, (p, p, p, p), mode="reflect"), window) - mu * mu
    z = ((grey - mu) / (torch.sqrt(torch.clamp(var, min=0.0)) + 1.0))[:, 0].double()

    def mean(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bhw,rhw->br", x, m)

    ex2, eabs = mean(z * z, masks), mean(z.abs(), masks)
    products = [z[:, :, :-1] * z[:, :, 1:], z[:, :-1, :] * z[:, 1:, :], z[:, :-1, :-1] * z[:, 1:, 1:],
                z[:, :-1, 1:] * z[:, 1:, :-1]]
    cuts = [masks[:, :, :-1], masks[:, :-1, :], masks[:, :-1, :-1], masks[:, :-1, 1:]]
    out = [torch.log(ex2 + EPS), eabs * eabs / (ex2 + EPS)] + [mean(q, m) for q, m in zip(products, cuts)]
    return torch.cat(out, 1).float()


class ResidualStatsForImageClassification(PreTrainedModel):
    """pixel_values (B, 3, S, S), normalised as the config says -> logits (B, 2)."""

    config_class = ResidualStatsConfig
    main_input_name = "pixel_values"

    def __init__(self, config: ResidualStatsConfig):
        super().__init__(config)
        self._fixed: dict = {}  # filters, masks and normalisation per device: made from the config, never loaded
        n, h = n_features(getattr(config, "mscn", False)), config.hidden
        self.norm = nn.BatchNorm1d(n, affine=False)
        self.head = (nn.Linear(n, config.num_labels) if h <= 0 else
                     nn.Sequential(nn.Linear(n, h), nn.GELU(), nn.Linear(h, config.num_labels)))
        if getattr(config, "media_heads", False):
            n_video = N_CONTRASTS if self.reads_contrasts else radial_spectrum.N_SPECTRUM
            self.video_norm = nn.BatchNorm1d(n_video, affine=False)
            self.video_head = nn.Linear(n_video, config.num_labels)
        self.post_init()

    @property
    def reads_contrasts(self) -> bool:
        return getattr(self.config, "video_input", "contrasts") == "contrasts"

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.reset_parameters()

    def fixed(self, device) -> tuple[torch.Tensor, ...]:
        """(kernels, masks, mean, std, window, half-size masks) on `device`, built from the config once (not
        weights: a checkpoint cannot change them, and loading on the meta device cannot leave them empty); masks in
        float64, as `features` sums."""
        key = str(device)
        if key not in self._fixed:
            c = self.config
            self._fixed[key] = tuple(t.to(device) for t in (
                grey_kernels(), region_masks(c.image_size).double(), torch.tensor(c.pixel_mean).view(1, 3, 1, 1),
                torch.tensor(c.pixel_std).view(1, 3, 1, 1), gaussian_window(),
                region_masks(c.image_size // 2).double()))
        return self._fixed[key]

    def spectrum_fixed(self, device) -> tuple[torch.Tensor, ...]:
        """`radial_spectrum.fixed` for the config's crop size on `device`, built once."""
        key = f"{device} spectrum"
        if key not in self._fixed:
            self._fixed[key] = tuple(t.to(device) for t in radial_spectrum.fixed(self.config.image_size))
        return self._fixed[key]

    def rgb_grey(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, S, S) RGB and (B, 1, S, S) grey, in levels 0-255, of normalised crops."""
        _, _, mean, std, _, _ = self.fixed(pixel_values.device)
        rgb = (pixel_values * std + mean) * 255.0
        return rgb, 0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]

    def video_features(self, raw: torch.Tensor, pixel_values: torch.Tensor) -> tuple[torch.Tensor, slice]:
        """What the video head reads and its chroma columns: the 23 contrasts of the features, or the spectrum."""
        if self.reads_contrasts:
            return contrasts(raw), CHROMA_CONTRASTS
        spec = radial_spectrum.radial_spectrum(self.rgb_grey(pixel_values)[1], *self.spectrum_fixed(pixel_values.device))
        return spec, slice(spec.shape[1], spec.shape[1])

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, n_features): log mean residual sizes per region (and, with `mscn`, the MSCN statistics)."""
        kernels, masks, _, _, window, half_masks = self.fixed(pixel_values.device)
        rgb, grey = self.rgb_grey(pixel_values)
        r, b = rgb[:, 0:1], rgb[:, 2:3]
        chroma = torch.cat([(r - grey) * 0.713, (b - grey) * 0.564], 1)  # Cr, Cb without their offsets
        res = F.conv2d(F.pad(grey, (2, 2, 2, 2), mode="reflect"), kernels).abs()
        srm, grad = res[:, :3], res[:, 3:4] + res[:, 4:5]
        kb = kernels[:1, :, 1:4, 1:4]
        cres = F.conv2d(F.pad(chroma, (1, 1, 1, 1), mode="reflect"), kb.expand(2, 1, 3, 3), groups=2).abs()

        def pooled(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            # summed in float64: a float32 sum over 50k pixels depends on the runtime's order by ~1e-6, which the
            # standardisation and head can lift past the ONNX check's 1e-5 in probability
            s = torch.einsum("bchw,rhw->bcr", x.double(), m)
            return torch.log(s + EPS).float().flatten(1)

        both = torch.stack([srm, torch.clamp(srm, max=self.config.clip)], 2).flatten(1, 2)  # (B, 6, H, W)
        out = [pooled(both, masks), pooled(grad, masks), pooled(cres, masks[:2])]
        if getattr(self.config, "mscn", False):
            half = F.avg_pool2d(grey, 2)
            out += [mscn_stats(grey, window, masks), mscn_stats(half, window, half_masks)]
        return torch.cat(out, 1)

    def colourless(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 1) True for a crop without colour (a black-and-white photo): its chroma residuals are 0 by nature,
        which a head trained on colour reads as far outside anything real (a grey real photo scored 0.999 fake)."""
        rgb, grey = self.rgb_grey(pixel_values)
        r, b, grey = rgb[:, 0], rgb[:, 2], grey[:, 0]
        size = ((r - grey).abs() * 0.713 + (b - grey).abs() * 0.564).mean(dim=(1, 2))
        return (size < GREY_LEVELS)[:, None]

    def standardised(self, f: torch.Tensor, norm: nn.BatchNorm1d, chroma: slice, grey: torch.Tensor) -> torch.Tensor:
        """`f` standardised (batch statistics in training, the running ones written out otherwise: the ONNX
        exporter cannot shape a batch_norm here), a colourless crop's chroma columns set to the training mean:
        no evidence either way."""
        if self.training:
            f = norm(f)
        else:
            f = (f - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps)
        c = torch.where(grey, torch.zeros_like(f[:, chroma]), f[:, chroma])
        return torch.cat([f[:, :chroma.start], c, f[:, chroma.stop:]], 1)

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None,
                is_video: torch.Tensor | None = None, **kwargs):
        raw = self.features(pixel_values)
        grey = self.colourless(pixel_values)
        image = self.head(self.standardised(raw, self.norm, CHROMA, grey))
        if not getattr(self.config, "media_heads", False):
            crop_loss = F.cross_entropy(image, labels, reduction="none") if labels is not None else None
            return CropOutput(loss=None if crop_loss is None else crop_loss.mean(), logits=image, crop_loss=crop_loss)
        v, chroma = self.video_features(raw, pixel_values)
        video = self.video_head(self.standardised(v, self.video_norm, chroma, grey))
        flag = (torch.zeros(len(raw), device=raw.device) if is_video is None else is_video.reshape(-1)) > 0.5
        logits = torch.where(flag[:, None], video, image)  # each head learns from its own media
        crop_loss = None
        if labels is not None:
            crop_loss = F.cross_entropy(logits, labels, reduction="none")
            if self.config.image_head_all:  # ... and the image head from the video crops too
                crop_loss = crop_loss + torch.where(flag, F.cross_entropy(image, labels, reduction="none"), 0.0)
        return CropOutput(loss=None if crop_loss is None else crop_loss.mean(), logits=logits, crop_loss=crop_loss)


@dataclass
class CropOutput(ImageClassifierOutput):
    """ImageClassifierOutput with each crop's loss (B,), which a trainer that weighs crops (train.py) sums."""

    crop_loss: torch.Tensor | None = None


def register() -> None:
    """Make AutoConfig / AutoModelForImageClassification know the type (from_config, from_pretrained)."""
    AutoConfig.register(MODEL_TYPE, ResidualStatsConfig, exist_ok=True)
    AutoModelForImageClassification.register(ResidualStatsConfig, ResidualStatsForImageClassification,
                                              exist_ok=True)
