"""Detector parts that need no torch: face crops, the process pool, the crop cache, augmentations, metrics.

This module stays light on purpose: the pool test's worker processes import it to reach `_crops_or_die`.
"""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest

from synthfake.detector import augment as aug
from synthfake.detector.crops import (CropSettings, FileCrops, cached_crops, crop_chunks, empty, file_crops,
                                      run_pool)
from synthfake.media import frames_of  # noqa: E402
from synthfake.detector.stream import DIED, stream_crops
from synthfake.media import probe, uniform_indices

SIZE = 64


@pytest.fixture(scope="module")
def media_files(data_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    for name in ("videos/talk_d18.mp4", "videos/talk_d20.mp4", "faces/photo_s1.jpg", "nonfaces/animal_s31.jpg"):
        shutil.copy(data_dir / name, d / name.split("/")[1])
    return d


def test_crops_of_videos_images_and_failures(media_files, tmp_path):
    s = CropSettings(frames=12, size=SIZE)
    vid = file_crops(media_files / "talk_d18.mp4", s)
    n = probe(media_files / "talk_d18.mp4").frames
    assert vid.frames == uniform_indices(n, 12) and vid.crops.shape == (12, SIZE, SIZE, 3) and not vid.reason
    assert [i for i, _ in frames_of(media_files / "talk_d18.mp4", 12)] == vid.frames
    photo = file_crops(media_files / "photo_s1.jpg", s)
    assert photo.crops.shape == (1, SIZE, SIZE, 3) and photo.crops.dtype == np.uint8 and photo.sampled == 1
    animal = file_crops(media_files / "animal_s31.jpg", s)
    assert len(animal.crops) == 0 and animal.reason == "no face in 1 sampled frame(s)"
    centre = file_crops(media_files / "animal_s31.jpg", CropSettings(size=SIZE, center_fallback=True))
    assert len(centre.crops) == 1 and "centre crops" in centre.note and not centre.reason
    (tmp_path / "cut.mp4").write_bytes((media_files / "talk_d20.mp4").read_bytes()[:3000])
    (tmp_path / "zero.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    for name in ("cut.mp4", "zero.jpg", "notes.txt"):
        r = file_crops(tmp_path / name, s)
        assert len(r.crops) == 0 and r.reason.startswith("unreadable"), r.reason


def test_crop_keeps_the_face_with_its_margin(media_files):
    from synthfake import faces
    from synthfake.media import read_image

    rgb = read_image(media_files / "photo_s1.jpg")
    box = faces.detect_boxes(rgb)[0]
    x0, y0, x1, y1 = faces.margin_box(box, 0.3, rgb.shape)
    want = np.asarray(aug.cv2.resize(rgb[y0:y1, x0:x1], (SIZE, SIZE), interpolation=aug.cv2.INTER_LINEAR), float)
    got = file_crops(media_files / "photo_s1.jpg", CropSettings(size=SIZE)).crops[0].astype(float)
    assert np.abs(got - want).mean() < 6, "the crop is the margin box, resized"
    tight = file_crops(media_files / "photo_s1.jpg", CropSettings(size=SIZE, margin=0.0)).crops[0].astype(float)
    assert np.abs(tight - got).mean() > 10


def test_a_face_too_small_for_the_detection_size_is_found_by_a_second_look(media_files, tmp_path):
    """A 910x512 showcase image with a ~95 px face (under dlib's 80 px window once scaled to 360) gets its face,
    as the equalised copies of three real face swaps in the wild set do; a photo without a face still has none."""
    import cv2

    from synthfake import faces
    from synthfake.media import read_image

    rgb = read_image(media_files / "photo_s1.jpg")
    box = faces.detect_boxes(rgb)[0]
    k = 95 / (box[2] - box[0])
    small = cv2.resize(rgb, (round(rgb.shape[1] * k), round(rgb.shape[0] * k)), interpolation=cv2.INTER_AREA)
    canvas = np.full((512, 910, 3), 128, np.uint8)
    h, w = min(small.shape[0], 512), min(small.shape[1], 910)
    canvas[:h, 300:300 + w] = small[:h, :min(w, 610)]
    cv2.imwrite(str(tmp_path / "wide.jpg"), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    wide = read_image(tmp_path / "wide.jpg")
    assert faces.detect_boxes(wide, wider=0) == [], "at 360 px the face is under the detector's window"
    got = file_crops(tmp_path / "wide.jpg", CropSettings(size=SIZE))
    assert got.crops.shape == (1, SIZE, SIZE, 3) and not got.reason
    assert faces.detect_boxes(wide, 910)[0][2] - faces.detect_boxes(wide, 910)[0][0] > 80
    assert len(file_crops(media_files / "animal_s31.jpg", CropSettings(size=SIZE)).crops) == 0


def test_frames_without_a_face_stop_looking_twice_after_a_few(media_files, monkeypatch):
    """A file whose frames hold no face pays SECOND_LOOKS extra scans, not one per frame; a found face keeps them."""
    from synthfake import faces
    from synthfake.detector import crops
    from synthfake.media import read_image

    big = np.kron(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8),
                  np.ones((16, 16, 1), np.uint8))  # 768x1024 squares, no face
    scans = []
    detect = faces.detect_boxes
    monkeypatch.setattr(faces, "detect_boxes", lambda rgb, side=360, face=0, wider=0: scans.append(side) or
                        detect(rgb, side, wider=wider))
    s, face, looks = CropSettings(size=SIZE), 0, crops.SECOND_LOOKS
    for _ in range(8):
        c, face, looks = crops.crop_face(big, s, face, looks)
        assert c is None
    assert crops.SECOND_LOOKS == 3 and looks == 0
    assert scans == [360, 1024] * 3 + [360] * 5  # the first three frames looked twice, the rest once
    photo = read_image(media_files / "photo_s1.jpg")
    assert crops.crop_face(photo, s, 0, 1)[2] == 1  # found at the first look: nothing used up


def _crops_or_die(job):
    if job[0] == "POISON":
        os._exit(3)
    return file_crops(*job)


def _chunks_or_die(path, s, chunk):
    if path.endswith("POISON"):  # some parts first, then death before the last one
        yield from (p for p in crop_chunks(path.replace("POISON", "talk_d20.mp4"), s, chunk) if not p.last)
        os._exit(3)
    yield from crop_chunks(path, s, chunk)


def test_video_crops_detected_with_the_previous_face_equal_a_full_scan_per_frame(media_files):
    """A video's frames are detected with the previous frame's face width (fewer pyramid levels); the crops
    must be those of a full scan of every frame."""
    from synthfake.detector.crops import crop_face

    s = CropSettings(frames=16, size=SIZE)
    for name in ("talk_d18.mp4", "talk_d20.mp4"):
        got = file_crops(media_files / name, s)
        full = [crop_face(rgb, s)[0] for _, rgb in frames_of(media_files / name, 16)]
        assert len(got.crops) == 16 and all(c is not None for c in full)
        assert np.array_equal(got.crops, np.stack(full)), name


def test_pool_keeps_order_and_survives_a_dying_worker(media_files):
    s = CropSettings(frames=4, size=SIZE)
    paths = [str(media_files / n) for n in ("photo_s1.jpg", "talk_d20.mp4", "animal_s31.jpg")]
    jobs = [(p, s) for p in paths[:2]] + [("POISON", s)] + [(p, s) for p in paths]
    out = list(run_pool(_crops_or_die, jobs, workers=2))
    assert [f.path for f in out] == [j[0] for j in jobs]
    assert out[2].reason == "failed: the reading process died on this file"
    assert [f.reason for i, f in enumerate(out) if i != 2] == ["", "", "", "", "no face in 1 sampled frame(s)"]
    assert np.array_equal(out[1].crops, file_crops(paths[1], s).crops)


def test_workers_that_die_as_they_start_are_one_error_not_every_file_failed(monkeypatch):
    """A script without the main-module guard starts itself again in each forkserver worker, which dies before any
    file: every file was marked "the reading process died on this file", one fresh pool at a time (a run of 265
    files spun for half an hour). Now one line says the workers die as they start."""
    import functools
    from concurrent.futures import ProcessPoolExecutor

    from synthfake.detector import crops
    from synthfake.errors import SynthfakeError

    monkeypatch.setattr(crops, "_pool", lambda w: ProcessPoolExecutor(w, initializer=functools.partial(os._exit, 3)))
    with pytest.raises(SynthfakeError, match="the decoding worker processes die as they start"):
        list(run_pool(len, [("a.jpg", CropSettings())] * 3, 2))


def test_stream_sends_parts_in_frame_order_and_survives_a_dying_worker(media_files):
    s = CropSettings(frames=10, size=SIZE)
    paths = [str(media_files / n) for n in ("talk_d18.mp4", "photo_s1.jpg", "talk_d20.mp4", "animal_s31.jpg")]
    whole = [file_crops(p, s) for p in paths]
    got = {i: [] for i in range(len(paths))}
    for seq, part in stream_crops(paths, s, workers=2, chunk=3):
        assert len(part.crops) <= 3 and (not got[seq] or not got[seq][-1].last)
        got[seq].append(part)
    for w, parts in zip(whole, got.values()):
        assert parts[-1].last and not any(p.last for p in parts[:-1])
        assert np.array_equal(np.concatenate([p.crops for p in parts]), w.crops)
        assert sum((p.frames for p in parts), []) == w.frames and parts[-1].reason == w.reason
    poisoned = paths[:2] + [str(media_files / "POISON")] + paths
    seen = {}
    for seq, part in stream_crops(poisoned, s, workers=2, chunk=3, fn=_chunks_or_die):
        if part.last:
            seen[seq] = part
    assert sorted(seen) == list(range(len(poisoned))) and seen[2].reason == DIED
    assert [seen[i].reason for i in (0, 1, 3, 4, 5)] == ["", "", "", "", ""]
    assert seen[6].reason == "no face in 1 sampled frame(s)"


def test_read_ahead_keeps_order_raises_and_stops():
    """The reader thread hands items over in order, raises the producer's exception in the caller, and closing
    early closes the producer (its `finally` runs: the workers are stopped) without reading it to the end."""
    import threading

    from synthfake.detector.stream import ReadAhead

    assert list(ReadAhead(iter(range(50)), 3)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("decoder broke")

    it = ReadAhead(failing(), 2)
    assert next(it) == 1
    with pytest.raises(ValueError, match="decoder broke"):
        next(it)
    closed, made = threading.Event(), []

    def endless():
        try:
            for k in range(10**9):
                made.append(k)
                yield k
        finally:
            closed.set()

    it = ReadAhead(endless(), 2)
    assert [next(it) for _ in range(5)] == list(range(5))
    it.close()
    assert closed.wait(5) and len(made) < 20


def test_crop_cache_is_keyed_by_settings_and_content(media_files, tmp_path):
    s = CropSettings(frames=3, size=SIZE)
    job = (str(media_files / "talk_d20.mp4"), "id1", "sha-a", s, str(tmp_path))
    first = cached_crops(job)
    files = list(tmp_path.rglob("*.npz"))
    assert len(files) == 1 and files[0].parent.name == s.key() and files[0].name == "id1.npz"
    stamp = files[0].stat().st_mtime_ns
    again = cached_crops(job)
    assert files[0].stat().st_mtime_ns == stamp and np.array_equal(first.crops, again.crops)
    assert again.frames == first.frames and again.sampled == first.sampled == 3
    cached_crops(job[:2] + ("sha-b",) + job[3:])  # same id, other bytes: made again
    assert files[0].stat().st_mtime_ns != stamp
    assert len({s.key(), CropSettings(frames=4, size=SIZE).key(), CropSettings(frames=3, size=SIZE, margin=0.2).key(),
                CropSettings(frames=3, size=128).key()}) == 4


def test_an_animated_image_is_scored_on_its_first_frame_and_says_so(media_files, tmp_path):
    """An animated WebP reads as its first frame (OpenCV; FFmpeg decodes no animated WebP): the crops say so."""
    from PIL import Image

    photo = Image.open(media_files / "photo_s1.jpg").convert("RGB")
    frames = [photo.rotate(a) for a in (0, 2, 4)]
    frames[0].save(tmp_path / "moving.webp", save_all=True, append_images=frames[1:], duration=40, lossless=True)
    got = file_crops(tmp_path / "moving.webp", CropSettings(size=SIZE))
    assert len(got.crops) == 1 and got.note == "an animated image of 3 frames: scored on its first"
    assert file_crops(media_files / "photo_s1.jpg", CropSettings(size=SIZE)).note == ""


def test_augmentations_change_pixels_not_shape(media_files):
    img = file_crops(media_files / "photo_s1.jpg", CropSettings(size=SIZE)).crops[0]
    out = [aug.augment(img, np.random.default_rng(i)) for i in range(8)]
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in out)
    assert sum(not np.array_equal(o, img) for o in out) >= 6
    assert np.array_equal(aug.augment(img, np.random.default_rng(5)), out[5])
    assert np.abs(aug.jpeg(img, 30).astype(int) - img).mean() > 0.5
    assert aug.blur(img, 1.5).std() < img.std()
    assert np.abs(aug.down_up(img, 0.4, np.random.default_rng(0)).astype(int) - img).mean() > 0.5
    assert np.abs(aug.color_jitter(img, 1.0, 1.0, 1.0).astype(int) - img).max() <= 1
    assert aug.color_jitter(img, 1.2, 1.0, 1.0).mean() > img.mean() + 10
    g = aug.grey(img)
    assert (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    h = aug.h264(img, 30)  # one x264 intra frame: its deblocked smoothing, not JPEG's blocks
    assert h.shape == img.shape and 0.5 < np.abs(h.astype(int) - img).mean() < 15 and h.std() < img.std()
    assert np.abs(aug.h264(img, 20).astype(int) - img).mean() < np.abs(h.astype(int) - img).mean()
    lap = [np.abs(cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_32F)).mean()
           for x in (img, aug.sharpen(img, 0.5), aug.sharpen(img, 1.5))]  # more detail than the crop had
    assert lap[0] * 1.2 < lap[1] < lap[2] and np.array_equal(aug.sharpen(img, 0.0), img)
    n = aug.noisy(np.full((64, 64, 3), 128, np.uint8), 3.0, np.random.default_rng(0)).astype(float)
    assert abs(n.mean() - 128) < 0.2 and 2.8 < n.std() < 3.2  # Gaussian noise of the drawn level, centred
    # off by default: the draws, and so every recipe's training, are the ones they were
    assert np.array_equal(aug.augment(img, np.random.default_rng(5), aug.AugmentSettings(p_grey=0, p_h264=0,
                                                                                         p_sharpen=0, p_noise=0)),
                          out[5])
    assert not np.array_equal(aug.augment(img, np.random.default_rng(5), aug.AugmentSettings(p_noise=1)), out[5])
    both = aug.AugmentSettings(p_grey=1, p_h264=1, p_resize=0, p_blur=0, p_color=0)
    o = aug.augment(img, np.random.default_rng(0), both)
    assert (o[..., 0] == o[..., 2]).mean() > 0.9 and not np.array_equal(o, aug.grey(img))


def test_best_threshold_maximises_macro_f1():
    from synthfake.detector.metrics import best_threshold, macro_f1

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    p = np.clip(0.35 * y + rng.normal(0.35, 0.2, 60), 0, 1)
    t, f = best_threshold(y, p)
    assert macro_f1(y, (p >= t).astype(int)) == pytest.approx(f)  # scikit-learn agrees at the chosen threshold
    grid = [macro_f1(y, (p >= g).astype(int)) for g in np.linspace(0, 1, 101)]
    assert f >= max(grid) - 1e-12 and f > 0.7
    assert best_threshold([0, 1], [0.2, 0.9]) == (0.5, 1.0)  # 0.5 separates: kept
    assert best_threshold([0, 1, 0], [0.6, 0.9, 0.7]) == (pytest.approx(0.8), 1.0)
    assert best_threshold([0, 0], [0.3, 0.7])[1] == 0.5  # one class: a threshold above everything


def test_val_s_threshold_is_pulled_toward_half_by_how_few_people_val_holds():
    """Val scores whose best threshold is 0.775: kept with no pull, halfway to 0.5 from 2 people beside 2, hardly
    moved by 40 people."""
    from synthfake.detector.metrics import macro_f1
    from synthfake.detector.train import pick_threshold

    y, p = [0, 0, 0, 1, 1, 1], [0.55, 0.6, 0.7, 0.85, 0.9, 0.95]
    assert pick_threshold(y, p, people=2, prior_people=0)[:2] == (pytest.approx(0.775), 1.0)
    t, f1, rule = pick_threshold(y, p, people=2, prior_people=2)
    assert t == pytest.approx(0.6375) and f1 == pytest.approx(macro_f1(y, [0, 0, 1, 1, 1, 1]))
    assert "0.7750 over 2 people" in rule
    assert pick_threshold(y, p, people=40, prior_people=2)[0] == pytest.approx(0.5 + 0.275 * 40 / 42)
    assert pick_threshold(y, p, people=0, prior_people=0)[0] == 0.5


def test_report_counts_recalls_per_type_and_backend():
    from synthfake.detector.metrics import report

    y = [0, 0, 1, 1, 1, 1]
    pred = [0, 1, 1, 0, 1, 1]
    types = ["real", "real", "face_swap", "face_swap", "lip_sync", "lip_sync"]
    backends = ["reencode", "reencode", "a", "b", "c", "c"]
    rep = report(y, [0.1, 0.6, 0.9, 0.4, 0.8, 0.7], pred, types, backends, 0.5)
    assert rep.confusion == [[1, 1], [1, 3]]
    assert rep.recall_by_type == {"face_swap": 0.5, "lip_sync": 1.0, "real": 0.5}
    assert rep.recall_by_backend == {"a": 1.0, "b": 0.0, "c": 1.0, "reencode": 0.5}
    assert rep.f1_fake == pytest.approx(0.75) and rep.f1_real == pytest.approx(0.5)
    assert rep.roc_auc == pytest.approx(7 / 8)
    assert report([1, 1], [0.9, 0.2], [1, 0], ["a", "a"], ["x", "x"], 0.5).roc_auc is None


def test_empty_file_crops_shape():
    e = empty("x.mp4", SIZE, "why")
    assert isinstance(e, FileCrops) and e.crops.shape == (0, SIZE, SIZE, 3) and e.reason == "why"
