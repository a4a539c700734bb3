"""The crop cache serves only what the file on disk holds now: a file that was absent, unreadable or truncated
when it was cropped is read again once it is restored, never served its old reason or its partial crops."""

from __future__ import annotations

import os
import shutil

import numpy as np

from synthfake.detector.crops import CropSettings, cache_file, cached_crops, file_crops
from synthfake.files import sha256_file

S = CropSettings(frames=6, size=32)


def _job(path, sha, root):
    return (str(path), "id1", sha, S, str(root))


def test_absent_and_unreadable_files_are_read_again_once_restored(data_dir, tmp_path):
    src = data_dir / "videos" / "talk_d20.mp4"
    media, root = tmp_path / "media" / "clip.mp4", tmp_path / "cache"
    media.parent.mkdir()
    sha = sha256_file(src)
    whole = file_crops(src, S)
    assert len(whole.crops) == 6 and not whole.reason
    gone = cached_crops(_job(media, sha, root))  # the file is absent
    assert gone.reason == "unreadable: file not found" and not len(gone.crops)
    shutil.copy(src, media)
    back = cached_crops(_job(media, sha, root))
    assert not back.reason and back.frames == whole.frames, back.reason
    media.write_bytes(b"garbage\n")
    broken = cached_crops(_job(media, sha, root))
    assert broken.reason.startswith("unreadable: cannot open as media") and not len(broken.crops)
    shutil.copy(src, media)
    again = cached_crops(_job(media, sha, root))
    assert not again.reason and again.frames == whole.frames and np.array_equal(again.crops, whole.crops)
    stamp = cache_file(root, S, "id1").stat().st_mtime_ns
    assert cached_crops(_job(media, sha, root)).frames == whole.frames  # a hit: not made again
    assert cache_file(root, S, "id1").stat().st_mtime_ns == stamp


def test_crops_of_a_truncated_file_are_not_served_once_it_is_whole(data_dir, tmp_path):
    src = data_dir / "videos" / "talk_d20.mp4"
    media, root = tmp_path / "clip.mp4", tmp_path / "cache"
    sha, data = sha256_file(src), src.read_bytes()
    media.write_bytes(data[:len(data) // 2])  # a decoder stops half way: crops of the first frames only
    cut = cached_crops(_job(media, sha, root))
    assert not cut.reason and 0 < len(cut.crops) < 6
    assert cache_file(root, S, "id1").is_file()  # training reads its crops from there
    shutil.copy(src, media)
    whole = cached_crops(_job(media, sha, root))
    assert len(whole.crops) == 6 and whole.frames == file_crops(src, S).frames
    os.remove(media)  # cached crops of a file that is gone are not served either
    assert cached_crops(_job(media, sha, root)).reason == "unreadable: file not found"


def test_a_copy_without_its_file_times_keeps_its_cache(data_dir, tmp_path, monkeypatch):
    """Same bytes, other mtime (`cp -r`): served after one sha256 check, which the entry then remembers."""
    src = data_dir / "videos" / "talk_d20.mp4"
    media, root = tmp_path / "clip.mp4", tmp_path / "cache"
    shutil.copy(src, media)
    sha = sha256_file(src)
    first = cached_crops(_job(media, sha, root))
    cf = cache_file(root, S, "id1")
    st = media.stat()
    os.utime(media, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    calls = []
    import synthfake.detector.crops as crops

    monkeypatch.setattr(crops, "file_crops", lambda *a, real=crops.file_crops: calls.append(a) or real(*a))
    again = cached_crops(_job(media, sha, root))
    assert not calls and np.array_equal(again.crops, first.crops)  # from the cache
    with np.load(cf) as z:
        assert tuple(z["state"].tolist()) == (st.st_size, st.st_mtime_ns + 10**9) and bool(z["intact"])
