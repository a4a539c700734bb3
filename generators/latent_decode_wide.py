"""Weights-free stand-in for latent text-to-image, second autoencoder: latent_decode's path through a wider one.

latent_decode's shipped autoencoder (224k parameters, 1000 steps) blurs the whole image and shifts its colours
(ring residual 0.3-0.4 of its real's): a trace of its own that no latent diffusion decoder leaves, which a
detector learns the wrong way round. This backend is the same reconstruction (a 1/8 latent, 48 channels, decoded
by three nearest-neighbour x2 upsamplings, every pixel from the decoder, its pair ending with one drawn JPEG
encode) through `assets/latent_ae2.onnx`: widths doubled and trained four times longer on 64 px patches (its
card holds the settings, PSNR and residual ratio on held-out frames). latent_decode stays as it was, for plans
that name it.
"""

from __future__ import annotations

from synthfake.generators import Context, Generated
from synthfake.generators.common import autoencoder
from synthfake.generators.latent_decode import decode_through

TYPE = "generation"
VERSION = "1.0"
ROLES = [("base", "face")]  # one real face, reconstructed: its paired real is the same photo
FINISH = {"image_jpeg": True}  # the pair's images end with one drawn JPEG encode (synthfake.finish)
AUTOENCODER = "latent_ae2"


def ready(ctx: Context) -> str | None:
    return autoencoder.problem(AUTOENCODER)


def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    return decode_through(AUTOENCODER, sources, out_stem)
