"""Face swap with insightface's inswapper_128 (the model inside Roop, ReActor and FaceFusion), on onnxruntime.

Signatures, as read in the sources:
- `inswapper_128.onnx`: inputs `target` [1,3,128,128] (the aligned target face, RGB, pixel / 255) and
  `source` [1,512] (the source's L2-normalised ArcFace embedding times `emap`, renormalised); output
  [1,3,128,128] RGB in [0, 1]. `emap` (512x512) is the graph's last initializer. From insightface
  python-package/insightface/model_zoo/inswapper.py (`INSwapper.__init__`, `.get`); the input names are the
  ones FaceFusion feeds in facefusion/processors/modules/face_swapper/core.py (`forward_swap_face`).
- `w600k_r50.onnx` (buffalo_l ArcFace R50): one input [1,3,112,112], RGB, (pixel - 127.5) / 127.5, output
  [1,512]; names are read from the session. From insightface model_zoo/arcface_onnx.py (`get_feat`).
Alignment: 5 points from the project's dlib landmarks (`faces.five_points`) fitted to insightface's ArcFace
template (112 px; 128 px with the 8 px shift for inswapper), so insightface's detector is not needed. The
swapped crop is pasted back through a feathered box mask; frames without a face pass through.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from synthfake import faces, media, weights
from synthfake.generators.common import align, onnx_models
from synthfake.generators.common.clips import render_clip
from synthfake.errors import BackendNotReady
from synthfake.generators import Context, Generated, source_still
from synthfake.weights import WeightSpec
from synthfake.writer import save_image

TYPE = "face_swap"
VERSION = "1.0"
CROP = 128
REACTOR_HASHES = "ReActor README, 'Model files hashes' (6Morpheus6/sd-webui-reactor_forge-neo README_RU.md)"
FACEFUSION_HASH = ("the LFS pointer of FaceFusion's models-3.0.0 file (its mirror huggingface.co/uwg/modelz_base "
                   "Extras/ffff_assets), also pinned by projects that download that URL")
SWAPPER = WeightSpec(  # FaceFusion's copy differs from insightface's first release; both are accepted
    "inswapper_128.onnx",
    "https://github.com/facefusion/facefusion-assets/releases/download/models-3.0.0/inswapper_128.onnx",
    "a290273ed497312095dac48cdef20feec9d5208298223dd01288ab202b54bea7", FACEFUSION_HASH,
    also=(("e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af",
           f"insightface's original release, {REACTOR_HASHES}"),))
ARCFACE = WeightSpec(
    "w600k_r50.onnx", "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip",
    "4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43", REACTOR_HASHES, archive="w600k_r50.onnx",
    archive_sha256="80ffe37d8a5940d59a7384c201a2a38d4741f2f3c51eef46ebb28218a7b0ca2f")
WEIGHTS = [SWAPPER, ARCFACE]


weight_specs, ready = onnx_models.fixed_weights(WEIGHTS, "onnx")  # what `gen weights download` fetches


@dataclass
class Models:
    """The two sessions, inswapper's emap, and the resolved weights files (for the record)."""

    swapper: object
    arcface: object
    emap: np.ndarray
    resolved: list


@lru_cache(maxsize=2)
def _models(weights_dir: str | None, device: str, allow_unverified: bool = False) -> Models:
    sw, arc = (weights.resolve(s, weights_dir, allow_unverified) for s in (SWAPPER, ARCFACE))
    swapper = onnx_models.session(sw.path, device)
    onnx_models.expect_inputs(swapper, sw.path, ["target", "source"])
    emap = onnx_models.last_initializer(sw.path).astype(np.float32)
    if emap.shape != (512, 512):
        raise BackendNotReady(f"{sw.path}: last initializer has shape {emap.shape}, expected inswapper's emap 512x512")
    return Models(swapper, onnx_models.session(arc.path, device), emap, [sw, arc])


def embedding(m: Models, rgb: np.ndarray, points5: np.ndarray) -> np.ndarray:
    """ArcFace embedding (512,) of the face at `points5`, as insightface computes it (not normalised)."""
    face, _ = align.crop(rgb, points5, align.arcface_template(112), 112)
    blob = ((face.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
    name = m.arcface.get_inputs()[0].name
    return m.arcface.run(None, {name: np.ascontiguousarray(blob)})[0].reshape(-1).astype(np.float32)


def latent(m: Models, emb: np.ndarray) -> np.ndarray:
    """inswapper's source input: normed embedding @ emap, renormalised (insightface INSwapper.get)."""
    v = (emb / np.linalg.norm(emb)).reshape(1, -1) @ m.emap
    return (v / np.linalg.norm(v)).astype(np.float32)


def swap_frame(m: Models, rgb: np.ndarray, lm68: np.ndarray, lat: np.ndarray, p: dict) -> np.ndarray:
    face, mat = align.crop(rgb, faces.five_points(lm68), align.arcface_template(CROP), CROP)
    blob = (face.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    pred = m.swapper.run(None, {"target": np.ascontiguousarray(blob), "source": lat})[0][0]
    fake = np.clip(pred.transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return align.paste_back(rgb, fake, align.box_mask(CROP, p["mask_margin"], p["mask_blur"]), mat)


def _params(seed: int, device: str) -> dict:
    rng = np.random.default_rng(seed)
    return {"crop": CROP, "template": "arcface_128", "mask": "feathered_box",
            "mask_margin": round(float(rng.uniform(0.06, 0.12)), 3),
            "mask_blur": round(float(rng.uniform(0.03, 0.06)), 3), "latent": "normed_arcface@emap",
            "device": device, "smooth_sigma": 1.0}


def generate(sample, sources, out_stem: Path, ctx: Context) -> Generated:
    src, tgt = sources.role("source"), sources.role("target")
    m = _models(str(ctx.weights_dir) if ctx.weights_dir else None, ctx.device, ctx.allow_unverified)
    p = _params(sample.seed, ctx.device)
    lat = latent(m, embedding(m, source_still(src, p), faces.five_points(np.array(src.item.landmarks, np.float32))))
    record, unverified = weights.record(m.resolved)
    if tgt.item.kind == "image":
        out = swap_frame(m, media.read_image(tgt.path), tgt.still_face().landmarks, lat, p)
        return Generated(save_image(out_stem, out), p, 1, 1, record, unverified)
    start, n = sample.params["clip_start"], sample.params["clip_frames"]
    path, written, swapped = render_clip(out_stem, tgt, start, n, lambda rgb, lm, i: swap_frame(m, rgb, lm, lat, p),
                                         sigma=p["smooth_sigma"])
    return Generated(path, p, written, swapped, record, unverified)
