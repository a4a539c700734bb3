"""liveportrait through `gen run` with tiny ONNX models of FaceFusion's four LivePortrait exports."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_models
from conftest import gen
from model_checks import audit_integrity, check_records, model_env, sources

from synthfake import media
from synthfake.generators import liveportrait as lp


@pytest.fixture(scope="module")
def reenact_run(data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("liveportrait")
    w = tmp / "weights"
    files = {p.name: p for p in tiny_models.live_portrait(w)}
    src = sources(tmp, ["talk_d0.mp4", "photo_s1.jpg"])
    ds = tmp / "D"
    gen("run", "--type", "reenactment", "--backend", "reenactment=liveportrait", "--weights-dir", w, "--n", 2,
        "--reals", 0, "--clip-seconds", 0.5, "--splits", "train=1,val=0,test=0", "--sources", src, "--out", ds,
        "--quiet", env=model_env(tmp / "home"))
    return tmp, ds, files, src


def test_records_are_source_animated_by_the_driving_clip(reenact_run):
    tmp, ds, files, src = reenact_run
    records = check_records(ds, files)
    assert len(records) == 2
    photo = media.probe(src / "photo_s1.jpg")
    for r in records:
        roles = {s.role: s.path for s in r.sources}
        assert roles == {"source": "photo_s1.jpg", "driving": "talk_d0.mp4"}
        assert r.media.kind == "video" and r.media.fps == 25.0
        assert r.media.frames == r.params["clip_frames"] == r.manipulated_frames == 12
        assert (r.media.width, r.media.height) == (photo.width // 2 * 2, photo.height // 2 * 2)
        assert r.params["motion"] == "relative" and r.params["driving_frames_without_face"] == 0
        assert "weights_unverified" not in r.params and r.weights_unverified == []  # no sha256 is published for these exports
    audit_integrity(ds, tmp)


def _motion(yaw: float = 0.0, scale: float = 1.0, seed: int = 0) -> lp.Motion:
    rng = np.random.default_rng(seed)
    return lp.Motion(lp.rotation(0.0, yaw, 0.0), scale, np.array([[0.01, -0.02, 0.0]], np.float32),
                     rng.normal(0, 0.01, (1, 21, 3)).astype(np.float32),
                     rng.normal(0, 0.3, (1, 21, 3)).astype(np.float32))


def test_first_driving_frame_reproduces_the_source_keypoints():
    src, d0 = _motion(seed=1), _motion(yaw=12.0, scale=1.3, seed=2)
    np.testing.assert_allclose(lp.relative(src, d0, d0).keypoints(), src.keypoints(), atol=1e-5)


def test_driving_yaw_and_scale_change_carry_over_to_the_source():
    src, d0, di = _motion(seed=1), _motion(seed=2), _motion(yaw=30.0, scale=1.2, seed=2)
    out = lp.relative(src, d0, di)
    np.testing.assert_allclose(out.rotation, lp.rotation(0.0, 30.0, 0.0), atol=1e-5)
    assert out.scale == pytest.approx(1.2)
    np.testing.assert_allclose(out.expression, src.expression, atol=1e-7)
