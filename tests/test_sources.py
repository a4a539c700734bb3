"""The sources index on real media: non-face photos and corrupt videos are kept out with their reason,
identities group a video with its still, people who wear glasses are found, and a sample whose source breaks is
recorded as failed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from synthfake.manifest import read_failures, read_records
from synthfake.run_config import RunSettings
from synthfake.runner import Shard
from synthfake.sources import load_index

from conftest import gen


def test_scan_lists_nonfaces_with_reason_and_groups_identities(data_dir, tmp_path):
    proc = gen("sources", "scan", data_dir, "--json", tmp_path / "index.json")
    for name in ("animal_s22.jpg", "animal_s31.jpg", "animal_s41.jpg"):
        assert name in proc.stdout
    assert "excluded nonfaces/animal_s22.jpg: no face found in 1 sampled frame(s)" in proc.stdout
    index = load_index(tmp_path / "index.json")
    by_path = {it.path: it for it in index.items}
    assert all(not by_path[f"nonfaces/{n}"].is_face for n in ("animal_s22.jpg", "animal_s31.jpg", "animal_s41.jpg"))
    for d in ("d0", "d3", "d9", "d12", "d18", "d20"):  # a still cut from a video is the same person
        assert by_path[f"faces/still_talk_{d}.jpg"].identity == by_path[f"videos/talk_{d}.mp4"].identity
    ids = {it.identity for it in index.items if it.is_face}
    assert len(ids) == 9, ids  # 6 people in videos + 3 photos
    assert by_path["audio/RD_Radio31_000.wav"].is_audio


def test_a_video_of_a_few_frames_is_kept_out_of_face_roles(data_dir, tmp_path):
    """A still saved as a one-frame clip (or a 0.3 s fragment) was taken as a face video: a lip-sync fake made on
    it changed nothing a viewer could see and the audit failed it as label noise."""
    from clips import h264_clip

    from synthfake import media
    from synthfake.sources import scan

    face = media.read_image(data_dir / "faces" / "still_talk_d3.jpg")
    src = tmp_path / "S"
    src.mkdir()
    for n in (1, 9, 10):
        h264_clip(src / f"f{n}.mp4", [face] * n, (256, 256))
    by_path = {it.path: it for it in scan(src).items}
    for n in (1, 9):
        assert by_path[f"f{n}.mp4"].excluded == (f"a video of only {n} frame(s), under 10: too short to be a clip "
                                                 "(save a still as a photo to use its face)")
    assert by_path["f10.mp4"].excluded is None and by_path["f10.mp4"].is_face


def test_a_photo_of_two_people_is_kept_out_of_face_roles(data_dir, tmp_path):
    """Two people side by side: the scan gave the photo the identity of the larger face, and the other person's
    own photo could go to another split, which the audit (one face a file) passed (sweep)."""
    import cv2
    import numpy as np

    from synthfake import media
    from synthfake.sources import scan

    from synthfake import faces

    def head(name):  # the face with a margin, 300 px: two of them side by side as in a group photo
        rgb = media.read_image(data_dir / "faces" / name)
        x0, y0, x1, y1 = faces.margin_box(faces.detect(rgb).box, 0.4, rgb.shape)
        return cv2.resize(rgb[y0:y1, x0:x1], (300, 300), interpolation=cv2.INTER_AREA)

    a, b = head("photo_s42.jpg"), head("photo_s1.jpg")
    src = tmp_path / "S"
    src.mkdir()
    cv2.imwrite(str(src / "pair.jpg"), cv2.cvtColor(np.hstack([a, b]), cv2.COLOR_RGB2BGR))
    shutil.copy(data_dir / "faces" / "photo_s42.jpg", src / "one.jpg")
    by_path = {it.path: it for it in scan(src).items}
    assert by_path["pair.jpg"].excluded == ("another face beside the largest in 1/1 sampled frame(s): someone who "
                                            "could be in another split (crop it to one person to use it)")
    assert by_path["one.jpg"].excluded is None


def test_an_animal_face_dlib_takes_for_a_face_is_kept_out_of_face_roles(data_dir, tmp_path):
    """dlib's HOG detector found a 'face' on a monkey cropped from a nonface photo: the scan made it a person,
    and a swap or lip-sync fake was made on it (7 Dec). Its detector score is far under people's."""
    import cv2

    from synthfake import media
    from synthfake.sources import FACE_SCORE_MIN, scan

    monkey = media.read_image(data_dir / "nonfaces" / "animal_s22.jpg")[100:612, 20:532]
    src = tmp_path / "S"
    src.mkdir()
    cv2.imwrite(str(src / "monkey.jpg"), cv2.cvtColor(monkey, cv2.COLOR_RGB2BGR))
    shutil.copy(data_dir / "faces" / "photo_s12.jpg", src / "person.jpg")
    by_path = {it.path: it for it in scan(src).items}
    why = by_path["monkey.jpg"].excluded or ""
    assert why.startswith("not clearly a human face: dlib's detector score "), why
    assert float(why.split("score ")[1].split()[0]) < FACE_SCORE_MIN
    assert by_path["person.jpg"].excluded is None and by_path["person.jpg"].is_face


