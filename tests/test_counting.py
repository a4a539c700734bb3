"""Every reader counts each planned index once (issue 30, counting): a duplicated manifest line, a record whose
id was altered, an export of an unfinished dataset, and a shard that must not read other shards' parts. The
datasets are synthetic (tests/synthetic_dataset.py: tiny files, records written as workers write them), so no
sample is generated."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import gen
from synthetic_dataset import append_line, lines_of, plan_dataset, write_records, write_sources

N = 4  # fakes; as many reals: 8 planned


@pytest.fixture
def made(tmp_path) -> tuple[Path, Path, list[str]]:
    """A finished synthetic dataset of 8 samples over 2 part files, and the `gen run` arguments that made it."""
    sources, out = tmp_path / "S", tmp_path / "D"
    index = write_sources(sources, files=24, people=8)
    ds = plan_dataset(out, sources, index, N, N)
    write_records(ds, world=2)
    return out, sources, ["--sources", str(sources), "--out", str(out), "--n", str(N), "--reals", str(N), "--quiet"]


def _status(out: Path) -> dict:
    return json.loads(gen("status", out, "--json").stdout)


def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for d in ("manifest", "failures") if (out / d).is_dir()
            for p in sorted((out / d).glob("part-*"))}


def test_a_duplicated_line_is_counted_once_by_every_reader(made, tmp_path):
    out, _, args = made
    part, _, rec = lines_of_first(out)
    append_line(part, rec)  # the same record twice (a copy-paste, a re-sent line)
    st = _status(out)
    assert st["total"] == {"planned": 8, "done": 8, "failed": 0, "left": 0}, st["total"]
    assert st["not_counted"]["duplicate_records"] == 1 and any("second record" in n for n in st["notes"])
    text = gen("status", out).stdout
    assert "second record" in text
    run = gen("run", *args, "--workers", 2)
    assert "all 8 samples are done (8)" in run.stderr and "duplicate" in run.stderr, run.stderr
    hf = gen("export", out, "--format", "hf", "--out", tmp_path / "hf", "--quiet")
    assert "8 record(s) as hf" in " ".join(hf.stdout.split()) and "second record of index" in hf.stderr
    import pyarrow.parquet as pq

    rows = sum(pq.read_table(p).num_rows for p in (tmp_path / "hf" / "data").glob("*.parquet"))
    assert rows == 8
    from synthfake.detector.evaluate import split_records

    assert sum(len(split_records(out, s)) for s in ("train", "val", "test")) == 8


def lines_of_first(out: Path):
    from synthfake.dataset import Dataset

    return lines_of(Dataset.open(out))[0]


def test_a_record_whose_id_was_altered_holds_its_index_and_is_named(made):
    out, _, args = made
    part = sorted((out / "manifest").glob("part-*.jsonl"))[0]
    lines = part.read_text().splitlines()
    rec = json.loads(lines[0])
    rec["id"] = "0123456789abcdef"
    lines[0] = json.dumps(rec, separators=(",", ":"))
    part.write_text("\n".join(lines) + "\n")
    before = _snapshot(out)
    run = gen("run", *args, check=False)
    assert run.returncode == 0, run.stderr
    assert _snapshot(out) == before  # no second record (nor a failure) for a held index
    assert "0123456789abcdef" in run.stderr and "not this plan's" in run.stderr
    st = _status(out)
    assert st["total"]["done"] == 7 and st["total"]["foreign"] == 1 and st["total"]["left"] == 0
    assert st["not_counted"]["foreign_records"] == 1


def test_export_of_an_unfinished_dataset_names_what_is_missing_and_needs_partial(tmp_path):
    sources, out = tmp_path / "S", tmp_path / "D"
    ds = plan_dataset(out, sources, write_sources(sources, files=24, people=8), N, N)
    write_records(ds, world=1, upto=5)
    proc = gen("export", out, "--format", "webdataset", "--out", tmp_path / "wds", "--quiet", check=False)
    assert proc.returncode == 2 and "3 of 8 planned samples are not made yet" in proc.stderr, proc.stderr
    assert "--partial" in proc.stderr and not (tmp_path / "wds").exists()
    ok = gen("export", out, "--format", "webdataset", "--out", tmp_path / "wds", "--quiet", "--partial")
    assert "5 record(s)" in " ".join(ok.stdout.split()) and "3 not made yet" in ok.stderr


def test_a_garbage_line_mid_manifest_is_refused_by_name_and_skipped_with_partial(made, tmp_path):
    """A line that is not JSON with an id and an index (garbage, a line torn in the middle) made `gen export`
    refuse even with --partial, which is there to export what can be read (7 Dec sweep)."""
    out, _, _ = made
    part = sorted((out / "manifest").glob("part-*.jsonl"))[0]
    lines = part.read_text().splitlines()
    lines.insert(1, "this is garbage")
    part.write_text("\n".join(lines) + "\n")
    proc = gen("export", out, "--format", "webdataset", "--out", tmp_path / "wds", "--quiet", check=False)
    assert proc.returncode == 2 and f"{part.name}:2: invalid line" in proc.stderr and "--partial" in proc.stderr
    assert not (tmp_path / "wds").exists()
    ok = gen("export", out, "--format", "webdataset", "--out", tmp_path / "wds", "--quiet", "--partial")
    assert "8 record(s)" in " ".join(ok.stdout.split()) and f"{part.name}:2" in ok.stderr, ok.stderr


def test_export_of_a_dataset_whose_every_sample_failed_says_so(tmp_path):
    """It said 'is this a dataset made by gen run?' (7 Dec sweep)."""
    sources, out = tmp_path / "S", tmp_path / "D"
    plan_dataset(out, sources, write_sources(sources, files=24, people=8), N, N)
    (out / "failures").mkdir(exist_ok=True)
    failure = {"id": "0123456789abcdef", "index": 0, "type": "real", "backend": "reencode", "split": "train",
               "sources": [], "reason": "no face", "attempts": 1, "rank": 0, "world_size": 1, "host": "h",
               "created": "2026-12-07T00:00:00Z"}
    (out / "failures" / "part-00000-of-00001.jsonl").write_text(json.dumps(failure) + "\n")
    proc = gen("export", out, "--format", "webdataset", "--out", tmp_path / "wds", "--partial", check=False)
    assert proc.returncode == 2 and "every sample so far failed (1 in failures/" in proc.stderr, proc.stderr


def test_a_shard_reads_only_the_parts_that_can_hold_its_indices(made):
    """Shard 0 of 2 (and a re-partition to 4) never opens part 1 of 2: a broken or huge neighbour part costs
    nothing; a record that sits in another world size's part (after a re-partition) is still found."""
    out, _, _ = made
    from synthfake.dataset import Dataset

    ds = Dataset.open(out)
    other = out / "manifest" / "part-00001-of-00002.jsonl"
    kept = other.read_bytes()
    other.write_bytes(b"not json\n" * 3)
    assert len(ds.todo(0, 2)) == 0 and len(ds.todo(2, 4)) == 0  # part 1 of 2 holds only odd indices
    with pytest.raises(Exception, match="part-00001-of-00002.jsonl:1"):
        ds.todo(1, 2)
    other.write_bytes(kept)
    moved = out / "manifest" / "part-00000-of-00004.jsonl"  # index 4's record written by world size 4
    lines = (out / "manifest" / "part-00000-of-00002.jsonl").read_text().splitlines()
    four = [ln for ln in lines if json.loads(ln)["index"] == 4]
    (out / "manifest" / "part-00000-of-00002.jsonl").write_text("\n".join(ln for ln in lines if ln not in four) + "\n")
    moved.write_text("\n".join(four) + "\n")
    assert list(ds.todo(0, 2)) == [] and list(ds.todo(0, 4)) == []
    shutil.rmtree(out / "manifest")
    assert list(ds.todo(0, 4)) == [0, 4]


