"""The deepfakebench crop's detection shortcut on real frames: a detection that skips the pyramid levels far
below the previous frame's face finds the full scan's boxes, and a frame sequence crops exactly as frame by frame."""

from __future__ import annotations

import numpy as np

from synthfake import faces, media
from synthfake.export.dfb_crop import align_crop, aligned_faces


def real_frames(data_dir, per_video: int = 4) -> list[np.ndarray]:
    frames = [rgb for p in sorted((data_dir / "videos").glob("*.mp4")) for _, rgb in media.frames_of(p, per_video)]
    return frames + [media.read_image(p) for p in sorted((data_dir / "faces").glob("photo_*.jpg"))]


def test_detection_near_an_expected_face_size_finds_the_full_scans_boxes(data_dir):
    skipped = []
    for i, rgb in enumerate(real_frames(data_dir)):
        full = faces.detect_boxes(rgb)
        assert full, f"frame {i}: no face"
        width = full[0][2] - full[0][0]
        scale = min(1.0, faces.DETECT_MAX_SIDE / max(rgb.shape[:2]))
        skipped.append(faces._levels_below(round(width * scale)))
        assert faces.detect_boxes(rgb, face=width) == full, f"frame {i}"
        # a wrong hint (the face changed size since the last frame) still gives the full scan's largest face:
        # boxes found at the scanned levels are larger than any at the skipped ones; none found: a full scan
        for hint in (width // 3, width * 2, width * 4):
            got = faces.detect_boxes(rgb, face=hint)
            assert got and got[0] == full[0], f"frame {i}, hint {hint}: {got[:1]} != {full[0]}"
    assert sum(n > 0 for n in skipped) >= 20, skipped  # the video frames' faces leave levels out (the photos' not)


def test_a_sequence_crops_as_frame_by_frame_and_a_faceless_frame_resets_the_hint(data_dir):
    video = data_dir / "videos" / "talk_d3.mp4"
    frames = list(media.frames_of(video, 3))
    dog = media.read_image(sorted((data_dir / "nonfaces").glob("*.jpg"))[0])
    photo = media.read_image(sorted((data_dir / "faces").glob("photo_*.jpg"))[0])  # another face size: a hint off
    seq = frames[:2] + [(91, photo), (90, dog)] + frames[2:]
    got = list(aligned_faces(seq))
    assert [idx for idx, _, _ in got] == [idx for idx, _ in seq if idx != 90]
    for (idx, crop, lm), (_, rgb) in zip(got, [f for f in seq if f[0] != 90]):
        want_crop, want_lm = align_crop(rgb, faces.detect_boxes(rgb)[0])
        assert np.array_equal(crop, want_crop) and np.array_equal(lm, want_lm), f"frame {idx}"
        assert crop.shape == (256, 256, 3) and lm.shape == (68, 2) and lm.dtype == np.int64
