"""morph on real faces: a face dlib finds with 68 landmarks whose identity is none of its parents', no shadow
of another parent's moustache, no streaks of a parent's hair, and no morph of faces turned far apart."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from synthfake import faces, media
from synthfake.errors import SampleFailed
from synthfake.files import sha256_file
from synthfake.generators import Context, morph
from synthfake import landmarks as lmk
from synthfake.generators.common import rims, skin, warp
from synthfake.sample_spec import SampleSpec
from synthfake.source_files import Source, Sources
from synthfake.sources import scan

FACES = ["faces/photo_s42.jpg", "faces/still_talk_d3.jpg", "faces/photo_s12.jpg", "videos/talk_d18.mp4"]
CASES = [  # (base, parents...): photos, a video still as parent, two and three identities
    ("photo_s42.jpg", "still_talk_d3.jpg"),
    ("still_talk_d3.jpg", "photo_s12.jpg", "talk_d18.mp4"),
    ("photo_s12.jpg", "photo_s42.jpg", "still_talk_d3.jpg"),
]


@pytest.fixture(scope="module")
def pool(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("morph")
    for f in FACES:
        shutil.copy(data_dir / f, root / Path(f).name)
    return root, scan(root)


def make(pool, names, seed: int, out: Path):
    root, index = pool
    srcs = Sources(Source(index.get(n), root / n, "base" if k == 0 else "parent", root / "cache")
                   for k, n in enumerate(names))
    spec = SampleSpec(0, "m", "generation", "morph", "train", seed, [(s.item, s.role) for s in srcs], {})
    return srcs, morph.generate(spec, srcs, out, Context(root / "cache"))


@pytest.mark.parametrize("names", CASES, ids=lambda c: "+".join(Path(n).stem for n in c))
def test_morph_is_a_new_face(pool, names, tmp_path):
    srcs, out = make(pool, names, 11, tmp_path / "m")
    img = media.read_image(out.path)
    face = faces.detect(img)
    assert face is not None and face.landmarks.shape == (68, 2)
    e = faces.embedding(img, face)
    dists = []
    for s in srcs:  # parent embeddings measured afresh on the very image each parent gave
        still = s.still()
        dists.append(faces.distance(e, faces.embedding(still, faces.detect(still))))
    print(f"\nmorph {' + '.join(names)}: face found with 68 landmarks; distance to each parent "
          f"{[round(d, 3) for d in dists]} (new identity above {morph.MIN_NEW_IDENTITY}); weights "
          f"{out.params['final_weights']} after {len(out.params['tries'])} try(s)")
    assert out.path.suffix == ".png" and out.frames == out.manipulated_frames == 1
    assert min(dists) > morph.MIN_NEW_IDENTITY
    assert img.shape[:2] == srcs[0].still().shape[:2]


def test_morph_is_reproducible_and_needs_two_faces(pool, tmp_path):
    _, a = make(pool, CASES[0], 5, tmp_path / "a")
    _, b = make(pool, CASES[0], 5, tmp_path / "b")
    _, c = make(pool, CASES[0], 6, tmp_path / "c")
    assert sha256_file(a.path) == sha256_file(b.path) != sha256_file(c.path)
    assert a.params == b.params and a.params["weights"] != c.params["weights"]
    with pytest.raises(SampleFailed, match="base face and at least one parent"):
        make(pool, CASES[0][:1], 5, tmp_path / "d")


def _foreign_hair(out, dominant, mean) -> float:
    """Share of the moustache zone (nose to mouth corners, lips left out) that is far darker than the cheeks in the
    morph but not in its heaviest parent: a moustache of another parent showing through as a shadow."""
    h, w = out.shape[:2]
    iod = float(lmk.interocular(mean))
    k = 2 * int(0.25 * iod) + 1  # a moustache's zone: nose to mouth corners, a quarter face unit around
    zone = cv2.dilate(warp.hull_mask(mean[[31, 32, 33, 34, 35, 48, 54]], (h, w)), np.ones((k // 2 | 1, k), np.uint8))
    lower = (zone > 0) & (warp.hull_mask(mean[48:60], (h, w)) == 0) & (warp.hull_mask(mean, (h, w), erode=3) > 0)
    cheeks = skin.cheeks((h, w), mean) > 0

    def dark(rgb):  # each image against its own cheeks: the morph takes the base's colours
        L = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
        return L < skin.SKIN_DARKEST * float(np.median(L[cheeks]))

    return float((dark(out) & ~dark(dominant))[lower].mean())


def _plain_mean(matched, skins, mean, weights):
    """morph 1.3's average: each face at its weight everywhere."""
    return sum(w * im.astype(np.float32) for w, im in zip(weights, matched))


def test_a_moustache_is_whole_or_absent_never_a_shadow(data_dir, monkeypatch):
    """photo_s12 (moustache) morphed with bare faces, at weights where it is not the heaviest parent: less dark hair
    in the moustache zone beyond the heaviest parent's than without the facial-hair region and the skin-weighted
    mean (morph 1.2), whose region stopped at the mouth and let the moustache's ends show as a shadow."""

    def still(name):
        img = media.read_image(data_dir / "faces" / name)
        return img, faces.detect(img).landmarks

    def foreign(names, weights, hair_region: bool) -> float:
        ims, lms = zip(*(still(n) for n in names))
        if not hair_region:  # morph 1.2: no facial-hair region, a plain weighted mean
            monkeypatch.setattr(morph, "_facial_hair", lambda skins, mean: np.zeros(skins[0].shape, np.uint8))
            monkeypatch.setattr(morph, "_skin_weighted_mean", _plain_mean)
        out = morph.morph(list(ims), list(lms), weights, morph._params(7, len(names)))
        monkeypatch.undo()
        mean, warped = morph.to_mean_shape(list(ims), list(lms), weights, 3)
        return _foreign_hair(out, warped[int(np.argmax(weights))], mean)

    cases = [(("photo_s12.jpg", "still_talk_d18.jpg"), [0.4, 0.6]),
             (("still_talk_d18.jpg", "photo_s12.jpg"), [0.6, 0.4]),
             (("photo_s12.jpg", "still_talk_d3.jpg"), [0.35, 0.65])]
    new = [foreign(n, w, True) for n, w in cases]
    old = [foreign(n, w, False) for n, w in cases]
    print(f"\nforeign facial hair: without the region {np.round(old, 4)}, with it {np.round(new, 4)}")
    assert sum(new) < 0.8 * sum(old)  # measured: 0.27 -> 0.18 (the first case halves; the third keeps shading)
    assert new[1] < 0.005  # photo_s12 neither base nor heaviest: nothing of its moustache


