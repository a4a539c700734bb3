"""dlib faces on real photos: one face per face photo, none on animals, embeddings separate identities."""

from __future__ import annotations

import cv2
import numpy as np

from synthfake import faces, media


def test_faces_and_nonfaces(data_dir):
    for p in sorted((data_dir / "faces").glob("*.jpg")):
        f = faces.detect(media.read_image(p))
        assert f is not None and f.landmarks.shape == (68, 2), p
    for p in sorted((data_dir / "nonfaces").glob("*.jpg")):
        assert faces.detect(media.read_image(p)) is None, p


def test_embedding_same_person_vs_other(data_dir):
    still = media.read_image(data_dir / "faces" / "still_talk_d9.jpg")
    frame = media.read_frames(data_dir / "videos" / "talk_d9.mp4", 100, 1)[0]
    other = media.read_image(data_dir / "faces" / "photo_s42.jpg")
    e = [faces.embedding(x, faces.detect(x)) for x in (still, frame, other)]
    same, diff = faces.distance(e[0], e[1]), faces.distance(e[0], e[2])
    print(f"\nsame person {same:.3f}, different people {diff:.3f}")
    assert same < faces.SAME_PERSON < diff


def test_a_strip_of_an_image_is_no_face_not_an_error():
    """An 8000x10 image downscaled for detection rounded to 0 px tall, and OpenCV's resize raised: `gen run` and
    `gen sources scan` ended in a traceback on such a source."""
    for shape in ((10, 8000, 3), (9000, 10, 3), (1, 5000, 3)):
        assert faces.detect_boxes(np.zeros(shape, np.uint8)) == [] and faces.detect(np.zeros(shape, np.uint8)) is None


def test_a_face_of_an_ordinary_size_in_a_1080p_frame_is_found(data_dir):
    """A face 150-200 px wide in a 1920x1080 frame (an interview, a half-body photo) is under dlib's 80 px window
    on the 360 px detection copy: the scan excluded such a source as "no face found". One wider look finds it; a
    frame of 512 px (every source the default run uses) never looks wider, so its boxes are as they were."""
    img = media.read_image(data_dir / "faces" / "photo_s1.jpg")
    box = faces.detect(img).box
    for width in (150, 200):
        small = cv2.resize(img, None, fx=width / (box[2] - box[0]), fy=width / (box[2] - box[0]),
                           interpolation=cv2.INTER_AREA)
        frame = np.full((1080, 1920, 3), 90, np.uint8)
        frame[300:300 + small.shape[0], 800:800 + small.shape[1]] = small
        assert faces.detect_boxes(frame, wider=0) == []  # what the 360 px scan alone sees
        found = faces.detect(frame)
        assert found is not None and abs((found.box[2] - found.box[0]) - width) < 0.3 * width
    nothing = np.full((512, 512, 3), 90, np.uint8)
    assert faces.detect_boxes(nothing) == faces.detect_boxes(nothing, wider=0) == []


def test_margin_box_is_clipped():
    assert faces.margin_box((10, 10, 110, 110), 0.3, (100, 200)) == (0, 0, 140, 100)


def test_smoothing_keeps_gaps_and_reduces_jitter():
    rng = np.random.default_rng(0)
    base = rng.uniform(100, 200, (68, 2)).astype(np.float32)
    seq = [base + rng.normal(0, 2, base.shape).astype(np.float32) for _ in range(30)]
    seq[10] = None
    out = faces.smooth_landmarks(seq, 1.5)
    assert out[10] is None
    jitter_in = np.mean([np.abs(s - base).mean() for s in seq if s is not None])
    jitter_out = np.mean([np.abs(s - base).mean() for s in out if s is not None])
    assert jitter_out < 0.7 * jitter_in


def test_five_points_order():
    lm = np.zeros((68, 2), np.float32)
    lm[36:42] = (10, 20)
    lm[42:48] = (30, 20)
    lm[30], lm[48], lm[54] = (20, 30), (12, 40), (28, 40)
    assert faces.five_points(lm).tolist() == [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]]


def test_cached_detector_finds_the_same_boxes(data_dir, tmp_path, monkeypatch):
    """The detector saved in the user's cache (loads in ms) finds exactly what dlib's built-in one finds, and a
    damaged cache file is rebuilt, not trusted."""
    import dlib

    monkeypatch.setenv("HOME", str(tmp_path))
    faces._detector.cache_clear()
    try:
        built = faces._detector()  # no cache yet: built and saved
        saved = next((tmp_path / ".cache" / "synthfake").glob("dlib-*-frontal_face_detector.svm"))
        faces._detector.cache_clear()
        loaded = faces._detector()
        reference = dlib.get_frontal_face_detector()
        for p in sorted((data_dir / "faces").glob("*.jpg"))[:4]:
            rgb = np.ascontiguousarray(media.read_image(p))
            want = [(r.left(), r.top(), r.right(), r.bottom()) for r in reference(rgb, 0)]
            assert want and [(r.left(), r.top(), r.right(), r.bottom()) for r in loaded(rgb, 0)] == want, p
            assert [(r.left(), r.top(), r.right(), r.bottom()) for r in built(rgb, 0)] == want, p
        saved.write_bytes(saved.read_bytes()[:1000])
        faces._detector.cache_clear()
        assert len(faces._detector()(rgb, 0)) == len(want)
        assert saved.stat().st_size > 1000  # replaced by a whole copy
    finally:
        faces._detector.cache_clear()
