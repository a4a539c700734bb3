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
        "--quiet", "--allow-unverified", env=model_env(tmp / "home"))  # tiny models are not the published files
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
        # the tiny test models differ from the three parts whose sha256 is published (--allow-unverified), and the
        # motion extractor has none published: all four are unverified
        assert "weights_unverified" not in r.params and sorted(r.weights_unverified) == [
            f"live_portrait_{p}.onnx" for p in ("feature_extractor", "generator", "motion_extractor", "stitcher")]
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


class _Spy:
    """An onnxruntime session that records every feed it runs."""

    def __init__(self, sess, log: list):
        self.sess, self.log = sess, log

    def get_inputs(self):
        return self.sess.get_inputs()

    def run(self, names, feed):
        self.log.append({k: np.array(v) for k, v in feed.items()})
        return self.sess.run(names, feed)


def _eye_motion(sess, blob) -> lp.Motion:
    """A stand-in motion extractor that measures the crop itself: roll from the eye line, scale from its length."""
    from synthfake import faces

    img = np.ascontiguousarray((blob[0].transpose(1, 2, 0) * 255).round().astype(np.uint8))
    lm = faces.detect(img).landmarks
    eyes = lm[42:48].mean(0) - lm[36:42].mean(0)
    pts = np.random.default_rng(0).normal(0, 0.3, (1, 21, 3)).astype(np.float32)
    return lp.Motion(lp.rotation(0.0, 0.0, float(np.degrees(np.arctan2(eyes[1], eyes[0])))),
                     float(np.linalg.norm(eyes)) / 100.0, np.zeros((1, 3), np.float32),
                     np.zeros((1, 21, 3), np.float32), pts)


@pytest.mark.parametrize("option", lp.DRIVING_OPTIONS)
def test_driving_roll_and_scale_reach_the_output_keypoints(data_dir, tmp_path, monkeypatch, option):
    """A driving clip made by rolling and zooming a real face by known amounts: one crop for the clip keeps that
    motion, so the keypoints given to the stitcher are the source's, rolled and scaled by the same amounts."""
    import cv2
    from types import SimpleNamespace

    from synthfake import faces
    from synthfake.generators import Context
    from synthfake.source_files import Source, Sources
    from synthfake.sources import scan

    face = media.read_image(data_dir / "faces" / "photo_s42.jpg")
    cx, cy = np.array(faces.detect(face).box).reshape(2, 2).mean(0)
    rolls, scales = [0, 3, 6, 9, 12, 9, 6, 3], [1.0, 1.03, 1.06, 1.09, 1.12, 1.09, 1.06, 1.03]
    frames = [cv2.warpAffine(face, cv2.getRotationMatrix2D((float(cx), float(cy)), r, s),
                             (face.shape[1] // 2 * 2, face.shape[0] // 2 * 2), borderMode=cv2.BORDER_REFLECT)
              for r, s in zip(rolls, scales)]
    d = tmp_path / "src"
    d.mkdir()
    media.write_video(d / "drive.mp4", frames, 25)
    cv2.imwrite(str(d / "photo_s1.jpg"), cv2.imread(str(data_dir / "faces" / "photo_s1.jpg")))
    index = scan(d)
    cache = tmp_path / "cache"
    srcs = Sources([Source(index.get("photo_s1.jpg"), d / "photo_s1.jpg", "source", cache),
            Source(index.get("drive.mp4"), d / "drive.mp4", "driving", cache)])
    w = tmp_path / "w"
    tiny_models.live_portrait(w)
    sess, resolved = lp._models(str(w), "cpu", allow_unverified=True)
    log: list = []
    monkeypatch.setattr(lp, "_models", lambda *a: ({**sess, "stitcher": _Spy(sess["stitcher"], log)}, resolved))
    monkeypatch.setattr(lp, "motion", _eye_motion)
    sample = SimpleNamespace(seed=1, params={"clip_start": 0, "clip_frames": len(frames)})
    ctx = Context(cache_dir=cache, weights_dir=w, backend_opts={"liveportrait": {"driving": option}},
                  allow_unverified=True)  # plan.json's options; tiny models are not the published files
    out = lp.generate(sample, srcs, tmp_path / "out", ctx)
    assert out.params["driving_option"] == option and out.params["driving_crop"] == "one_window_per_clip"
    assert len(log) == len(frames)
    for feed, roll, scale in zip(log, rolls, scales):
        x_d, x_s = feed["source"][0, :, :2], feed["target"][0, :, :2]
        a, b = x_s - x_s.mean(0), x_d - x_d.mean(0)
        angle = np.degrees(np.arctan2((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum(), (a * b).sum()))
        # cv2 rolls counter-clockwise on screen: the eye line's angle (y down) turns by -roll
        assert angle == pytest.approx(-roll, abs=1.0)
        assert np.linalg.norm(b) / np.linalg.norm(a) == pytest.approx(scale, rel=0.02)
