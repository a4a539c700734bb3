"""Equalised external evaluation: a real and a fake stored differently come out of the one writer alike, the
copies are cached and reused, and a file that cannot be decoded is skipped with a one-line reason in the report."""

from __future__ import annotations

import csv
import json
import shutil

import cv2
import numpy as np
import pytest

from synthfake import media
from synthfake.audit.headers import jpeg_quality
from synthfake.audit.external import folder_confounds
from synthfake.detector.equalise import EqualiseSettings, equalise_folder, out_name
from synthfake.errors import SynthfakeError

S = EqualiseSettings(image_side=96, jpeg_quality=85, video_side=64, max_seconds=1.0, crf=30)


def _scene(h: int, w: int, t: int = 0) -> np.ndarray:
    """A smooth moving pattern (the same picture at any size)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    y, x = y / h, x / w
    r = 127 + 120 * np.sin(6 * x + 0.3 * t)
    g = 127 + 120 * np.cos(5 * y - 0.2 * t)
    b = 127 + 120 * np.sin(4 * (x + y) + 0.1 * t)
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


def _write_labels(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "kind", "model"])
        w.writerows(rows)


@pytest.fixture()
def folder(tmp_path):
    """A fake PNG and a real JPEG of other sizes; a fake high-bitrate video with audio and a real low-bitrate one
    without, of other sizes and lengths; a file that is no media at all; a listed file that is absent."""
    d = tmp_path / "set"
    (d / "img").mkdir(parents=True)
    (d / "vid").mkdir()
    cv2.imwrite(str(d / "img" / "fake.png"), cv2.cvtColor(_scene(200, 300), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(d / "img" / "real.jpg"), cv2.cvtColor(_scene(480, 640), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 40])
    tone = (0.1 * np.sin(np.arange(16000 * 3) / 16000 * 2 * np.pi * 220)).astype(np.float32)[:, None]
    media.write_video(d / "vid" / "fake.mp4", (_scene(240, 320, t) for t in range(75)), 25, (tone, 16000), crf=8)
    media.write_video(d / "vid" / "real.mp4", (_scene(120, 160, t) for t in range(30)), 25, None, crf=40)
    (d / "vid" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video at all" * 40)
    _write_labels(d / "labels.csv", [("img/fake.png", 1, "generation", "g"), ("img/real.jpg", 0, "real", "r"),
                                     ("vid/fake.mp4", 1, "lip_sync", "l"), ("vid/real.mp4", 0, "real", "r"),
                                     ("vid/broken.mp4", 1, "lip_sync", "l"), ("vid/gone.mp4", 0, "real", "r")])
    return d


def test_real_and_fake_come_out_alike(folder, tmp_path):
    before = {p: media.probe(folder / p) for p in ("img/fake.png", "img/real.jpg", "vid/fake.mp4", "vid/real.mp4")}
    assert before["img/fake.png"].width != before["img/real.jpg"].width
    assert before["vid/fake.mp4"].audio and not before["vid/real.mp4"].audio
    eq = equalise_folder(folder, folder / "labels.csv", S, tmp_path / "cache", workers=0, log=lambda m: None)
    after = {p: media.probe(eq.folder / out_name(p)) for p in before}
    for p in ("img/fake.png", "img/real.jpg"):
        m = after[p]
        assert min(m.width, m.height) == 96 and m.codec == "jpeg" and jpeg_quality(eq.folder / out_name(p)) == 85
    assert (after["img/fake.png"].width, after["img/real.jpg"].width) == (144, 128)  # aspect ratio kept
    fake, real = after["vid/fake.mp4"], after["vid/real.mp4"]
    assert (fake.width, fake.height, fake.codec, fake.audio) == (real.width, real.height, real.codec, real.audio) \
        == (84, 64, "h264", False)  # 85.3 rounded down to even
    assert fake.frames == real.frames == 25 and fake.fps == real.fps == 25  # cut to 1 s
    rate = {p: (eq.folder / out_name(p)).stat().st_size for p in ("vid/fake.mp4", "vid/real.mp4")}
    assert (folder / "vid/fake.mp4").stat().st_size > 5 * (folder / "vid/real.mp4").stat().st_size
    assert abs(rate["vid/fake.mp4"] / rate["vid/real.mp4"] - 1) < 0.25  # same picture, same writer: ~same bitrate
    found, _ = folder_confounds(folder, folder / "labels.csv", log=lambda m: None)
    equal, _ = folder_confounds(eq.folder, eq.labels, log=lambda m: None)
    auc = lambda c, k: next(r["auc"] for r in c.details["properties"] if r["property"] == k)  # noqa: E731
    for k in ("image.height", "image.format", "video.height", "video.audio"):  # widths keep the aspect ratio
        assert auc(found, k) in (0.0, 1.0) and auc(equal, k) == 0.5, k


def test_cache_is_reused_and_remade_only_where_sources_change(folder, tmp_path):
    cache = tmp_path / "cache"
    notes = []
    first = equalise_folder(folder, folder / "labels.csv", S, cache, workers=0, log=notes.append)
    assert first.made == 5 and notes == [f"equalising 5 of 5 file(s) into {cache}"]
    stamp = {p: (cache / out_name(p)).stat().st_mtime_ns for p in first.source_of.values()}
    again = equalise_folder(folder, folder / "labels.csv", S, cache, workers=0, log=notes.append)
    assert again.made == 0 and len(notes) == 1 and again.source_of == first.source_of
    assert {p: (cache / out_name(p)).stat().st_mtime_ns for p in stamp} == stamp
    cv2.imwrite(str(folder / "img" / "fake.png"), cv2.cvtColor(_scene(100, 100), cv2.COLOR_RGB2BGR))
    third = equalise_folder(folder, folder / "labels.csv", S, cache, workers=0, log=notes.append)
    assert third.made == 1 and media.probe(cache / "img/fake.png.jpg").width == 96
    assert (cache / "vid/real.mp4.mp4").stat().st_mtime_ns == stamp["vid/real.mp4"]
    other = EqualiseSettings(image_side=64)
    assert other.key() != S.key()
    with pytest.raises(SynthfakeError, match="made with other settings"):
        equalise_folder(folder, folder / "labels.csv", other, cache, workers=0, log=notes.append)
    from synthfake.detector.equalise import default_cache

    assert default_cache(tmp_path / "labels.csv", S, folder) == tmp_path.resolve() / f"equalised-{S.key()}"
    # labels inside the scored folder: the copies go beside it, never into it (where predict would score them)
    beside = folder.resolve().parent / f"{folder.name}.equalised-{S.key()}"
    assert default_cache(folder / "labels.csv", S, folder) == beside
    before = (folder / "labels.csv").read_bytes()
    with pytest.raises(SynthfakeError, match="inside the folder it re-encodes"):
        equalise_folder(folder, folder / "labels.csv", S, folder, workers=0, log=notes.append)
    assert (folder / "labels.csv").read_bytes() == before  # the answer key untouched


def test_undecodable_and_absent_files_are_skipped_with_a_reason(folder, tmp_path):
    eq = equalise_folder(folder, folder / "labels.csv", S, tmp_path / "cache", workers=2, log=lambda m: None)
    why = {s["path"]: s["reason"] for s in eq.skipped}
    assert set(why) == {"vid/broken.mp4", "vid/gone.mp4"} and why["vid/gone.mp4"] == "file not found"
    assert why["vid/broken.mp4"].startswith("not equalised: ") and "\n" not in why["vid/broken.mp4"]
    assert not list((tmp_path / "cache").rglob("broken*")) and not list((tmp_path / "cache").rglob(".*tmp*"))
    with open(eq.labels, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["source"] for r in rows] == ["img/fake.png", "img/real.jpg", "vid/fake.mp4", "vid/real.mp4"]
    index = json.loads((tmp_path / "cache" / "equalised.json").read_text())
    assert index["files"]["vid/broken.mp4"]["reason"] == why["vid/broken.mp4"][len("not equalised: "):]


def test_the_equalisers_own_enlargement_is_weighed_as_a_property(folder, tmp_path):
    """A small source is enlarged to the short side with a cubic blur that no property of the copies shows (they
    all have one size): the equaliser records each copy's enlargement, keeps it in its cache, and the equalised
    report weighs it beside the copies' properties."""
    from synthfake.detector.equalised_eval import enlargement_confound, best_confound
    from synthfake.labels import labelled_files

    big = EqualiseSettings(image_side=400, jpeg_quality=85, video_side=200, max_seconds=1.0, crf=30)
    eq = equalise_folder(folder, folder / "labels.csv", big, tmp_path / "eq", workers=0, log=lambda m: None)
    # fake.png 200x300, real.jpg 480x640; fake.mp4 240x320, real.mp4 120x160
    assert eq.enlarged == {"img/fake.png": 2.0, "img/real.jpg": 1.0, "vid/fake.mp4": 1.0, "vid/real.mp4": 1.6667}
    again = equalise_folder(folder, folder / "labels.csv", big, tmp_path / "eq", workers=0, log=lambda m: None)
    assert again.made == 0 and again.enlarged == eq.enlarged
    rows, _ = labelled_files(eq.folder, eq.labels)
    images = [r for r in rows if r.path.startswith("img/")]
    assert enlargement_confound(images, eq.source_of, eq.enlarged) == ("equalise.enlarged", 1.0)
    assert enlargement_confound(rows, eq.source_of, eq.enlarged) == ("equalise.enlarged", 0.625)
    assert enlargement_confound(images[:1], eq.source_of, eq.enlarged) == (None, None)  # one class: no AUC
    assert best_confound(("image.bytes", 0.6), ("equalise.enlarged", 1.0)) == ("equalise.enlarged", 1.0)
    assert best_confound((None, None), ("image.bytes", 0.6)) == ("image.bytes", 0.6)


