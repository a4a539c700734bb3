"""Whose face: a clip of two real people side by side, the larger one switching, then a cut that swaps their
places, then the sample's person leaving. Tracking follows the sample's own identity, never the largest face,
never blends across the switch, and a face swap touches only that person."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import tiny_models

from synthfake import faces, media
from synthfake.generators import Context
from synthfake.source_files import Source, Sources
from synthfake.sources import scan

N = 36
T = 400  # tile side: two tiles side by side
A_PRESENT = 30  # frames 30.. hold only the other person


def _fit(img: np.ndarray, s: int) -> np.ndarray:
    canvas = np.zeros((T, T, 3), np.uint8)
    o = (T - s) // 2
    canvas[o:o + s, o:o + s] = cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA)
    return canvas


def two_person_frames(data_dir) -> tuple[list[np.ndarray], list[str]]:
    """Frames and, per frame, where person A (talk_d0) is: 'left', 'right' or 'absent'."""
    a = media.read_frames(data_dir / "videos" / "talk_d0.mp4", 0, N)
    b = media.read_frames(data_dir / "videos" / "talk_d3.mp4", 0, N)
    frames, where = [], []
    for i in range(N):
        sa, sb = (T, 220) if i < 10 else (240, 270)  # A is the larger face, then B is (frames 10..)
        if i < 20:
            frames.append(np.hstack([_fit(a[i], sa), _fit(b[i], sb)]))
            where.append("left")
        elif i < A_PRESENT:  # a cut: the two swap places
            frames.append(np.hstack([_fit(b[i], sb), _fit(a[i], sa)]))
            where.append("right")
        else:
            frames.append(np.hstack([_fit(b[i], sb), np.zeros((T, T, 3), np.uint8)]))
            where.append("absent")
    return frames, where


def _embedding(path) -> np.ndarray:
    img = media.read_image(path)
    return faces.embedding(img, faces.detect(img))


def _video_identity(path) -> np.ndarray:
    """Mean embedding over the clip's frames, as the sources index computes one."""
    return np.mean([faces.embedding(f, faces.detect(f)) for f in media.read_frames(path, 0, N)[::12]], 0)


def _side(lm: np.ndarray) -> str:
    return "left" if lm[:, 0].mean() < T else "right"


def test_track_follows_the_reference_not_the_largest(data_dir):
    frames, where = two_person_frames(data_dir)
    ref = _embedding(data_dir / "faces" / "still_talk_d0.jpg")
    largest = [faces.detect(f) for f in frames]
    assert any(_side(f.landmarks) != w for f, w in zip(largest, where) if w != "absent")  # the largest switches
    tr = faces.track(frames, ref)
    got = ["absent" if f is None else _side(f.landmarks) for f in tr]
    assert got == where
    smooth = faces.smooth_landmarks([None if f is None else f.landmarks for f in tr], 2.0)
    assert [_side(lm) for lm in smooth[:A_PRESENT]] == where[:A_PRESENT]  # nothing blended across the cut
    assert np.allclose(smooth[19].mean(0), tr[19].landmarks.mean(0), atol=3)
    assert all(lm is None for lm in smooth[A_PRESENT:])


def test_swap_only_on_the_samples_identity(data_dir, tmp_path, monkeypatch):
    from synthfake.generators import inswapper

    frames, where = two_person_frames(data_dir)
    src_dir = tmp_path / "sources"
    src_dir.mkdir()
    media.write_video(src_dir / "two.mp4", frames, 25)
    cv2.imwrite(str(src_dir / "photo_s1.jpg"), cv2.imread(str(data_dir / "faces" / "photo_s1.jpg")))
    index = scan(src_dir)
    tgt_item, src_item = index.get("two.mp4"), index.get("photo_s1.jpg")
    a, b = (_video_identity(data_dir / "videos" / f"talk_{k}.mp4") for k in ("d0", "d3"))
    # the index holds one of the two people (the one of its largest sampled face), not a blend of both
    assert min(faces.distance(tgt_item.embedding, a), faces.distance(tgt_item.embedding, b)) < 0.3
    tgt_item = tgt_item.model_copy(update={"embedding": a.tolist()})  # the sample's person: A
    w = tmp_path / "weights"
    tiny_models.inswapper(w / "inswapper_128.onnx")
    tiny_models.arcface(w / "w600k_r50.onnx")
    cache = tmp_path / "cache"
    sources = Sources([Source(src_item, src_dir / src_item.path, "source", cache),
               Source(tgt_item, src_dir / tgt_item.path, "target", cache)])
    sample = SimpleNamespace(seed=5, params={"clip_start": 0, "clip_frames": N})
    ctx = Context(cache_dir=cache, weights_dir=w, allow_unverified=True)  # tiny models: not the published files
    out = inswapper.generate(sample, sources, tmp_path / "out", ctx)
    assert out.frames == N and out.manipulated_frames == A_PRESENT  # absent frames are not counted
    before = media.read_frames(src_dir / "two.mp4")
    after = media.read_frames(out.path)
    for i, (x, y, wh) in enumerate(zip(before, after, where)):
        diff = np.abs(x.astype(int) - y.astype(int)).mean(2)
        left, right = diff[:, :T].mean(), diff[:, T:].mean()
        if wh == "absent":
            assert max(left, right) < 1.5, i
        else:
            changed, kept = (left, right) if wh == "left" else (right, left)
            assert changed > 4 * kept + 1 and kept < 1.5, (i, wh, left, right)

