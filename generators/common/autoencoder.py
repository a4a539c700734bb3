"""The shipped image autoencoder (assets/latent_ae.onnx, made by `autoencoder_train`), run with OpenCV's DNN module.

OpenCV is part of the core install, so the backend that decodes through it needs no extra. The file is checked
against the sha256 in its card (assets/latent_ae.json) before it is used, and that sha256 goes into every record.
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
MODEL = ASSETS / "latent_ae.onnx"
CARD = ASSETS / "latent_ae.json"


def card() -> dict:
    return json.loads(CARD.read_text())


def problem() -> str | None:
    """None when the model file and its card are here and agree, else a one-line reason."""
    if not MODEL.is_file() or not CARD.is_file():
        return f"{MODEL}: the autoencoder is missing (python -m synthfake.generators.common.autoencoder_train)"
    want = card().get("sha256")
    got = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    if got != want:
        return f"{MODEL}: sha256 {got[:12]}... differs from its card's {str(want)[:12]}..."
    return None


@lru_cache(maxsize=1)
def _net():
    why = problem()
    if why:
        raise BackendNotReady(why)
    net = cv2.dnn.readNetFromONNX(str(MODEL))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    return net


def reconstruct(rgb: np.ndarray) -> np.ndarray:
    """The image encoded to the latent and decoded back (RGB uint8, same size): padded by reflection to a
    multiple of the autoencoder's factor, cut back after."""
    f = int(card()["factor"])
    h, w = rgb.shape[:2]
    ph, pw = -h % f, -w % f
    x = cv2.copyMakeBorder(rgb, 0, ph, 0, pw, cv2.BORDER_REFLECT_101) if ph or pw else rgb
    net = _net()
    net.setInput(np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32) / 255.0))
    y = net.forward()[0].transpose(1, 2, 0)[:h, :w]
    return np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)


def weights_record() -> dict[str, str]:
    return {MODEL.name: card()["sha256"]}