def test_a_rerun_with_nothing_to_do_leaves_the_claim_as_it_was(made):
    """A finished dataset written by `--workers 2`, run again with another world size and nothing to do (a plain
    `gen run`, `--rank 0 --world-size 3`): claim.json was rewritten to the new world size, so `gen status` showed
    the shard table of a partition that never wrote. Now claim.json keeps naming 2. A shard of another world
    size with work left still claims (a shard of it with nothing left does not), as before."""
    from synthfake.dataset import Dataset
    from synthfake.run_config import RunSettings
    from synthfake.runner import Shard

    out, _, args = made
    Dataset.open(out).claim(2).close()  # as the --workers 2 run that wrote the parts leaves it
    claim = out / "manifest" / "claim.json"
    before = claim.read_bytes()
    for extra in ((), ("--rank", "0", "--world-size", "3"), ("--workers", "3"), ("--retry-failed",)):
        gen("run", *args, *extra)  # exit 0
        assert claim.read_bytes() == before, extra
        st = _status(out)
        assert st["world_size"] == 2 and set(st["shards"]) == {"0/2", "1/2"}, (extra, st["shards"])
    part = out / "manifest" / "part-00001-of-00002.jsonl"  # index 3's record lost: shard 0 of 3 has work
    part.write_text("".join(ln + "\n" for ln in part.read_text().splitlines() if json.loads(ln)["index"] != 3))
    quiet = RunSettings(show_progress=False)
    Shard(out, quiet, 1, 3).run(limit=0)  # nothing left in shard 1 of 3: no claim
    assert claim.read_bytes() == before
    Shard(out, quiet, 0, 3).run(limit=0)  # work left (none made here): world size 3 claims, as before
    assert json.loads(claim.read_text())["world_size"] == 3
    st = _status(out)
    assert st["world_size"] == 3 and st["other_world_sizes"] == [2] and st["shards"]["0/3"]["left"] == 1


