"""`gen export` leaves the dataset alone and leaves nothing half-written: media copied unless --link (editing a
hard-linked export in place edited the dataset), a killed export's temporary files removed when it resumes and
never marked finished beside one, the webdataset tar stream closed before its file, an invalid manifest line
skipped as `gen audit` reports it, and refusals that say what differs and what to do."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import gen
from synthfake.errors import SynthfakeError
from synthfake.export import SETTINGS, Options, run_export
from synthfake.export.folder import MARKER
from synthfake.manifest import part_files, read_records


def sha256(p: Path) -> str:
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def opts(**k) -> Options:
    return Options(show=False, log=k.pop("log", lambda m: None), **k)


@pytest.fixture
def ds(mixed_dataset, tmp_path) -> Path:
    """A copy of the mixed dataset: a test that edits an export must not reach the session's dataset."""
    out = tmp_path / "D"
    shutil.copytree(mixed_dataset, out, ignore=shutil.ignore_patterns("cache"))
    return out


def exported_media(out: Path, fmt: str, ds: Path) -> dict[Path, Path]:
    """{exported media file: the dataset's file it came from}."""
    recs = {r.id: r for r in read_records(ds)}
    if fmt == "ffpp":
        listing = json.loads((out / "names.json").read_text())
        return {out / rel: ds / recs[v["id"]].path for rel, v in listing.items()}
    return {out / r.path: ds / r.path for r in recs.values()}


# 1. copies by default, hard links only with --link

@pytest.mark.parametrize("fmt", ["ffpp", "hf"])
def test_media_is_copied_so_editing_the_export_in_place_leaves_the_dataset_intact(ds, tmp_path, fmt):
    """Before: ffpp and hf hard-linked every file, so a resize script saving over an exported frame changed the
    dataset's media and its records' sha256 no longer matched."""
    out = tmp_path / "E"
    run_export(ds, fmt, out, opts())
    files = exported_media(out, fmt, ds)
    assert files and all(p.is_file() and not os.path.samefile(p, src) for p, src in files.items())
    edited, src = next(iter(files.items()))
    with open(edited, "r+b") as fh:  # edited in place, as PIL's save or an in-place resize does
        fh.write(b"edited")
    rec = next(r for r in read_records(ds) if ds / r.path == src)
    assert sha256(src) == rec.sha256
    assert json.loads((out / SETTINGS).read_text())["link"] is False

    linked = tmp_path / "L"
    run_export(ds, fmt, linked, opts(link=True))  # opt-in: the dataset's own files under a second name
    assert all(os.path.samefile(p, s) for p, s in exported_media(linked, fmt, ds).items())
    assert json.loads((linked / SETTINGS).read_text())["link"] is True


def test_resuming_with_the_other_copy_method_is_refused_and_an_older_export_counts_as_linked(ds, tmp_path):
    out = tmp_path / "F"
    gen("export", ds, "--format", "ffpp", "--out", out, "--quiet")
    (out / MARKER).unlink()  # as if killed
    proc = gen("export", ds, "--format", "ffpp", "--out", out, "--link", check=False)
    assert proc.returncode == 2 and "holds another export (--link off there vs on now)" in proc.stderr
    settings = json.loads((out / SETTINGS).read_text())
    del settings["link"], settings["n_records"]  # a settings file written before --link: that export linked
    (out / SETTINGS).write_text(json.dumps(settings))
    proc = gen("export", ds, "--format", "ffpp", "--out", out, check=False)
    assert proc.returncode == 2 and "--link on there vs off now" in proc.stderr
    gen("export", ds, "--format", "ffpp", "--out", out, "--link", "--quiet")
    assert (out / MARKER).is_file()


# 2. a killed export's temporary files

STALE = {  # format -> temporary names a SIGKILL left (relative; {img} an ffpp image folder), as measured
    "webdataset": [".test-00002.tar.4081.tmp", ".export.json.77.tmp"],
    "hf": ["data/.test-00004-0123456789.parquet.4943.tmp", ".README.md.12.tmp", "{media}/.x.mp4.4943.tmp"],
    "ffpp": ["{img}/.0000.jpg.5118.tmp", "splits/.train.json.5118.tmp", ".names.json.5118.tmp"],
}
KEPT = [".notes.tmp", "keep.4081.tmp", ".dataset/.a.png.4081.tmp", ".x.12a.tmp", "sub/.y.4081.tmp.bak"]


@pytest.mark.parametrize("fmt", sorted(STALE))
def test_a_resumed_export_removes_the_temporary_files_a_killed_one_left(ds, tmp_path, fmt):
    """Before: `.NAME.PID.tmp` files stayed in a finished export (in ffpp inside a frames folder, which an FF++
    loader reads as a frame). Only that naming is removed; gen detect's .dataset/ view is not looked in."""
    out = tmp_path / "E"
    extra = {"shard_mb": 0.05} if fmt != "ffpp" else {}
    run_export(ds, fmt, out, opts(**extra))
    (out / MARKER).unlink()
    img = next(p for p in out.rglob("images/*") if p.is_dir()).relative_to(out) if fmt == "ffpp" else ""
    media = next(p for p in out.rglob("*.mp4")).parent.relative_to(out) if fmt == "hf" else ""
    stale = [out / s.format(img=img, media=media) for s in STALE[fmt]]
    for p in stale + [out / k for k in KEPT]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"half")
    lines = []
    run_export(ds, fmt, out, opts(log=lines.append, **extra))
    assert not [p for p in stale if p.exists()]
    assert all((out / k).read_bytes() == b"half" for k in KEPT)
    assert (out / MARKER).is_file() and any(f"removed {len(stale)} temporary file(s)" in ln for ln in lines)