def test_cli_reports_found_and_equalised_side_by_side(data_dir, folder, tmp_path):
    """`gen detect eval --labels --equalise` on real faces: both AUCs with their confounds; the broken file's
    reason on one line of the report."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from conftest import gen
    from tiny_models import random_detector

    for name in ("photo_s1.jpg", "photo_s12.jpg", "still_talk_d3.jpg"):
        shutil.copy(data_dir / "faces" / name, folder / "img" / name)
    _write_labels(folder / "faces.csv", [("img/photo_s1.jpg", 0, "real", "r"), ("img/photo_s12.jpg", 1, "swap", "s"),
                                         ("img/still_talk_d3.jpg", 1, "swap", "s"), ("img/real.jpg", 0, "real", "r"),
                                         ("vid/broken.mp4", 1, "swap", "s")])
    random_detector(tmp_path / "m", frames=2)
    p = gen("detect", "eval", tmp_path / "m", folder, "--labels", folder / "faces.csv", "--equalise",
            "--equalise-cache", tmp_path / "eq", "--json", tmp_path / "r.json", "--workers", "0", "--quiet")
    rows = [ln.split() for ln in p.stdout.splitlines()
            if ln.startswith("│ found ") or ln.startswith("│ equalised ")]
    assert [r[1] for r in rows] == ["found", "equalised"] and "image.width" in rows[1]  # AUC beside the confound
    line = next(ln for ln in p.stderr.splitlines() if "broken.mp4: not equalised" in ln)
    assert line.endswith("broken.mp4: not equalised: cannot open as media (Invalid data found when processing "
                         "input): skipped")
    assert "vid/broken.mp4" in p.stdout  # the report's table of skipped files
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["settings"]["image_side"] == 512 and rep["found"]["files"] == 5 and rep["equalised"]["files"] == 4
    assert set(rep["equalised"]["probs"]) <= {"img/photo_s1.jpg", "img/photo_s12.jpg", "img/still_talk_d3.jpg"}
    assert rep["found"]["confound"] and rep["equalised"]["confound_auc"] is not None
    assert any(s["path"] == "vid/broken.mp4" and s["reason"].startswith("not equalised")
               for s in rep["equalised"]["skipped"])
    p = gen("detect", "eval", tmp_path / "m", folder, "--equalise", check=False)
    assert p.returncode == 2 and "--equalise needs --labels" in p.stderr
    p = gen("detect", "eval", tmp_path / "m", folder, "--labels", folder / "faces.csv", "--equalise-cache", tmp_path,
            check=False)  # it had been ignored: the copies named were never made nor scored (sweep)
    assert p.returncode == 2 and "--equalise-cache: applies with --equalise only" in p.stderr
