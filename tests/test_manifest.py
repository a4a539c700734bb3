"""Records: schema, paths that escape the dataset root, torn-line repair."""

from __future__ import annotations

import json

import pytest

from synthfake.errors import ManifestError
from synthfake.manifest import Record, read_records, repair_torn_tail, resolve


def _record(path="media/train/face_swap/abc.png", **kw) -> dict:
    r = dict(id="abc", index=0, type="face_swap", label=1, backend="landmark_swap", backend_version="1", weights={},
             params={}, seed=1, sources=[], identities=[], path=path, sha256="0" * 64, bytes=10,
             media=dict(kind="image", width=2, height=2, frames=1, fps=0.0, duration=0.0, codec="png", audio=False),
             manipulated_frames=1, split="train", rank=0, world_size=1, host="h", elapsed_s=0.1, created="t")
    r.update(kw)
    return r


@pytest.mark.parametrize("bad", ["../outside.png", "/etc/passwd", "media/../../x.png", "~/x.png", "a\\..\\b.png", ""])
def test_paths_escaping_the_root_are_rejected_on_read(tmp_path, bad):
    (tmp_path / "manifest").mkdir()
    f = tmp_path / "manifest" / "part-00000-of-00001.jsonl"
    f.write_text(json.dumps(_record()) + "\n" + json.dumps(_record(path=bad, id="x2", index=1)) + "\n")
    with pytest.raises(ManifestError) as e:
        read_records(tmp_path)
    assert f"{f}:2" in str(e.value) and "escapes" in str(e.value)


def test_symlink_escape_is_rejected_on_resolve(tmp_path):
    (tmp_path / "ds" / "media").mkdir(parents=True)
    (tmp_path / "secret.png").write_bytes(b"x")
    (tmp_path / "ds" / "media" / "link.png").symlink_to(tmp_path / "secret.png")
    rec = Record.model_validate(_record(path="media/link.png"))
    with pytest.raises(ManifestError):
        resolve(tmp_path / "ds", rec)


def test_torn_last_line_is_cut_and_complete_lines_kept(tmp_path):
    f = tmp_path / "m.jsonl"
    good = json.dumps(_record()) + "\n"
    f.write_text(good + good[:57])
    assert repair_torn_tail(f) == 57
    assert f.read_text() == good
    f.write_text(good + '{"id": "half"\n')  # a complete line that is not JSON (torn then newline)
    repair_torn_tail(f)
    assert f.read_text() == good
    assert repair_torn_tail(f) == 0
    f.write_text(good + good[:-1])  # a whole last record without its newline: kept, the newline added
    assert repair_torn_tail(f) == 0 and f.read_text() == good + good


def test_unknown_fields_and_bad_types_fail_validation(tmp_path):
    (tmp_path / "manifest").mkdir()
    f = tmp_path / "manifest" / "part-00000-of-00001.jsonl"
    f.write_text(json.dumps(_record(label=3)) + "\n")
    with pytest.raises(ManifestError, match="label"):
        read_records(tmp_path)
