"""Weights-free stand-in for latent text-to-image, third autoencoder: latent_decode_wide's, taught colours too.

latent_decode_wide's autoencoder learned colour from nine people's photos and frames only, and on images unlike
them it recolours: a saturated blue backdrop comes out green (mean |delta b*| 2.8, up to 19, on 21 photos of
`../shared/wild/reals`; 4 of the 21 shift a* or b* by more than 5). A colour cast is a trace of its own that no
latent diffusion decoder leaves. `assets/latent_ae3.onnx` is that autoencoder fine-tuned for 1000 steps with
half its patches' channels permuted and saturation scaled (`autoencoder_train --init --colour`; its card holds
the settings): on those 21 photos the shift falls to 0.45 mean, 1.8 at most. Same path as latent_decode (a 1/8
latent, 48 channels, every pixel from the decoder, the pair's one drawn JPEG encode); it still blurs fine detail.
"""

from __future__ import annotations

from synthfake.generators import latent_decode as first

# one real face, reconstructed (through latent_ae3); its pair's JPEG finish
TYPE, ROLES, FINISH, PAIR_STILL, PAIR_MAX_SIDE, ready, generate = first.through("latent_ae3")
VERSION = "1.6"  # as latent_decode 1.6: the clip's still (its real the same), grid phase, a JPEG base's history,
# a black-and-white base reconstructed black-and-white, a base over PAIR_MAX_SIDE at that size (plan 7), the
# still at the point of its clip the plan drew (plan 8)
