"""Train a small image autoencoder that a `latent_decode*` backend decodes through, and export it to ONNX.

Its shape is a latent diffusion model's autoencoder in small: an encoder down to 1/8 of the image with 48 latent
channels, a decoder back up through three nearest-neighbour upsamplings each followed by 3x3 convolutions (the
stage that leaves an LDM decoder's periodic upsampling traces), no skip connection from the input, so every
output pixel is made by the decoder from the latent (needs torch). Trained on random patches (48 px by default)
of the sources' face photos and video frames (L1 on pixels and on their horizontal and vertical differences),
from a fixed seed, with deterministic algorithms on a fixed number of threads. The ONNX file and a JSON card
beside it (the data files' sha256, the settings, the loss curve, PSNR on frames it did not train on) are what
the backend ships with.

`--init AE.onnx` starts from a shipped autoencoder's weights and `--colour` shows it colours the sources lack
(channels permuted, saturation scaled): latent_ae3 is latent_ae2 fine-tuned so (its card holds the command's
settings). `--spectral W` adds `spectral_loss` (the high frequencies' log amplitude) with weight W, so the decoder
makes fine detail instead of blurring it away, as an LDM's autoencoder (trained with perceptual and adversarial
losses) does, and `--grid W` adds `grid_loss`, so it does not make that detail as an 8 px grid: latent_ae4 is
latent_ae3 fine-tuned with both.

    python -m synthfake.generators.common.autoencoder_train --sources ../shared/data \
        --out generators/assets/latent_ae.onnx [--steps 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

PATCH = 48
LATENT = 48
FACTOR = 8  # the image side over the latent's
ENC_WIDTHS = (16, 32, 64, 96)  # latent_ae.onnx (latent_decode); latent_ae2.onnx is wider (its card says)
DEC_WIDTHS = (64, 64, 48, 24)
SPECTRAL_LOW = 0.125  # spectral_loss looks above this share of Nyquist (below it L1 already matches)
SPECTRAL_EPS = 0.002  # added to amplitudes before the log: near the finest band's 5th percentile on the sources
YCC = ((0.299, 0.587, 0.114), (-0.169, -0.331, 0.5), (0.5, -0.419, -0.081))  # luma, two colour differences


def build(enc_widths=ENC_WIDTHS, dec_widths=DEC_WIDTHS, latent=LATENT):
    """The autoencoder as two torch modules (encoder, decoder): three stride-2 convolutions down to the latent,
    three nearest-neighbour x2 upsamplings back, each followed by a 3x3 convolution."""
    import torch.nn as nn

    def act():
        return nn.LeakyReLU(0.1)

    e, d = enc_widths, dec_widths
    enc = nn.Sequential(nn.Conv2d(3, e[0], 3, padding=1), act(),
                        nn.Conv2d(e[0], e[1], 3, stride=2, padding=1), act(),
                        nn.Conv2d(e[1], e[2], 3, stride=2, padding=1), act(),
                        nn.Conv2d(e[2], e[3], 3, stride=2, padding=1), act(),
                        nn.Conv2d(e[3], latent, 1))
    up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
    dec = nn.Sequential(nn.Conv2d(latent, d[0], 3, padding=1), act(), nn.Conv2d(d[0], d[0], 3, padding=1), act(),
                        up(), nn.Conv2d(d[0], d[1], 3, padding=1), act(),
                        up(), nn.Conv2d(d[1], d[2], 3, padding=1), act(),
                        up(), nn.Conv2d(d[2], d[3], 3, padding=1), act(),
                        nn.Conv2d(d[3], 3, 3, padding=1))
    return enc, dec


def load_onnx_weights(model, path: Path) -> None:
    """Copy an autoencoder's weights from its ONNX file (exported by `main` from nn.Sequential(encoder, decoder),
    so its initializers keep the module's parameter names) into `model`; every name must match."""
    import onnx
    import torch
    from onnx import numpy_helper

    found = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(str(path)).graph.initializer}
    model.load_state_dict(found, strict=True)


