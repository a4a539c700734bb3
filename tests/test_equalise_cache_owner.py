"""The equalised cache never overwrites a file it did not write: the user's labels CSV (given as --labels, or any
labels.csv the index does not record), a file where a copy would go. Refused in one line before any work. An image
whose copy would be over JPEG's size limit (a video frame over the encoder's) is skipped with a one-line reason, and
OpenCV prints nothing."""

from __future__ import annotations

import csv
import hashlib
import json

import cv2
import numpy as np
import pytest

from synthfake.detector.equalise import INDEX, LABELS, EqualiseSettings, equalise_file, equalise_folder, out_name
from synthfake.errors import MediaError, SynthfakeError

S = EqualiseSettings(image_side=96, jpeg_quality=85, video_side=64, max_seconds=1.0, crf=30)


def _labels(path, rows, header=("path", "label")):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    for name, v in (("a.jpg", 40), ("b.png", 200)):
        cv2.imwrite(str(d / name), np.full((120, 160, 3), v, np.uint8))
    return d


def _never_encodes(monkeypatch):
    import synthfake.detector.equalise as eq

    def boom(job):
        raise AssertionError("re-encoded before the refusal")

    monkeypatch.setattr(eq, "_one", boom)
    monkeypatch.setattr(eq, "sha256_file", lambda p: (_ for _ in ()).throw(AssertionError(f"hashed {p}")))


def test_labels_csv_given_as_the_cache_s_own_is_refused_untouched(folder, tmp_path, monkeypatch):
    mylab = tmp_path / "mylab"
    mylab.mkdir()
    _labels(mylab / "labels.csv", [("a.jpg", 1), ("b.png", 0)])
    before = (mylab / "labels.csv").read_bytes()
    _never_encodes(monkeypatch)
    with pytest.raises(SynthfakeError, match=r"labels\.csv: is the --labels file.*another folder") as e:
        equalise_folder(folder, mylab / "labels.csv", S, mylab, workers=0, log=lambda m: None)
    assert "\n" not in str(e.value)
    assert (mylab / "labels.csv").read_bytes() == before and sorted(p.name for p in mylab.iterdir()) == ["labels.csv"]


def test_a_labels_csv_the_equaliser_did_not_write_is_never_overwritten(folder, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    _labels(tmp_path / "labels.csv", [("a.jpg", 1), ("b.png", 0)])
    _labels(mine / "labels.csv", [("x.jpg", 1)], ("path", "label", "note"))  # the user's own, no index beside it
    before = (mine / "labels.csv").read_bytes()
    with pytest.raises(SynthfakeError, match=r"mine/labels\.csv: a file the equaliser did not write \(no "):
        equalise_folder(folder, tmp_path / "labels.csv", S, mine, workers=0, log=lambda m: None)
    assert (mine / "labels.csv").read_bytes() == before and not (mine / INDEX).exists()

    cache = tmp_path / "cache"  # a cache of its own, then its labels.csv replaced by hand: not its any more
    eq = equalise_folder(folder, tmp_path / "labels.csv", S, cache, workers=0, log=lambda m: None)
    index = json.loads((cache / INDEX).read_text())
    assert index["labels_sha256"] == [hashlib.sha256(eq.labels.read_bytes()).hexdigest()]
    again = equalise_folder(folder, tmp_path / "labels.csv", S, cache, workers=0, log=lambda m: None)
    assert again.made == 0 and again.labels.read_bytes() == eq.labels.read_bytes()
    _labels(cache / LABELS, [("a.jpg", 1)], ("path", "label", "mine"))
    with pytest.raises(SynthfakeError, match=r"equalised\.json records another sha256 for it"):
        equalise_folder(folder, tmp_path / "labels.csv", S, cache, workers=0, log=lambda m: None)
    assert (cache / LABELS).read_text().startswith("path,label,mine")


def test_an_index_from_before_the_labels_sha256_still_owns_its_labels(folder, tmp_path):
    _labels(tmp_path / "labels.csv", [("a.jpg", 1), ("b.png", 0)])
    cache = tmp_path / "cache"
    equalise_folder(folder, tmp_path / "labels.csv", S, cache, workers=0, log=lambda m: None)
    index = json.loads((cache / INDEX).read_text())
    del index["labels_sha256"]  # as the equaliser wrote it before 7 Dec
    (cache / INDEX).write_text(json.dumps(index))
    again = equalise_folder(folder, tmp_path / "labels.csv", S, cache, workers=0, log=lambda m: None)
    assert again.made == 0 and len(json.loads((cache / INDEX).read_text())["labels_sha256"]) == 1


def test_files_where_copies_or_the_index_would_go_are_never_overwritten(folder, tmp_path):
    _labels(tmp_path / "labels.csv", [("a.jpg", 1), ("b.png", 0)])
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / out_name("b.png")).write_bytes(b"my own picture")
    with pytest.raises(SynthfakeError, match=r"b\.png\.jpg: a file the equaliser did not write \(its index lists "
                                             r"no b\.png\)"):
        equalise_folder(folder, tmp_path / "labels.csv", S, cache, workers=0, log=lambda m: None)
    assert (cache / "b.png.jpg").read_bytes() == b"my own picture" and sorted(p.name for p in cache.iterdir()) == [
        "b.png.jpg"]
    other = tmp_path / "other"
    other.mkdir()
    (other / INDEX).write_text('{"notes": "mine"}')
    with pytest.raises(SynthfakeError, match=r"equalised\.json: not an index the equaliser wrote"):
        equalise_folder(folder, tmp_path / "labels.csv", S, other, workers=0, log=lambda m: None)
    assert (other / INDEX).read_text() == '{"notes": "mine"}'


def test_an_image_too_wide_for_a_jpeg_is_skipped_in_one_line_and_opencv_says_nothing(folder, tmp_path, capfd):
    cv2.imwrite(str(folder / "wide.png"), np.full((4, 3000, 3), 90, np.uint8))  # 96 px short side: 72000 x 96
    with pytest.raises(MediaError, match=r"3000x4 px would be 72000x96 px at a 96 px short side, over the 65500 px"):
        equalise_file(folder / "wide.png", tmp_path / "w.jpg", S)
    _labels(tmp_path / "labels.csv", [("a.jpg", 1), ("wide.png", 0)])
    eq = equalise_folder(folder, tmp_path / "labels.csv", S, tmp_path / "cache", workers=0, log=lambda m: None)
    why = {s["path"]: s["reason"] for s in eq.skipped}
    assert why == {"wide.png": "not equalised: 3000x4 px would be 72000x96 px at a 96 px short side, over the 65500 "
                               "px a JPEG may have"}
    out = capfd.readouterr()
    assert "imencode" not in out.err + out.out and "ERROR" not in out.err


def test_a_video_too_wide_for_the_encoder_is_skipped_in_one_line(tmp_path):
    from synthfake import media

    media.write_video(tmp_path / "thin.mp4", (np.full((10, 500, 3), 10 * i, np.uint8) for i in range(3)), 25, None,
                      crf=30)  # 360 px short side: 18000 x 360, which libx264 cannot open
    with pytest.raises(MediaError, match=r"500x10 px would be 18000x360 px at a 360 px short side, over the 16384 px "
                                         r"a video frame may have"):
        equalise_file(tmp_path / "thin.mp4", tmp_path / "out.mp4", EqualiseSettings())
    assert not (tmp_path / "out.mp4").exists()
