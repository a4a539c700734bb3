"""self_blend on real faces: the blend follows the face, the rest of the frame is untouched, two samples of
one source differ, a video's mask does not flicker, and `gen run` pairs each fake with its own target clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synthfake import faces, media
from synthfake.generators.common import warp
from synthfake import landmarks as lmk
from synthfake.generators import self_blend as sb
from synthfake.manifest import read_records, resolve

from conftest import gen

PHOTOS = ("photo_s1.jpg", "photo_s42.jpg", "still_talk_d3.jpg")


@pytest.fixture(scope="module")
def photo_faces(data_dir):
    out = []
    for name in PHOTOS:
        img = media.read_image(data_dir / "faces" / name)
        out.append((img, faces.detect(img).landmarks))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_blend_follows_the_face_and_leaves_the_rest(photo_faces, seed):
    for img, lm in photo_faces:
        p = sb.draw_params(seed)
        out, mask = sb.blend_frame(img, lm, p)
        inside = mask > 0
        # the mask sits on the face: its centroid is within a quarter inter-ocular of the landmark centroid,
        # and it covers the eyes, nose and mouth landmarks it was drawn around
        ys, xs = np.nonzero(inside)
        iod = float(lmk.interocular(lm))
        assert np.hypot(xs.mean() - lm[:, 0].mean(), ys.mean() - lm[:, 1].mean()) < 0.5 * iod
        centre = np.round(lm[[30, 33, 51]]).astype(int)
        assert (mask[centre[:, 1], centre[:, 0]] > 0).all()
        # it stays near the face: nothing changed farther than 1.2 inter-ocular from the landmark box
        x0, y0, x1, y1 = faces.margin_box(faces.box_from_landmarks(lm), 0.0, img.shape)
        far = np.ones(mask.shape, bool)
        m = int(1.2 * iod)
        far[max(0, y0 - m):y1 + m, max(0, x0 - m):x1 + m] = False
        assert not inside[far].any()
        outside = (~inside).astype(np.uint8)
        assert warp.psnr(out, img, outside) == float("inf")  # bit-exact outside the mask
        assert warp.psnr(out, img, inside.astype(np.uint8)) < 45  # and a visible change inside


def test_two_samples_of_one_source_differ(photo_faces):
    img, lm = photo_faces[0]
    outs = [sb.blend_frame(img, lm, sb.draw_params(s))[0] for s in (10, 11)]
    assert sb.draw_params(10) != sb.draw_params(11)
    assert np.abs(outs[0].astype(int) - outs[1].astype(int)).mean() > 0.2
    again = sb.blend_frame(img, lm, sb.draw_params(10))[0]
    assert np.array_equal(again, outs[0])  # one seed, one result


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.05, b > 0.05
    return float((a & b).sum() / max(1, (a | b).sum()))


def _aligned_ious(masks, lms) -> list[float]:
    """IoU of each mask with the next one brought back by the face's own motion (a similarity fitted on the
    landmarks): the head moves up to ~20 px a frame here, which is not flicker."""
    out = []
    for t in range(len(masks) - 1):
        m = lmk.similarity(lms[t + 1], lms[t])
        back = cv2.warpAffine(masks[t + 1], m, masks[t].shape[::-1], flags=cv2.INTER_LINEAR)
        out.append(_iou(masks[t], back))
    return out


def test_video_mask_does_not_flicker(data_dir, tmp_path):
    """Masks on consecutive frames of a real talking head, aligned by the face's motion, overlap with
    IoU >= 0.9 (median >= 0.95); redrawing the parameters per frame (the flicker the backend avoids) falls below."""
    from synthfake.generators.common.clips import clip_landmarks
    from synthfake.source_files import Source
    from synthfake.sources import SourceItem

    path = data_dir / "videos" / "talk_d12.mp4"
    item = SourceItem(path="videos/talk_d12.mp4", kind="video", sha256="t12", bytes=1, identity="x")
    src = Source(item, path, "target", tmp_path)
    lms = [lm for lm in clip_landmarks(src, 0, 60, 1.5) if lm is not None]
    assert len(lms) >= 50
    shape = media.read_frames(path, 0, 1)[0].shape
    p = sb.draw_params(7)
    masks = [sb.blend_mask(lm, shape, p) for lm in lms]
    ious = _aligned_ious(masks, lms)
    assert min(ious) >= 0.9 and np.median(ious) >= 0.95, (min(ious), np.median(ious))
    redrawn = [sb.blend_mask(lm, shape, sb.draw_params(k)) for k, lm in enumerate(lms)]
    assert np.median(_aligned_ious(redrawn, lms)) < np.median(ious) - 0.05


def test_gen_run_pairs_each_fake_with_its_target(data_dir, dataset_dir):
    out = dataset_dir("self_blend")
    gen("run", "--type", "face_swap", "--backend", "face_swap=self_blend", "--n", 4, "--reals", 4,
        "--clip-seconds", 1, "--sources", data_dir, "--out", out, "--workers", 1, "--quiet")
    recs = read_records(out)
    fakes = {r.id: r for r in recs if r.label == 1}
    reals = [r for r in recs if r.label == 0]
    assert len(fakes) == 4 and len(reals) == 4
    assert all(r.backend == "self_blend" and [s.role for s in r.sources] == ["target"] for r in fakes.values())
    paired = [r for r in reals if "paired_with" in r.params]  # reals without replacement: a repeated target is
    assert paired  # not taken twice while the split has unused faces
    for real in paired:
        fake = fakes[real.params["paired_with"]]
        if fake.attempt:  # drawn again after a quality gate (a blend too faint to see): other sources, no pair
            continue
        assert real.sources[0].sha256 == fake.sources[0].sha256
        assert real.media.kind == fake.media.kind and real.media.frames == fake.media.frames
        if fake.media.kind == "video":
            assert real.media.audio == fake.media.audio
        a = media.read_frames(resolve(out, fake))[0] if fake.media.kind == "video" else media.read_image(
            resolve(out, fake))
        b = media.read_frames(resolve(out, real))[0] if real.media.kind == "video" else media.read_image(
            resolve(out, real))
        assert a.shape == b.shape and 0 < np.abs(a.astype(int) - b.astype(int)).mean() < 8


def test_a_blend_too_faint_to_see_is_redrawn(data_dir, monkeypatch):
    """A low ratio on a faint pseudo source leaves the frame looking like its real (label noise): settle draws
    again past it, and fails the sample, naming both measures, when every draw is that faint."""
    from synthfake.errors import SampleFailed

    img = media.read_image(data_dir / "faces" / "photo_s1.jpg")
    lm = faces.detect(img).landmarks
    p = sb.draw_params(0)
    faint = {**p, "ratio": 0.25, "hue": 0.0, "saturation": 1.0, "brightness": 0.0, "contrast": 1.0,
             "rgb_shift": [0.0, 0.0, 0.0], "frequency": "none", "downscale": 1.0, "sharpen": 0.0,
             "scale": 1.0, "shift": [0.0, 0.0]}
    strong = {**p, "ratio": 1.0, "brightness": 0.08, "rgb_shift": [10.0, -10.0, 10.0]}
    assert sb.visible_share(img, sb.blend_frame(img, lm, faint)[0]) < sb.MIN_VISIBLE
    assert sb.visible_share(img, sb.blend_frame(img, lm, strong)[0]) >= sb.MIN_VISIBLE
    shifted = {**faint, "ratio": 1.0, "shift": [0.03, 0.03]}  # visible, without a colour cast
    monkeypatch.setattr(sb, "draw_params", lambda seed, k=0: faint if k < 2 else shifted)
    chosen = sb.settle(img, lm, 0, "photo_s1.jpg")
    assert chosen["draw"] == 2 and sb.visible_share(img, sb.blend_frame(img, lm, chosen)[0]) >= sb.MIN_VISIBLE
    monkeypatch.setattr(sb, "draw_params", lambda seed, k=0: faint)
    with pytest.raises(SampleFailed, match=r"no self-blend draw .* changed 0.1% of the frame"):
        sb.settle(img, lm, 0, "photo_s1.jpg")
