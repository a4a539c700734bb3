"""aligned_swap 1.4: a source's highlights are kneed before it is relit onto the target (`relight.highlights_kneed`).

On held-out sources a side-lit, shiny source face relit onto a paler target gave bright blotches over the whole face,
and a beige hat brim across a source's temple a bright yellow band; one-shot swappers render the target's light.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synthfake import faces, media
from synthfake import landmarks as lmk
from synthfake.generators import aligned_swap
from synthfake.generators import swap_regions as sr
from synthfake.generators.common import relight


def test_the_knee_keeps_what_lies_below_it_and_bounds_what_lies_above():
    x = np.linspace(-1.0, 3.0, 4001)
    y = relight.highlights_kneed(x, 0.2)
    assert np.array_equal(y[x <= 0.2], x[x <= 0.2])  # shadows, lines and detail under the knee untouched
    assert (np.diff(y) > 0).all() and y.max() < 0.4  # monotonic, under twice the knee
    assert np.abs(np.diff(y, 2)).max() < 1e-5  # no kink: its slope is 1 at the knee


@pytest.fixture(scope="module")
def face(data_dir):
    img = media.read_image(data_dir / "faces" / "photo_s42.jpg")
    return img, faces.detect(img).landmarks


def _lightness(rgb: np.ndarray) -> np.ndarray:
    return np.log(rgb.astype(np.float32) + relight.DARK).mean(-1)


def test_a_painted_highlight_is_relit_kneed_onto_a_matte_face_and_keeps_less_of_its_whiteness(face):
    """A white specular spot painted on a source's cheek, relit as `transfer_colour` relights a swap onto a matte
    copy of the same face (blurred, as smooth as a heavily retouched target's skin): without the knee the spot comes
    through; with aligned_swap's knee (the target skin's own 99th percentile of lightness detail) it keeps less, and
    its whiteness (a chroma shift) goes with it. Skin away from it is not moved. The knee is soft: a highlight just
    past it keeps most of its lightness, one far past it (a shiny forehead on a matte target) at most twice it."""
    img, lm = face
    cheek = lm[[1, 2, 3, 31, 48]].mean(0)
    r = 0.05 * float(lmk.interocular(lm))
    yy, xx = np.mgrid[:img.shape[0], :img.shape[1]]
    spot = np.exp(-((xx - cheek[0]) ** 2 + (yy - cheek[1]) ** 2) / (2 * r * r))[..., None]
    shiny = np.clip(img + spot * (250.0 - img) * 0.7, 0, 255).astype(np.uint8)
    matte = cv2.GaussianBlur(img, (0, 0), 0.08 * float(lmk.interocular(lm)))
    covered = np.full(img.shape[:2], 255, np.uint8)
    plain = sr.transfer_colour(img, matte, lm, covered, 1.0)
    raw = sr.transfer_colour(shiny, matte, lm, covered, 1.0)
    kneed = sr.transfer_colour(shiny, matte, lm, covered, 1.0, knee=aligned_swap.HIGHLIGHT_KNEE)
    core = spot[..., 0] > 0.8
    excess = {k: float((_lightness(v) - _lightness(plain))[core].mean()) for k, v in (("raw", raw), ("kneed", kneed))}
    sat = {k: float(np.abs(cv2.cvtColor(v, cv2.COLOR_RGB2LAB)[..., 1:].astype(np.float32) - 128)[core].mean())
           for k, v in (("plain", plain), ("raw", raw), ("kneed", kneed))}
    far = (spot[..., 0] < 1e-3) & (sr.face_interior(lm, img.shape[:2], forehead=True) > 0)  # the face's skin
    moved = float(np.abs(kneed.astype(int) - raw.astype(int))[far].mean())
    print(f"\nspot lightness over the plain relight: {excess}; chroma |a|+|b| mean: {sat}; skin away from the "
          f"spot moved by {moved:.2f} levels on average")
    assert excess["raw"] > 0.15 and excess["kneed"] < 0.8 * excess["raw"]  # 0.16 of 0.21 log lightness
    assert sat["plain"] - sat["kneed"] < 0.7 * (sat["plain"] - sat["raw"])  # less of the spot's whiteness
    assert moved < 0.5  # the rest of the face as before (0.08 levels)
