"""The shipped image autoencoders (assets/latent_ae*.onnx, made by `autoencoder_train`), run with OpenCV's DNN module.

OpenCV is part of the core install, so the backends that decode through them need no extra. A file is checked
against the sha256 in its card (assets/NAME.json) before it is used, and that sha256 goes into every record.
`latent_ae` is latent_decode's, `latent_ae2` latent_decode_wide's (wider, three times the steps), `latent_ae3`
latent_decode_colour's (latent_ae2 taught colours the sources lack), `latent_ae4` latent_decode_sharp's (latent_ae3
taught fine detail). A card is read once per process.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from synthfake.errors import BackendNotReady

ASSETS = Path(__file__).resolve().parents[1] / "assets"
FIRST = "latent_ae"


def model_file(name: str = FIRST) -> Path:
    return ASSETS / f"{name}.onnx"


def card_file(name: str = FIRST) -> Path:
    return ASSETS / f"{name}.json"


@lru_cache(maxsize=4)
def card(name: str = FIRST) -> dict:
    """The autoencoder's card (settings, sha256); read once, as every sample asks for it."""
    return json.loads(card_file(name).read_text())


def problem(name: str = FIRST) -> str | None:
    """None when the model file and its card are here and agree, else a one-line reason."""
    model = model_file(name)
    if not model.is_file() or not card_file(name).is_file():
        return (f"{model}: the autoencoder is missing; it ships with the project (generators/assets), and "
                f"`python -m synthfake.generators.common.autoencoder_train --out {model}` with its card's settings "
                f"makes it again")
    want = card(name).get("sha256")
    got = hashlib.sha256(model.read_bytes()).hexdigest()
    if got != want:
        return f"{model}: sha256 {got[:12]}... differs from its card's {str(want)[:12]}..."
    return None


@lru_cache(maxsize=4)
def _net(name: str):
    why = problem(name)
    if why:
        raise BackendNotReady(why)
    net = cv2.dnn.readNetFromONNX(str(model_file(name)))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)  # on the CPU, its default target: naming the target
    # printed a warning line per process from OpenCV's new graph engine, and changed no output byte
    return net


def reconstruct(rgb: np.ndarray, name: str = FIRST, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The image encoded to the latent and decoded back (RGB uint8, same size): padded by reflection to a
    multiple of the autoencoder's factor, cut back after. `offset` (dy, dx): rows and columns of reflection
    put before the image, so the latent's grid of factor-px cells falls at another phase of it."""
    f = int(card(name)["factor"])
    h, w = rgb.shape[:2]
    oy, ox = offset
    ph, pw = -(h + oy) % f, -(w + ox) % f
    x = cv2.copyMakeBorder(rgb, oy, ph, ox, pw, cv2.BORDER_REFLECT_101) if oy or ox or ph or pw else rgb
    net = _net(name)
    net.setInput(np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32) / 255.0))
    y = net.forward()[0].transpose(1, 2, 0)[oy:oy + h, ox:ox + w]
    return np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)


def settings(name: str = FIRST) -> dict:
    """What a record says of the autoencoder: its file, factor and latent channels."""
    c = card(name)
    return {"autoencoder": model_file(name).name, "factor": c["factor"], "latent_channels": c["latent_channels"]}


def weights_record(name: str = FIRST) -> dict[str, str]:
    return {model_file(name).name: card(name)["sha256"]}
