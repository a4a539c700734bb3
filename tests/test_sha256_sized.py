"""`files.sha256_sized`, the audit's one-read hash of a small file: the same digest as the buffered loop whatever
the file holds by the time it is read (as its stat said, grown or cut since), and None where it cannot be read."""

from __future__ import annotations

import hashlib

from synthfake.files import sha256_file, sha256_or_none, sha256_sized


def test_one_read_gives_the_whole_file_s_digest_even_when_the_size_is_stale(tmp_path):
    p = tmp_path / "a.bin"
    data = bytes(range(23)) * 7
    p.write_bytes(data)
    whole = hashlib.sha256(data).hexdigest()
    assert sha256_file(p) == whole
    assert sha256_sized(p, len(data)) == whole  # as its stat said
    assert sha256_sized(p, 10) == whole  # grown since its stat: not hashed short
    assert sha256_sized(p, 4096) == whole  # cut since its stat
    p.write_bytes(b"")
    assert sha256_sized(p, 0) == hashlib.sha256(b"").hexdigest()


def test_what_cannot_be_read_is_none(tmp_path):
    assert sha256_or_none(tmp_path / "gone.jpg", 12) is None
    assert sha256_or_none(tmp_path, 12) is None  # a folder
    assert sha256_or_none(tmp_path / "gone.jpg") is None