def test_a_parents_hair_across_its_temple_is_not_averaged_in(data_dir, monkeypatch):
    """Strands of dark hair planted across photo_s42's temple, inside its face hull, morphed at half weight with
    still_talk_d3: the plain weighted mean (morph 1.3) shows them as translucent streaks; weighting each face per
    pixel by its skin likelihood, and fading the other faces out at the hull's edge, leaves (nearly) none."""
    def still(name):
        img = media.read_image(data_dir / "faces" / name)
        return img, faces.detect(img).landmarks

    base, base_lm = still("still_talk_d3.jpg")
    hairy, lm = still("photo_s42.jpg")
    hairy = hairy.copy()
    iod = float(lmk.interocular(lm))
    for k in range(4):
        shift = np.array([0.06 * k * iod, 0.0])
        a, b = 0.7 * lm[0] + 0.3 * lm[36] + shift, 0.7 * lm[3] + 0.3 * lm[48] + shift
        cv2.line(hairy, tuple(int(v) for v in a), tuple(int(v) for v in b), (60, 40, 30), max(2, int(0.02 * iod)))
    ims, lms, weights = [base, hairy], [base_lm, lm], [0.5, 0.5]
    mean, warped = morph.to_mean_shape(ims, lms, weights, 3)
    strands = cv2.dilate(((np.abs(warped[1].astype(int) - morph.to_mean_shape(
        [base, still("photo_s42.jpg")[0]], lms, weights, 3)[1][1]).max(-1) > 40)).astype(np.uint8),
        np.ones((3, 3), np.uint8)) > 0

    def streak(out):  # darker than the base's own pixels there, on the planted strands
        L = cv2.cvtColor(out, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
        ref = cv2.cvtColor(warped[0], cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
        return float(np.clip(ref - L, 0, None)[strands].mean())

    new = streak(morph.morph(ims, lms, weights, morph._params(7, 2)))
    monkeypatch.setattr(morph, "_skin_weighted_mean", _plain_mean)
    old = streak(morph.morph(ims, lms, weights, morph._params(7, 2)))
    print(f"\nplanted strands, mean L below the base there: plain mean {old:.1f}, skin-weighted {new:.1f} "
          f"({int(strands.sum())} px)")
    assert strands.sum() > 200 and old > 10
    assert new < 0.3 * old


def test_faces_turned_far_apart_are_not_morphed(pool, tmp_path, monkeypatch):
    """A parent whose head is turned more than lmk.MAX_YAW_GAP from the base's fails, naming it, and is redrawn by
    the runner (its hidden side would be stretched across the morph)."""
    turned = {}
    real_yaw = lmk.yaw

    def yaw(lm):  # the parent (second face drawn) seen as turned 0.6 further than it is
        turned.setdefault("n", 0)
        turned["n"] += 1
        return real_yaw(lm) + (0.6 if turned["n"] == 2 else 0.0)
    monkeypatch.setattr(morph.lmk, "yaw", yaw)
    with pytest.raises(SampleFailed, match=r"still_talk_d3.jpg: head turned .* against the base's"):
        make(pool, CASES[0], 11, tmp_path / "t")


def test_glasses_are_not_ghosts_in_a_morph(data_dir):
    """talk_d9 wears thin rims. As a parent, averaged in, they showed as ghost rims on photo_s1's face; now they
    are inpainted first. As the base, they faded to ghosts over the averaged face; now they lie over it whole.
    Measured by `rims.rims` on the morph: rim pixels the morph shows."""
    def still(name):
        img = media.read_image(data_dir / "faces" / name)
        return img, faces.detect(img).landmarks

    def rim_pixels(names, worn):
        ims, lms = zip(*(still(n) for n in names))
        p = dict(morph._params(3, 2), glasses=worn)
        out = morph.morph(list(ims), list(lms), [0.45, 0.55], p)
        mean, _ = morph.to_mean_shape(list(ims), list(lms), [0.45, 0.55], 3)
        return int(rims.rims(out, mean).sum())

    parent = (rim_pixels(("photo_s1.jpg", "still_talk_d9.jpg"), [False, False]),
              rim_pixels(("photo_s1.jpg", "still_talk_d9.jpg"), [False, True]))
    base = (rim_pixels(("still_talk_d9.jpg", "photo_s1.jpg"), [False, False]),
            rim_pixels(("still_talk_d9.jpg", "photo_s1.jpg"), [True, False]))
    print(f"\nrim pixels in the morph: talk_d9 as parent {parent[0]} -> {parent[1]} (inpainted); as base "
          f"{base[0]} -> {base[1]} (laid back whole)")
    assert parent[1] < 0.4 * parent[0]
    assert base[1] > 1.3 * base[0]
