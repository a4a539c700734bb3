"""Weights-free stand-in for latent text-to-image: a real face photo encoded to a latent and decoded again.

Every pixel of a latent diffusion model's image comes out of its autoencoder's decoder: no camera noise, no JPEG
grid from a camera, and the decoder's traces (nearest-neighbour upsampling by 8 in three steps, each smoothed by
convolutions). Reconstructing real images through such an autoencoder and training on real against
reconstruction is a published way to teach a detector those traces without the generator's content bias
(Rajan et al., "Aligned Datasets Improve Detection of Latent Diffusion-Generated Images", ICLR 2025): the fake
and its real then differ by the decoder alone. No diffusion weights can be fetched here, so the autoencoder is a
small one trained on the sources and shipped with the project (`common/autoencoder.py`, `autoencoder_train.py`:
1/8 latent with 48 channels, decoder of the same shape as an LDM's); its sha256 is in every record. The base is a
photo (or a video's still); the image decoded from it is first saved as the base file was saved (a JPEG base's own
quantisation tables and chroma subsampling: its compression history) and then ends, like its paired real, with one
drawn JPEG encode (FINISH). The result must still hold a face dlib finds.
"""

from __future__ import annotations

from functools import partial

import io

import cv2
import numpy as np
from PIL import Image, JpegImagePlugin

from synthfake import faces, media
from synthfake.errors import SampleFailed
from synthfake.generators import Context, Generated, source_still
from synthfake.generators.common import autoencoder
from synthfake.writer import save_image

TYPE = "generation"
VERSION = "1.6"  # 1.1: a video base's frame drawn from the sample's clip, the latent grid's phase drawn per sample;
# 1.2: a JPEG base's compression history (its tables) given to the decoded image before the finish; 1.3: a video
# base's frame is its clip's still (`Source.clip_still`), which its paired real takes too; 1.4: a black-and-white
# base gives a black-and-white reconstruction (`GREY_SPREAD`); 1.5: a base over PAIR_MAX_SIDE is reconstructed at
# that size (plan version 7 gives it to the fake and its real); 1.6: a video base's still at the point of its clip
# the plan drew (`still_at`, plan version 8), its real the same: a short video drawn again gave one image again
ROLES = [("base", "face")]  # one real face, reconstructed: its paired real is the same photo
FINISH = {"image_jpeg": True}  # the pair's images end with one drawn JPEG encode (synthfake.finish)
PAIR_MAX_SIDE = 1024  # the long side a latent T2I model makes (FLUX.1, SDXL: ~1 MP): a 1620 px photo reconstructed
# whole moved under 0.03 % of its pixels by over 24 levels (audit label_noise FAIL), at 1024 px 0.17 %, 3x faster
PAIR_STILL = True  # from a video, the fake is an image of its clip and its paired real is that still (plan 6)


AUTOENCODER = "latent_ae"
GREY_SPREAD = 3  # a base whose channels differ by at most this (99.9th percentile, levels) is black-and-white: the
# decoders, trained on colour photos, gave such a base colour fringes at hair and ears (saturation 8 where its real
# has 0; full-size look at wild/reals, 7 Dec), a trace of their own that no photo of it has


def ready_with(name: str, ctx: Context) -> str | None:
    return autoencoder.problem(name)


def base_image(base, clip: dict, p: dict) -> np.ndarray:
    """A photo whole; a video at its clip's still (`Source.clip_still`, recorded as source_frame): its paired real
    is that same frame as an image (PAIR_STILL, plan version 6). One still per video made every draw of it one
    image (a plan of 40 reconstructs repeats its ~15 bases); the clip is drawn per sample."""
    if base.item.kind != "video" or "clip_start" not in clip:
        return source_still(base, p)
    k = base.clip_still(clip["clip_start"], clip["clip_frames"], clip.get("still_at"))
    p["source_frame"] = k
    return base.frame(k)


def base_history(base, rgb: np.ndarray, p: dict) -> np.ndarray:
    """`rgb` saved and decoded as the base file was saved when it is a JPEG (its quantisation tables and chroma
    subsampling; recorded as `base_jpeg`), else unchanged. A real photo is a decoded camera JPEG and its pair ends
    with one more encode; a decoded image without that first one holds less of the 8x8 grid than its real, a
    compression history only the fakes have (held-out photos: 8x8 blockiness AUC 0.79 in `gen audit`)."""
    if base.item.kind != "image":
        return rgb
    with Image.open(base.path) as im:
        if im.format != "JPEG":
            return rgb
        tables, sampling = im.quantization, JpegImagePlugin.get_sampling(im)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", qtables=tables, subsampling=max(sampling, 0))
    p["base_jpeg"] = {"tables": len(tables), "subsampling": max(sampling, 0),
                      "luma_q_mean": round(float(np.mean(tables[0])), 2)}
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        return np.asarray(im.convert("RGB"))


def is_grey(rgb: np.ndarray) -> bool:
    """Whether an RGB image is black-and-white: its channels apart by at most GREY_SPREAD levels (99.9 % of pixels,
    so a colour JPEG of a grey photo, whose chroma rounding leaves 1-2 levels, counts)."""
    a = rgb.astype(np.int16)
    spread = np.maximum(np.abs(a[..., 0] - a[..., 1]), np.abs(a[..., 1] - a[..., 2]))
    return float(np.percentile(spread, 99.9)) <= GREY_SPREAD


def generate_with(name: str, sample, sources, out_stem, ctx: Context) -> Generated:
    """The base still reconstructed by autoencoder `name` and written as the fake (every latent_decode* backend's
    path; each names its own autoencoder)."""
    base = sources.role("base")
    p = {**autoencoder.settings(name), "mode": "reconstruct"}
    rng = np.random.default_rng(sample.seed)
    rgb = base_image(base, sample.params, p)
    whole = rgb.shape
    if side := sample.params.get("max_side"):  # its real is scaled alike (reencode)
        rgb = media.fit_within(rgb, side)
    p["grid_offset"] = [int(v) for v in rng.integers(p["factor"], size=2)]
    rec = autoencoder.reconstruct(rgb, name, tuple(p["grid_offset"]))
    if is_grey(rgb):
        rec = cv2.cvtColor(cv2.cvtColor(rec, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        p["grey"] = True
    # a scaled base has no 8x8 grid left, nor has its real: only a base at its own size gets its JPEG history back
    out = base_history(base, rec, p) if rgb.shape == whole else rec
    if faces.detect(out) is None:
        raise SampleFailed(f"{base.item.path}: no face found in its reconstruction")
    return Generated(save_image(out_stem, out), p, 1, 1, autoencoder.weights_record(name))


def through(name: str) -> tuple:
    """TYPE, ROLES, FINISH, PAIR_STILL, PAIR_MAX_SIDE, ready and generate of a latent_decode* backend that
    reconstructs through autoencoder `name`: what the variants declare, written once here."""
    return TYPE, ROLES, FINISH, PAIR_STILL, PAIR_MAX_SIDE, partial(ready_with, name), partial(generate_with, name)


ready = partial(ready_with, AUTOENCODER)
generate = partial(generate_with, AUTOENCODER)