def test_steady_noise_or_hum_is_not_taken_for_speech(data_dir, tmp_path):
    """Only silence was kept out of the lip-sync driver role: white noise or mains hum was taken for speech and a
    mouth was moved to it (sweep, 7 Dec). Speech's level moves with its syllables and pauses; a steady sound's not."""
    import numpy as np
    import soundfile as sf

    from synthfake.sources import scan

    src = tmp_path / "S"
    src.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 5) / 16000
    sf.write(src / "noise.wav", rng.normal(0, 0.1, t.size).astype(np.float32), 16000)
    sf.write(src / "hum.wav", (0.3 * np.sin(2 * np.pi * 50 * t)).astype(np.float32), 16000)
    shutil.copy(data_dir / "audio" / "RD_Radio31_000.wav", src / "speech.wav")
    by_path = {it.path: it for it in scan(src).items}
    for name in ("noise.wav", "hum.wav"):
        assert (by_path[name].excluded or "").startswith("no voice activity: a steady sound (its level moves "), name
    assert by_path["speech.wav"].excluded is None and by_path["speech.wav"].is_audio


def test_the_scan_table_keeps_long_names_whole_in_a_pipe(data_dir, tmp_path):
    """Piped into a log, the table was laid out 80 columns wide and cut names to 'phone_…', which cannot be told
    from 'photo…'; every path now appears whole in its row."""
    d = tmp_path / "src"
    d.mkdir()
    long = "a_rather_long_name_for_a_phone_video_still_from_the_competition_set_0001.jpg"
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", d / long)
    shutil.copy(data_dir / "faces" / "photo_s12.jpg", d / "photo_s12.jpg")
    rows = [ln for ln in gen("sources", "scan", d, env={**os.environ, "COLUMNS": ""}).stdout.splitlines()
            if ln.startswith("│")]
    paths = "".join(ln.split("│")[1].strip() for ln in rows)  # a name too long for its column folds onto the next
    assert long in paths and "photo_s12.jpg" in paths and not any("…" in ln for ln in rows), rows


def test_a_partial_identities_table_names_its_files_and_the_rest_are_grouped_by_face(data_dir, tmp_path):
    """Camera names repeat across folders: two people's IMG_0001.JPG stay two people. identities.csv listing one
    file names that file's group; every other file is grouped by its face as without a table, and audio stays a
    voice. A listed path with no file is one line naming the table and row."""
    from synthfake.errors import SynthfakeError
    from synthfake.sources import scan

    src = tmp_path / "src"
    for rel, orig in (("alice/IMG_0001.JPG", "faces/photo_s1.jpg"), ("bob/IMG_0001.JPG", "faces/photo_s42.jpg"),
                      ("carol/VID_0001.mp4", "videos/talk_d3.mp4"), ("carol/IMG_0002.jpg", "faces/still_talk_d3.jpg"),
                      ("speech.wav", "audio/RD_Radio31_000.wav")):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / orig, src / rel)
    (src / "identities.csv").write_text("path,identity\ncarol/IMG_0002.jpg,carol\n")
    ids = {it.path: it.identity for it in scan(src, show=False).items}
    assert ids == {"alice/IMG_0001.JPG": "alice/IMG_0001", "bob/IMG_0001.JPG": "bob/IMG_0001",
                   "carol/VID_0001.mp4": "carol", "carol/IMG_0002.jpg": "carol", "speech.wav": "voice:speech"}
    shutil.copy(src / "bob" / "IMG_0001.JPG", src / "bob" / "IMG_0001 copy.JPG")  # a copy is kept out, named
    index = scan(src, show=False)
    assert {it.path: it.excluded for it in index.items if it.excluded} == {
        "bob/IMG_0001.JPG": "same content as bob/IMG_0001 copy.JPG"}
    (src / "bob" / "IMG_0001 copy.JPG").unlink()
    assert not [it for it in scan(src, index, show=False).items if it.excluded]  # decided again when it is gone
    (src / "identities.csv").write_text("path,identity\ncarol/IMG_0003.jpg,carol\n")
    with pytest.raises(SynthfakeError, match=r"identities.csv:2: 'carol/IMG_0003.jpg' is no file under"):
        scan(src, show=False)
    # a name typed on Windows (accent composed) for a file unzipped from a Mac (decomposed): the refusal says so
    shutil.copy(src / "carol" / "IMG_0002.jpg", src / "carol" / "Jose\u0301.jpg")
    (src / "identities.csv").write_text("path,identity\ncarol/Jos\u00e9.jpg,carol\n")
    with pytest.raises(SynthfakeError, match="file not found \\('Jose\u0301.jpg' beside it differs only in letter "
                                             "case or Unicode form\\)"):
        scan(src, show=False)