def test_an_export_killed_before_its_first_rename_resumes(ds, tmp_path):
    """A folder holding only the temporary settings file of a killed export is that export, not a stranger's."""
    out = tmp_path / "W"
    out.mkdir()
    (out / f".{SETTINGS}.4081.tmp").write_text("{")
    run_export(ds, "webdataset", out, opts())
    assert (out / MARKER).is_file() and not list(out.glob(".*.tmp"))


def test_no_marker_while_a_temporary_file_is_there(ds, tmp_path, monkeypatch):
    """A temporary file that appears during the export (another export into the folder): not marked finished."""
    import synthfake.export.webdataset as wds

    export = wds.export

    def and_a_writer_beside(items, out, o, res):
        (out / ".train-00000.tar.4242.tmp").write_bytes(b"half")
        return export(items, out, o, res)

    monkeypatch.setattr(wds, "export", and_a_writer_beside)
    with pytest.raises(SynthfakeError, match="temporary file"):
        run_export(ds, "webdataset", tmp_path / "W", opts())
    assert not (tmp_path / "W" / MARKER).exists()


# 3. the webdataset tar stream closed before its file

def test_an_interrupted_webdataset_shard_closes_the_tar_stream_before_its_file(mixed_dataset, tmp_path,
                                                                              monkeypatch):
    """Before: on Ctrl-C (any error) mid-shard the file closed first and the tar stream, collected later,
    printed 'Exception ignored in: <function _Stream.__del__> ... ValueError: write to closed file'."""
    from synthfake.export.common import select
    from synthfake.export.webdataset import write_shard

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    items = list(select(mixed_dataset, False, lambda m: None)[0])[:2]
    items[1].record = items[1].record.model_copy(update={"id": "not.a.key"})  # fails after the first sample
    with pytest.raises(ValueError, match="webdataset key"):
        write_shard(tmp_path / "train-00000.tar", items)
    gc.collect()
    assert [str(u.exc_value) for u in unraisable] == []
    assert list(tmp_path.iterdir()) == []


# 4. an invalid manifest line: skipped with one line, as gen audit reports it

def test_an_invalid_manifest_line_is_skipped_with_one_line_naming_it(ds, tmp_path):
    """Before: `error: ...jsonl:3: invalid record (...)`, exit 2, nothing exported, while `gen status` called the
    dataset complete and the README said such a record is skipped."""
    from synthfake.audit.integrity import parse_manifests

    part = part_files(ds / "manifest")[0]
    lines = part.read_text().splitlines()
    rec = json.loads(lines[2])
    rec["path"] = "../outside.mp4"  # a path escaping the dataset root: fails the Record's validation
    lines[2] = json.dumps(rec, separators=(",", ":"))
    part.write_text("\n".join(lines) + "\n")
    proc = gen("export", ds, "--format", "webdataset", "--out", tmp_path / "W", "--quiet")
    where = f"manifest/{part.name}:3"
    skipped = [ln for ln in proc.stderr.splitlines() if ln.startswith("skipped")]
    assert len(skipped) == 1 and skipped[0].startswith(f"skipped {where}: invalid record (path: ")
    assert "1 skipped" in proc.stdout
    problems: dict = defaultdict(list)
    parse_manifests(ds, problems)  # gen audit's reading of the same line: the same place and reason
    assert [p.split(": ", 1) for p in problems["escaping_paths"]] == [[where, skipped[0].split("(", 1)[1][:-1]]]
    marker = json.loads((tmp_path / "W" / MARKER).read_text())
    assert marker["exported"] == len(lines) - 1 and marker["skipped"] == skipped


# 5. refusals that say what differs and what to do

def test_a_grown_dataset_is_refused_with_the_record_counts_and_what_to_do(ds, tmp_path):
    out = tmp_path / "W"
    rec = sorted(read_records(ds), key=lambda r: r.index)[0]
    n = len(read_records(ds))
    moved = tmp_path / "away.bin"
    shutil.move(ds / rec.path, moved)  # a record left out (media missing): the export holds n - 1
    gen("export", ds, "--format", "webdataset", "--out", out, "--quiet")
    shutil.move(moved, ds / rec.path)  # the dataset has n again
    proc = gen("export", ds, "--format", "webdataset", "--out", out, check=False)
    assert proc.returncode == 2
    assert f"holds another export of {n - 1} record(s); the dataset has {n} intact record(s) now" in proc.stderr
    assert "their hash is" in proc.stderr and "use a new --out, or delete" in proc.stderr

    proc = gen("export", ds, "--format", "ffpp", "--out", out, check=False)  # another format: no None
    assert proc.returncode == 2 and "(format webdataset there vs ffpp now)" in proc.stderr
    assert "None" not in proc.stderr and "embed" not in proc.stderr


def test_embed_and_link_where_they_do_nothing_are_refused(ds, tmp_path):
    for fmt in ("webdataset", "ffpp", "deepfakebench"):
        proc = gen("export", ds, "--format", fmt, "--embed", "--out", tmp_path / fmt, check=False)
        assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
            f"error: --embed: applies to --format hf only (media bytes inside its Parquet files), not {fmt}; "
            f"drop it"]
        assert not (tmp_path / fmt).exists()
    proc = gen("export", ds, "--format", "hf", "--embed", "--link", "--out", tmp_path / "h", check=False)
    assert proc.returncode == 2 and "--link: applies to" in proc.stderr and not (tmp_path / "h").exists()
