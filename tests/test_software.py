"""Which software wrote a shard's samples: kept beside its manifest part, a resume under other versions says so
and adds the new set, and a software file that cannot be read stops the shard before it writes anything."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import gen

from synthfake import software
from synthfake.manifest import read_records

SWAP = ("--type", "face_swap", "--reals", "0", "--splits", "train=1,val=0,test=0", "--n", "2", "--quiet")


@pytest.fixture()
def made(data_dir, tmp_path):
    src = tmp_path / "S"
    shutil.copytree(data_dir / "faces", src)
    ds = tmp_path / "D"
    gen("run", *SWAP, "--sources", src, "--out", ds)
    return src, ds


def part_files(ds):
    return ds / "manifest" / "part-00000-of-00001.jsonl", ds / "manifest" / "part-00000-of-00001.software.json"


def test_a_part_keeps_the_versions_that_wrote_it_and_a_resume_under_others_says_what_changed(made):
    src, ds = made
    manifest, soft = part_files(ds)
    sets = json.loads(soft.read_text())
    now = software.current()
    assert len(sets) == 1 and {k: v for k, v in sets[0].items() if k != "since"} == now
    assert now["av"] and now["ffmpeg"] and now["opencv"] and now["numpy"]

    # a kill lost the last record; the machine was upgraded since
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:-1]))
    soft.write_text(json.dumps([{**sets[0], "av": "0.0.1"}]))
    proc = gen("run", *SWAP, "--sources", src, "--out", ds)
    said = [ln for ln in proc.stderr.splitlines() if "other software" in ln]
    assert len(said) == 1 and f"av 0.0.1 -> {now['av']}" in said[0] and "part-00000-of-00001.jsonl" in said[0]
    sets = json.loads(soft.read_text())
    assert [s["av"] for s in sets] == ["0.0.1", now["av"]]
    assert software.sets_of(ds) == [{**now, "av": "0.0.1"}, now]  # what an export's card lists
    assert len(read_records(ds)) == 2

    # nothing left to make: nothing said, nothing added
    proc = gen("run", *SWAP, "--sources", src, "--out", ds)
    assert "other software" not in proc.stderr and len(json.loads(soft.read_text())) == 2


def test_a_software_file_that_cannot_be_read_stops_the_shard_before_it_writes(made):
    src, ds = made
    manifest, soft = part_files(ds)
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:-1]))
    kept = manifest.read_bytes()
    soft.write_text('{"av": "18"')  # cut
    proc = gen("run", *SWAP, "--sources", src, "--out", ds, check=False)
    assert proc.returncode != 0
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and str(soft) in errors[0] and "corrupt JSON" in errors[0], proc.stderr[-1500:]
    assert manifest.read_bytes() == kept and soft.read_text() == '{"av": "18"'
    soft.write_text('{"av": "18"}')  # JSON, but not a list of sets
    proc = gen("run", *SWAP, "--sources", src, "--out", ds, check=False)
    assert proc.returncode != 0 and "not a list of software sets" in proc.stderr and manifest.read_bytes() == kept


def test_a_part_begun_before_software_was_noted_says_its_first_samples_are_unrecorded(made):
    src, ds = made
    manifest, soft = part_files(ds)
    soft.unlink()
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:-1]))
    proc = gen("run", *SWAP, "--sources", src, "--out", ds)
    assert "other software" not in proc.stderr
    sets = json.loads(soft.read_text())
    assert sets[0] == {"unrecorded": software.UNRECORDED} and sets[1]["av"] == software.current()["av"]


def test_changed_names_each_version_that_differs_and_one_only_one_side_has():
    before = {"av": "17", "numpy": "2.0", "gone": "1", "since": "then"}
    now = {"av": "18", "numpy": "2.0", "new": "3"}
    assert software.changed(before, now) == ["av 17 -> 18", "new - -> 3", "gone 1 -> -"]