def test_corrupt_video_is_named_recorded_and_the_run_goes_on(data_dir, dataset_dir, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(data_dir, src)  # same sizes and mtimes: the warm index's entries are reused, broken.mp4 is new
    good = (src / "videos" / "talk_d9.mp4").read_bytes()
    (src / "videos" / "broken.mp4").write_bytes(good[: len(good) // 3])
    out = dataset_dir("corrupt")
    proc = gen("run", "--type", "face_swap", "--n", 4, "--reals", 0, "--clip-seconds", 0.5, "--sources", src,
               "--out", out)
    notes = [line for line in proc.stderr.splitlines() if "broken.mp4" in line]
    print("\n" + "\n".join(notes))
    assert len(notes) == 1 and "unreadable" in notes[0]
    index = json.loads((out / "sources.json").read_text())
    broken = [it for it in index["items"] if it["path"] == "videos/broken.mp4"][0]
    assert broken["excluded"].startswith("unreadable:")
    assert len(read_records(out)) == 4


def test_source_that_breaks_after_planning_is_a_recorded_failure(data_dir, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(data_dir / "faces", src / "faces")
    out = tmp_path / "D"
    gen("run", "--type", "face_swap", "--n", 6, "--reals", 0, "--sources", src, "--out", out, "--quiet")
    shutil.rmtree(out / "manifest")
    shutil.rmtree(out / "media")
    victim = read_failures(out) or None
    assert victim is None
    index = load_index(out / "sources.json")
    target = index.items[0]
    (src / target.path).write_bytes(b"\xff\xd8 not a jpeg any more")
    res = Shard(out, RunSettings(show_progress=False), 0, 1).run()
    fails = read_failures(out)
    print(f"\n{res.failed} failed, {res.done} done; e.g. {fails[0].reason if fails else ''}")
    assert res.failed >= 1 and res.done + res.failed == 6
    assert all(target.path in f.reason for f in fails)
    assert {f.index for f in fails}.isdisjoint({r.index for r in read_records(out)})
    assert not list((out / "media").rglob(".*.tmp*"))  # no temporary file left behind


def test_a_run_resumes_from_its_sources_moved_to_another_folder(data_dir, tmp_path):
    """The same files under another path (moved, or mounted elsewhere) resume the run from there: before 6 Dec every
    sample left failed on the old path, and --retry-failed failed them again. Another --identity-threshold is
    named as such, not as changed files."""
    src = tmp_path / "src"
    shutil.copytree(data_dir / "faces", src / "faces")
    out = tmp_path / "D"
    gen("run", "--type", "face_swap", "--n", 3, "--reals", 0, "--sources", src, "--out", out, "--quiet")
    done = {r.id: r.sha256 for r in read_records(out)}
    shutil.rmtree(out / "manifest")
    shutil.rmtree(out / "media")
    moved = src.rename(tmp_path / "elsewhere")
    gen("run", "--type", "face_swap", "--n", 3, "--reals", 0, "--sources", moved, "--out", out, "--quiet")
    assert {r.id: r.sha256 for r in read_records(out)} == done and not read_failures(out)
    assert load_index(out / "sources.json").root == str(moved.resolve())
    proc = gen("run", "--type", "face_swap", "--n", 3, "--reals", 0, "--sources", moved, "--out", out, "--quiet",
               "--identity-threshold", 0.5, check=False)
    assert proc.returncode == 2 and "drawn at --identity-threshold 0.4, not 0.5" in proc.stderr, proc.stderr


def test_people_who_wear_glasses_are_found_on_the_real_media(warm_sources):
    """talk_d9 and talk_d12 wear glasses in their videos (and the stills cut from them); the other seven do not.
    A still alone may score under the photo line (talk_d12's: 1.34): the person is judged on the video."""
    from synthfake import glasses
    from synthfake.sources import glasses_identities

    index = load_index(warm_sources / "sources.json")
    assert glasses_identities(index.items) == {"talk_d9", "talk_d12"}
    videos = {Path(it.path).stem: it.glasses for it in index.items if it.kind == "video"}
    assert min(videos["talk_d9"], videos["talk_d12"]) > glasses.VIDEO_MAX
    assert max(v for k, v in videos.items() if k not in ("talk_d9", "talk_d12")) < 0.9


def test_machine_cache_skips_a_second_scan_and_track_and_a_bad_entry_is_recomputed(data_dir, tmp_path,
                                                                                   monkeypatch):
    """A second folder holding the same files is indexed from the machine cache (keyed by sha256) and its video
    tracked from it; an entry that is cut or of another shape is computed again and replaced, never an error."""
    import numpy as np

    from synthfake import faces, machine_cache
    from synthfake.source_files import TRACK_VERSION, track_file, video_track
    from synthfake.sources import SCAN_VERSION, machine_kind, scan

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # an empty machine cache
    photo, video = "faces/photo_s1.jpg", "videos/talk_d0.mp4"
    for d in ("a", "b"):
        for f in (photo, video):
            (tmp_path / d / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(data_dir / f, tmp_path / d / f)
    first = scan(tmp_path / "a")
    kind = machine_kind("scan", SCAN_VERSION)
    held = {p.name for p in (machine_cache.root() / kind).rglob("*.json")}
    assert len(held) == 2
    calls = []
    monkeypatch.setattr(faces, "embedding", lambda *a: calls.append(a))  # the scan's costly step: never reached
    second = scan(tmp_path / "b")
    content = [it.model_dump(exclude={"mtime_ns"}) for it in first.items]
    assert not calls and [it.model_dump(exclude={"mtime_ns"}) for it in second.items] == content
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    it = next(i for i in first.items if i.path == photo)
    entry = machine_cache.entry(kind, f"{it.sha256}.image", ".json")
    for bad in ('{"width": 1', '{"kind": "sound", "path": 3}'):
        entry.write_text(bad)
        again = next(i for i in scan(tmp_path / "b").items if i.path == photo)
        assert again.model_dump(exclude={"mtime_ns"}) == it.model_dump(exclude={"mtime_ns"})
        assert json.loads(entry.read_text())["embedding"] == it.embedding  # replaced by the recomputed entry

    v = next(i for i in first.items if i.path == video)
    track = video_track(tmp_path / "a" / video, v.sha256, tmp_path / "cacheA", v.embedding)
    shared = machine_cache.entry(machine_kind("tracks", TRACK_VERSION),
                                 track_file(tmp_path, v.sha256, v.embedding).stem, ".npy")
    assert np.array_equal(np.load(shared), track, equal_nan=True)
    np.save(shared, np.zeros_like(track))  # a planted entry: read, so not tracked again
    assert not video_track(tmp_path / "b" / video, v.sha256, tmp_path / "cacheB", v.embedding).any()
    shared.write_bytes(b"cut")
    assert np.array_equal(video_track(tmp_path / "b" / video, v.sha256, tmp_path / "cacheC", v.embedding), track,
                          equal_nan=True)


def test_a_long_video_s_track_is_said_before_it_starts(data_dir, tmp_path, capsys, monkeypatch):
    """A source video's whole track comes before its first sample; a 2 min clip had left the run at 0 for minutes
    without a word (sweep). From LONG_TRACK frames a line says what is being done and about how long it takes,
    and a progress line follows every 30 s (a 10 min clip's 8 min had no word after the first, sweep 7 Dec)."""
    from clips import h264_clip

    from synthfake import media
    from synthfake.source_files import LONG_TRACK, video_track

    clip = tmp_path / "c.mp4"
    h264_clip(clip, [media.read_image(data_dir / "faces" / "still_talk_d3.jpg")] * 3, (128, 128))
    video_track(clip, "short", tmp_path / "a", None, frames=LONG_TRACK - 1)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("SYNTHFAKE_PROGRESS_INTERVAL", "0")  # a line each frame, as each 30 s on a long clip
    video_track(clip, "long", tmp_path / "b", None, frames=3000)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == ("tracking the face through all 3000 frames of c.mp4 (once per file, kept on this machine; "
                        "at ~20 frames/s on one core, about 2 min)")
    assert [ln.split(",")[0] for ln in lines[1:5]] == [f"tracking c.mp4: {k}/3000 ({k * 100 // 3000}%)"
                                                       for k in range(4)]
