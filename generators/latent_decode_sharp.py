"""Weights-free stand-in for latent text-to-image, fourth autoencoder: latent_decode_colour's, taught fine detail.

The first three autoencoders were trained on L1 alone, whose best guess at detail it cannot recover is the blurred
mean: their reconstructions keep ~35 % of a photo's high-pass residual (log ratio -0.9 to -1.2) and compress to
~70 % of its JPEG bytes. A blur over the whole image is a trace of their own (an LDM's autoencoder, trained with
perceptual and adversarial losses, makes detail), and a file-size shortcut for a detector. `assets/latent_ae4.onnx`
is latent_ae3 fine-tuned with `spectral_loss` and `grid_loss` beside L1 (`autoencoder_train --init --colour
--spectral --grid`; its card holds the settings): the decoder makes high frequencies of the photo's strength and
orientation, not at their exact place, and not as an 8 px grid (with the spectral loss alone it made one, which
FLUX's decoder does not). Same path as latent_decode (a 1/8 latent, 48 channels, every pixel from the
decoder, the pair's one drawn JPEG encode).
"""

from __future__ import annotations

from synthfake.generators import latent_decode as first

# one real face, reconstructed (through latent_ae4); its pair's JPEG finish
TYPE, ROLES, FINISH, PAIR_STILL, PAIR_MAX_SIDE, ready, generate = first.through("latent_ae4")
VERSION = "1.6"  # as latent_decode 1.6: the clip's still (its real the same), grid phase, a JPEG base's history,
# a black-and-white base reconstructed black-and-white, a base over PAIR_MAX_SIDE at that size (plan 7), the
# still at the point of its clip the plan drew (plan 8)
