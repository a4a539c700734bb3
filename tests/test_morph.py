"""morph on real faces: a face dlib finds with 68 landmarks whose identity is none of its parents'."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from synthfake import faces, media
from synthfake.errors import SampleFailed
from synthfake.files import sha256_file
from synthfake.generators import Context, morph
from synthfake.plan import SampleSpec
from synthfake.sources import Source, Sources, scan

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