def load_images(sources: Path, frames_per_video: int) -> tuple[list[np.ndarray], list[np.ndarray], dict]:
    """(training images, held-out frames, {file: sha256}): every face photo, and frames spread over each video
    (the odd-numbered ones of 2 x frames_per_video held out)."""
    from synthfake import media

    train, held, files = [], [], {}
    for p in sorted((sources / "faces").glob("*")):
        train.append(media.read_image(p))
        files[p.relative_to(sources).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    for p in sorted((sources / "videos").glob("*.mp4")):
        for k, (_, f) in enumerate(media.frames_of(p, 2 * frames_per_video)):
            (held if k % 2 else train).append(f)
        files[p.relative_to(sources).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return train, held, files


def batches(images: list[np.ndarray], batch: int, rng: np.random.Generator, patch: int = PATCH,
            colour: float = 0.0):
    """Endless batches (B, 3, patch, patch) in [0, 1]: random patches, flipped at random; with `colour` > 0 that
    share of patches has its channels permuted and its saturation scaled (0.6-1.6), so colours the sources lack
    (a saturated blue backdrop) are learned too, not turned into the nearest skin or wall colour."""
    while True:
        out = np.empty((batch, 3, patch, patch), np.float32)
        for b in range(batch):
            im = images[int(rng.integers(len(images)))]
            y = int(rng.integers(im.shape[0] - patch + 1))
            x = int(rng.integers(im.shape[1] - patch + 1))
            p = im[y:y + patch, x:x + patch]
            if rng.random() < 0.5:
                p = p[:, ::-1]
            out[b] = p.transpose(2, 0, 1) / 255.0
            if colour and rng.random() < colour:  # no draw at all without it: the shipped cards' runs replay
                q = out[b][rng.permutation(3)]
                grey = q.mean(0, keepdims=True)
                out[b] = np.clip(grey + (q - grey) * rng.uniform(0.6, 1.6), 0, 1)
        yield out


def spectral_loss(y, x, low: float = SPECTRAL_LOW):
    """Mean absolute difference of log amplitude between the output's and the input's 2-D spectra at frequencies
    above `low` of Nyquist, in luma and two colour differences (each patch Hann-windowed). It asks for fine detail
    in the right amount and orientation, not at the right place, which an L1 over pixels (whose best guess under
    uncertainty is the blurred mean) never does; matched in R, G and B instead, detail came back as colour speckle."""
    import torch

    ycc = torch.tensor(YCC, dtype=x.dtype)
    y, x = torch.einsum("ck,bkhw->bchw", ycc, y), torch.einsum("ck,bkhw->bchw", ycc, x)
    p = x.shape[-1]
    w = torch.hann_window(p, periodic=False, dtype=x.dtype)
    win = w[:, None] * w[None, :]
    fy, fx = torch.fft.rfft2(y * win).abs(), torch.fft.rfft2(x * win).abs()
    radius = torch.sqrt(torch.fft.fftfreq(p)[:, None] ** 2 + torch.fft.rfftfreq(p)[None, :] ** 2)
    band = radius > low * 0.5
    return (torch.log(fy + SPECTRAL_EPS) - torch.log(fx + SPECTRAL_EPS)).abs()[..., band].mean()


def grid_loss(y, x):
    """|log| of the output's 8 px grid strength over the input's: the mean step across every FACTOR-th column and
    row boundary (where the decoder's latent cells meet) over the mean step elsewhere, in luma. The spectral loss
    alone let the decoder make its detail there (an 8 px grid, which FLUX's decoder does not leave)."""
    import torch

    def strength(z):
        g = YCC[0][0] * z[:, 0] + YCC[0][1] * z[:, 1] + YCC[0][2] * z[:, 2]
        out = []
        for d in (torch.diff(g, dim=2).abs(), torch.diff(g, dim=1).abs().transpose(1, 2)):
            edge = (torch.arange(d.shape[2]) % FACTOR) == FACTOR - 1
            out.append((d[..., edge].mean((1, 2)) + 1e-3) / (d[..., ~edge].mean((1, 2)) + 1e-3))  # flat: 1
        return (out[0] + out[1]) / 2

    return (torch.log(strength(y)) - torch.log(strength(x))).abs().mean()


def _mean_over(images: list[np.ndarray], run, score) -> float:
    """Mean of score(image, run(image)) over the images, each cropped to multiples of FACTOR."""
    vals = []
    for im in images:
        im = np.ascontiguousarray(im[:im.shape[0] // FACTOR * FACTOR, :im.shape[1] // FACTOR * FACTOR])
        vals.append(score(im, run(im)))
    return float(np.mean(vals))


def psnr(images: list[np.ndarray], run) -> float:
    """Mean PSNR (dB) of run(image) against each image."""
    def db(im, out):
        return 10 * np.log10(255.0**2 / max(((out.astype(np.float64) - im) ** 2).mean(), 1e-10))
    return round(_mean_over(images, run, db), 2)


def residual_log_ratio(images: list[np.ndarray], run) -> float:
    """Mean log of the reconstruction's high-pass residual size over the image's (KB kernel, grey): 0 when the
    decoder keeps the image's fine detail, -0.9 when it keeps 40 % of it (a whole-image blur)."""
    import cv2

    kb = np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], np.float32) / 4

    def size(im: np.ndarray) -> float:
        return float(np.abs(cv2.filter2D(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32), -1, kb)).mean())

    return round(_mean_over(images, run, lambda im, out: np.log(size(out) / max(size(im), 1e-6))), 3)


def main(argv=None) -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sources", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames-per-video", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clip", type=float, default=0.0, help="Gradient norm clipping (0: none).")
    ap.add_argument("--patch", type=int, default=PATCH)
    ap.add_argument("--latent", type=int, default=LATENT)
    ap.add_argument("--enc-widths", type=int, nargs=4, default=list(ENC_WIDTHS))
    ap.add_argument("--dec-widths", type=int, nargs=4, default=list(DEC_WIDTHS))
    ap.add_argument("--colour", type=float, default=0.0,
                    help="Share of patches with permuted channels and scaled saturation (0: none).")
    ap.add_argument("--spectral", type=float, default=0.0,
                    help="Weight of spectral_loss (log amplitude above 1/8 Nyquist) beside L1 (0: none).")
    ap.add_argument("--grid", type=float, default=0.0,
                    help="Weight of grid_loss (the 8 px grid's strength against the input's) beside L1 (0: none).")
    ap.add_argument("--init", type=Path, help="Start from this autoencoder's ONNX file (same widths).")
    a = ap.parse_args(argv)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    enc, dec = build(a.enc_widths, a.dec_widths, a.latent)  # first: a bad --init is refused before the data loads
    if a.init:
        if not a.init.is_file():
            ap.error(f"--init {a.init}: no such file")
        try:
            load_onnx_weights(torch.nn.Sequential(enc, dec), a.init)
        except RuntimeError:
            ap.error(f"--init {a.init}: its weights do not fit --enc-widths {a.enc_widths} --dec-widths "
                     f"{a.dec_widths} --latent {a.latent} (its card, {a.init.with_suffix('.json').name}, has its own)")
    train, held, files = load_images(a.sources, a.frames_per_video)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=a.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps, pct_start=0.05)
    gen = batches(train, a.batch, np.random.default_rng(a.seed), a.patch, a.colour)
    curve, t0 = [], time.time()
    for step in range(a.steps):
        x = torch.from_numpy(next(gen))
        y = dec(enc(x))
        loss = ((y - x).abs().mean() + (torch.diff(y, dim=2) - torch.diff(x, dim=2)).abs().mean()
                + (torch.diff(y, dim=3) - torch.diff(x, dim=3)).abs().mean())
        if a.spectral:  # nothing added without it: the shipped cards' runs replay
            loss = loss + a.spectral * spectral_loss(y, x)
        if a.grid:
            loss = loss + a.grid * grid_loss(y, x)
        opt.zero_grad()
        loss.backward()
        if a.clip:
            torch.nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == a.steps - 1:
            curve.append([step, round(loss.item(), 5)])
            print(f"step {step} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
    enc.eval(), dec.eval()
    model = torch.nn.Sequential(enc, dec).eval()

    def run(im: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = model(torch.from_numpy(im.transpose(2, 0, 1)[None].astype(np.float32) / 255.0))
        return np.clip(y[0].numpy().transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)

    a.out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, torch.rand(1, 3, a.patch, a.patch), str(a.out), input_names=["image"],
                      output_names=["decoded"], dynamic_axes={"image": {2: "h", 3: "w"}, "decoded": {2: "h", 3: "w"}},
                      opset_version=17, dynamo=False)
    card = {"file": a.out.name, "sha256": hashlib.sha256(a.out.read_bytes()).hexdigest(),
            "parameters": sum(p.numel() for p in params), "latent_channels": a.latent, "factor": FACTOR,
            "enc_widths": a.enc_widths, "dec_widths": a.dec_widths, "patch": a.patch, "steps": a.steps,
            "batch": a.batch, "lr": a.lr, "clip": a.clip, "colour": a.colour, "spectral": a.spectral, "grid": a.grid,
            "threads": a.threads, "seed": a.seed,
            "init": a.init and {"file": a.init.name, "sha256": hashlib.sha256(a.init.read_bytes()).hexdigest()},
            "torch": torch.__version__, "train_images": len(train), "held_out_frames": len(held),
            "psnr_train_db": psnr(train[:9], run), "psnr_held_out_db": psnr(held, run),
            "residual_log_ratio_held_out": residual_log_ratio(held, run), "files": files,
            "loss_curve": curve, "seconds": round(time.time() - t0, 1)}
    a.out.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps({k: v for k, v in card.items() if k not in ("files", "loss_curve")}))


if __name__ == "__main__":
    main()
