"""inswapper through `gen run` with tiny ONNX models of inswapper_128's and ArcFace w600k_r50's signatures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tiny_models
from conftest import gen
from model_checks import audit_integrity, check_records, model_env, sources

from synthfake import faces, media
from synthfake.generators.common import align
from synthfake.manifest import read_records, resolve


@pytest.fixture(scope="module")
def swap_run(data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inswapper")
    w = tmp / "weights"
    files = {"inswapper_128.onnx": tiny_models.inswapper(w / "inswapper_128.onnx"),
             "w600k_r50.onnx": tiny_models.arcface(w / "w600k_r50.onnx")}
    src = sources(tmp, ["talk_d0.mp4", "photo_s1.jpg", "photo_s12.jpg"])
    ds = tmp / "D"
    gen("run", "--type", "face_swap", "--backend", "face_swap=inswapper", "--weights-dir", w, "--n", 3, "--reals", 0,
        "--seed", 3, "--clip-seconds", 0.5, "--splits", "train=1,val=0,test=0", "--sources", src, "--out", ds,
        "--quiet", "--allow-unverified", env=model_env(tmp / "home"))  # tiny models are not the published files
    return tmp, ds, files, src


def test_records_hold_media_and_weights(swap_run):
    tmp, ds, files, _ = swap_run
    records = check_records(ds, files)
    assert len(records) == 3
    assert {r.media.kind for r in records} == {"image", "video"}  # seed 3: a video target and photo targets
    for r in records:
        assert r.backend == "inswapper" and r.label == 1
        assert r.manipulated_frames == r.media.frames > 0
        assert r.weights_unverified == ["inswapper_128.onnx", "w600k_r50.onnx"]
        assert [s.role for s in r.sources] == ["source", "target"]
    audit_integrity(ds, tmp)


def test_swap_changes_the_face_and_keeps_the_rest(swap_run):
    """Inside the aligned face the pixels are the model's; far from the face they are the target's."""
    tmp, ds, _, src = swap_run
    rec = next(r for r in read_records(ds) if r.media.kind == "image")
    target = media.read_image(src / next(s.path for s in rec.sources if s.role == "target"))
    out = media.read_image(resolve(ds, rec))
    _, m = align.crop(target, faces.five_points(faces.detect(target).landmarks), align.arcface_template(128), 128)
    centre = align.transform_points(np.array([[64, 64]], np.float32), cv2.invertAffineTransform(m))[0]
    x, y = np.round(centre).astype(int)
    assert np.abs(out[y - 3:y + 3, x - 3:x + 3].astype(int) - target[y - 3:y + 3, x - 3:x + 3]).mean() > 20
    corner = (slice(0, 20), slice(0, 20))
    assert np.array_equal(out[corner], target[corner])


def test_missing_model_is_one_line_naming_file_places_and_source(tmp_path, data_dir):
    empty = tmp_path / "w"
    empty.mkdir()
    src = sources(tmp_path, ["photo_s1.jpg", "photo_s12.jpg"])
    env = model_env(tmp_path / "home")
    proc = gen("run", "--type", "face_swap", "--backend", "face_swap=inswapper", "--weights-dir", empty, "--n", 1,
               "--reals", 0, "--splits", "train=1,val=0,test=0", "--sources", src, "--out", tmp_path / "D",
               "--quiet", env=env, check=False)
    cache = Path(env.get("XDG_CACHE_HOME") or tmp_path / "home" / ".cache")  # the weights cache follows XDG
    assert proc.returncode == 2
    line = next(ln for ln in proc.stderr.splitlines() if "inswapper_128.onnx" in ln)
    for part in (str(empty / "inswapper_128.onnx"), "$SYNTHFAKE_WEIGHTS: not set",
                 str(cache / "synthfake" / "weights" / "inswapper_128.onnx"),
                 "facefusion-assets/releases/download/models-3.0.0/inswapper_128.onnx"):
        assert part in line
    assert not (tmp_path / "D" / "plan.json").exists()
