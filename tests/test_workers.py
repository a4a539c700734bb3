"""Shards: two local workers, rank/world from Slurm and torchrun variables, readiness checked before any work."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from synthfake.errors import SynthfakeError
from synthfake.manifest import read_records
from synthfake.run_config import world_from_env

from conftest import gen


def test_two_workers_record_their_ranks(photo_sources, tmp_path):
    out = tmp_path / "D"
    gen("run", "--type", "face_swap", "--n", 40, "--reals", 0, "--workers", 2, "--sources", photo_sources,
        "--out", out, "--quiet")
    recs = read_records(out)
    assert sorted(r.index for r in recs) == list(range(40))
    assert all(r.rank == r.index % 2 and r.world_size == 2 for r in recs)
    assert Counter(r.rank for r in recs) == {0: 20, 1: 20}
    assert sorted(p.name for p in (out / "manifest").glob("*.jsonl")) == [
        "part-00000-of-00002.jsonl", "part-00001-of-00002.jsonl"]
    st = json.loads(gen("status", out, "--json").stdout)
    assert st["shards"]["0/2"] == {"planned": 20, "done": 20, "failed": 0, "left": 0}


def test_backend_not_ready_fails_before_any_work(photo_sources, tmp_path):
    out = tmp_path / "D"
    proc = gen("run", "--n", 10, "--backend", "face_swap=no_such_backend", "--backend", "generation=reencode",
               "--sources", photo_sources, "--out", out, check=False)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    print("\n" + "\n".join(lines))
    assert proc.returncode == 2
    assert any(line.startswith("error: face_swap: backend 'no_such_backend': unknown") for line in lines)
    assert any(line.startswith("error: generation: backend 'reencode' makes real, not generation") for line in lines)
    assert not out.exists()  # nothing written


def test_another_plan_into_the_same_dataset_is_refused(photo_sources, tmp_path):
    out = tmp_path / "D"
    gen("run", "--type", "face_swap", "--n", 2, "--reals", 0, "--sources", photo_sources, "--out", out, "--quiet")
    proc = gen("run", "--type", "face_swap", "--n", 3, "--reals", 0, "--sources", photo_sources, "--out", out,
               check=False)
    assert proc.returncode == 2
    assert "holds another plan (n: 2 in plan.json vs 3 now" in proc.stderr
    assert len(read_records(out)) == 2


@pytest.mark.parametrize("env,expected", [
    ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "8"}, (3, 8)),
    ({"SLURM_PROCID": "1", "SLURM_NTASKS": "4"}, (1, 4)),
    ({"RANK": "2", "WORLD_SIZE": "3"}, (2, 3)),
    ({}, (0, 1)),
    # torchrun under sbatch: its processes inherit SLURM_PROCID=0 / SLURM_NTASKS=1 and all ran as shard 0 of 1
    ({"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3"}, (3, 8)),
    ({"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "RANK": "5", "WORLD_SIZE": "8", "TORCHELASTIC_RUN_ID": "x"}, (5, 8)),
    ({"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "RANK": "5", "WORLD_SIZE": "8"}, (1, 2)),  # not torchrun's
])
def test_world_from_environment(monkeypatch, env, expected):
    for k in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_PROCID", "SLURM_NTASKS", "RANK", "WORLD_SIZE",
              "LOCAL_RANK", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert world_from_env(None, None) == expected
    assert world_from_env(1, 2) == (1, 2)  # flags win


def test_torchrun_inside_an_array_task_is_refused(monkeypatch):
    for k, v in {"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4", "RANK": "1", "WORLD_SIZE": "8",
                 "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SynthfakeError, match="SLURM_ARRAY_TASK_ID and torchrun's .RANK are both set"):
        world_from_env(None, None)


def test_bad_rank_is_a_usage_error():
    with pytest.raises(SynthfakeError):
        world_from_env(2, 2)


def test_plan_written_by_an_older_version_keeps_its_ids(photo_sources, tmp_path):
    """A plan.json without a field added later still resumes: ids come from the JSON as written."""
    from synthfake.files import canonical_hash
    from synthfake.sample_spec import sample_id

    out = tmp_path / "D"
    args = ["run", "--type", "face_swap", "--n", 3, "--reals", 0, "--sources", photo_sources, "--out", out, "--quiet"]
    gen(*args)
    written = json.loads((out / "plan.json").read_text())
    del written["degrade"]  # as an older synthfake wrote it
    (out / "plan.json").write_text(json.dumps(written))
    for p in (out / "manifest").glob("*.jsonl"):
        p.unlink()
    gen(*args)
    assert sorted(r.id for r in read_records(out)) == sorted(sample_id(canonical_hash(written), i) for i in range(3))
    assert "nothing to do" in gen(*args[:-1]).stderr
