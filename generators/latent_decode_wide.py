"""Weights-free stand-in for latent text-to-image, second autoencoder: latent_decode's path through a wider one.

latent_decode's shipped autoencoder (224k parameters, 1000 steps) blurs the whole image and shifts its colours
(ring residual 0.3-0.4 of its real's): a trace of its own that no latent diffusion decoder leaves, which a
detector learns the wrong way round. This backend is the same reconstruction (a 1/8 latent, 48 channels, decoded
by three nearest-neighbour x2 upsamplings, every pixel from the decoder, its pair ending with one drawn JPEG
encode) through `assets/latent_ae2.onnx`: wider (580k parameters against 224k), three times the steps, on 64 px
patches (its card holds the settings, PSNR and residual ratio on held-out frames). It keeps the photo's colour and
leaves no 8 px pattern, but it still blurs fine detail (README). latent_decode stays as it was, for plans that
name it.
"""

from __future__ import annotations

from synthfake.generators import latent_decode as first

# one real face, reconstructed (through latent_ae2); its pair's JPEG finish
TYPE, ROLES, FINISH, PAIR_STILL, PAIR_MAX_SIDE, ready, generate = first.through("latent_ae2")
VERSION = "1.6"  # as latent_decode 1.6: the clip's still (its real the same), grid phase, a JPEG base's history,
# a black-and-white base reconstructed black-and-white, a base over PAIR_MAX_SIDE at that size (plan 7), the
# still at the point of its clip the plan drew (plan 8)