def test_status_after_a_change_of_world_size_counts_the_shards_of_the_current_one_by_index(tmp_path):
    """Shard 0 of 2 ran (indices 0 2 4 6), then the run was resumed as shard 0 of 3 (it made 3; 0 and 6 were
    held). `gen status` lists the shards of world size 3 only, each with the recorded indices it owns (i % 3),
    whichever part holds them, and left = what a run of that shard would make. It listed every world size with
    a part on disk: shard 1 of 2, which never ran, showed as partly done, and the shard table counted every
    sample twice."""
    sources, out = tmp_path / "S", tmp_path / "D"
    ds = plan_dataset(out, sources, write_sources(sources, files=24, people=8), N, N)  # 8 planned
    write_records(ds, world=2)
    old = out / "manifest" / "part-00001-of-00002.jsonl"  # shard 1 of 2 never ran: index 3 moves to 0 of 3
    rec = next(json.loads(ln) for ln in old.read_text().splitlines() if json.loads(ln)["index"] == 3)
    old.unlink()
    ds.claim(3).close()  # written by shard 0 of 3
    new = out / "manifest" / "part-00000-of-00003.jsonl"
    append_line(new, {**rec, "rank": 0, "world_size": 3})
    st = _status(out)
    assert st["total"] == {"planned": 8, "done": 5, "failed": 0, "left": 3}, st["total"]
    assert st["shards"] == {"0/3": {"planned": 3, "done": 3, "failed": 0, "left": 0},
                            "1/3": {"planned": 3, "done": 1, "failed": 0, "left": 2},  # 4, by shard 0 of 2
                            "2/3": {"planned": 2, "done": 1, "failed": 0, "left": 1}}, st["shards"]
    assert st["world_size"] == 3 and st["other_world_sizes"] == [2]
    assert [st["shards"][f"{r}/3"]["left"] for r in range(3)] == [len(ds.todo(r, 3)) for r in range(3)]
    text = " ".join(gen("status", out).stdout.split())
    assert "shards of world size 3" in text and "0/2" not in text and "1/2" not in text
    assert "parts of world size 2 on disk too" in text
    (out / "manifest" / "claim.json").unlink()  # no claim (a copied dataset): the newest part's world size
    os.utime(new, (new.stat().st_mtime + 10,) * 2)
    assert _status(out)["world_size"] == 3


def test_status_of_many_shards_shows_those_with_work_and_one_row_for_the_rest():
    """`--rank 0 --world-size 100000` made, then `gen status`: 100,016 lines in 52 s, one row per untouched shard
    (7 Dec sweep). Past 64 shards those with nothing made or failed are one row; `--json` keeps every shard."""
    from synthfake.status import status_tables

    shards = {f"{r}/100": {"planned": 3, "done": 3 if r in (0, 7) else 0, "failed": 1 if r == 9 else 0,
                           "left": 0 if r in (0, 7) else 3 - (r == 9)} for r in range(100)}
    st = {"dataset": "D", "plan": "p", "world_size": 100, "types": {}, "shards": shards,
          "total": {"planned": 300, "done": 6, "failed": 1, "left": 293}}
    table = status_tables(st)[1]
    assert table.row_count == 4  # 0/100, 7/100, 9/100 and "97 more"
    assert [c for c in table.columns[0].cells][-1] == "97 more" and list(table.columns[4].cells)[-1] == str(97 * 3)
