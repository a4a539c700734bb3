"""`gen slurm-script` writes an sbatch array script whose tasks are the shards of one `gen run`."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import gen
from typer.testing import CliRunner

from synthfake.cli import app
from synthfake.errors import SynthfakeError
from synthfake.run_config import ENV_WORLD, world_from_env

SHARD = ["--rank", "$SLURM_ARRAY_TASK_ID", "--world-size"]


def _errors(*args) -> tuple[int, list[str]]:
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, [ln for ln in res.output.splitlines() if ln.startswith("error:")]


def test_slurm_script_runs_one_shard_per_array_task(tmp_path):
    script, src = tmp_path / "my run.sbatch", tmp_path / "S dir"
    src.mkdir()
    r = gen("slurm-script", "--tasks", 64, "--time", "12:00:00", "--gpus-per-task", 1, "--script", script,
            "--", "--out", tmp_path / "D", "--sources", src, "--n", 100000)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"wrote {script}: sbatch {shlex.quote(str(script))}\n"  # the command copies whole
    text = script.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert "#SBATCH --array=0-63\n" in text and "#SBATCH --time=12:00:00\n" in text
    assert "#SBATCH --gpus-per-task=1\n" in text
    cmd = shlex.split(text.strip().splitlines()[-1])
    assert cmd == ["gen", "run", "--out", str(tmp_path / "D"), "--sources", str(src), "--n", "100000", "--device",
                   "cuda", *SHARD, "64", "--quiet"]


def test_slurm_script_refuses_shard_flags(tmp_path):
    r = gen("slurm-script", "--tasks", 4, "--script", tmp_path / "x.sbatch", "--", "--out", "D", "--sources", "S",
            "--world-size", 4, check=False)
    assert r.returncode == 2 and "--world-size" in r.stderr and not (tmp_path / "x.sbatch").exists()


def test_one_resubmitted_task_runs_its_own_shard_of_the_whole_world(data_dir, tmp_path):
    """`sbatch --array=3 FILE` (what the script's comment says to do for a failed task) gives the task
    SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=1: it ran as world size 1 and stopped on `rank 3 / world size 1`
    (exit 2) every time; `--array=0-1` would have made shards of another world. The script carries its world
    size: task 3 makes shard 3 of 4 whatever the submission holds."""
    src = tmp_path / "P"
    src.mkdir()
    for name in ("photo_s1.jpg", "photo_s12.jpg", "photo_s42.jpg"):
        shutil.copy(data_dir / "faces" / name, src)
    script, out = tmp_path / "job.sbatch", tmp_path / "D"
    gen("slurm-script", "--tasks", 4, "--script", script, "--", "--out", out, "--sources", src, "--type",
        "face_swap", "--n", 4, "--reals", 0, "--splits", "train=1,val=0,test=0")
    assert f"sbatch --array=3 {script}\n" in script.read_text()  # how to resubmit, said exactly
    env = {k: v for k, v in os.environ.items() if k not in {v for pair in ENV_WORLD for v in pair}}
    env.update(SLURM_ARRAY_TASK_ID="3", SLURM_ARRAY_TASK_COUNT="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")  # the venv's `gen`
    proc = subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shards = json.loads(gen("status", out, "--json").stdout)
    assert sorted(n for n in os.listdir(out / "manifest") if n.startswith("part-")) == [
        "part-00003-of-00004.jsonl", "part-00003-of-00004.software.json"]  # shard 3's part, and what wrote it
    assert shards["total"]["done"] + shards["total"]["failed"] == 1 and shards["total"]["left"] == 3, shards
    # outside an array the script stops on the missing index instead of running shard 0 for every task
    del env["SLURM_ARRAY_TASK_ID"]
    proc = subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode != 0 and "SLURM_ARRAY_TASK_ID" in proc.stderr, proc.stderr


@pytest.mark.parametrize("flags,env,expected", [
    ((None, 8), {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "1"}, (3, 8)),  # --array=3 resubmitted
    ((None, 8), {"SLURM_ARRAY_TASK_ID": "3"}, (3, 8)),
    ((None, 8), {"RANK": "5", "WORLD_SIZE": "6"}, (5, 8)),
    ((2, None), {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, (2, 4)),
    ((None, 8), {}, (0, 8)),
    ((1, 2), {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "8"}, (1, 2)),
    ((None, None), {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "8"}, (3, 8)),
])
def test_a_world_size_flag_wins_over_the_environment_the_rank_still_read(monkeypatch, flags, env, expected):
    """A script of one's own that writes `gen run --world-size 8` in an array: every task took rank 0 (the
    flags replaced the environment whole), and the environment's count never gave way to the flag."""
    for pair in ENV_WORLD:
        for k in pair:
            monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert world_from_env(*flags) == expected


def test_a_bad_mixed_shard_names_where_each_half_came_from(monkeypatch):
    for pair in ENV_WORLD:
        for k in pair:
            monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "9")
    with pytest.raises(SynthfakeError, match=r"^\$SLURM_ARRAY_TASK_ID/--world-size: rank 9 / world size 4"):
        world_from_env(None, 4)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "x")
    with pytest.raises(SynthfakeError, match=r"^\$SLURM_ARRAY_TASK_ID='x': expected whole numbers"):
        world_from_env(None, 4)


def test_a_script_whose_every_task_would_fail_is_not_written(tmp_path):
    """Only the parser's errors were caught: `--recipe nope`, --out inside --sources, a missing --sources, an
    unknown backend or backend option each wrote the script (exit 0) and every task then failed alike. Each is
    refused now with the line gen run prints for it, exit 2, nothing written."""
    src, out, script = tmp_path / "S", tmp_path / "D", tmp_path / "job.sbatch"
    src.mkdir()
    base = {"--out": out, "--sources": src}
    cases = [{"--recipe": "nope"}, {"--out": src / "o"}, {"--sources": tmp_path / "nonexist"},
             {"--backend": "face_swap=bogus"}, {"--backend-opt": "foo.bar=1"}, {"--type": "bogus"},
             {"--recipe": "only_face_swap", "--backend": "face_swap=bogus"},
             {"--splits": "train=0.5"}, {"--degrade": "jpeg:nope=1"}]
    for case in cases:
        args = [x for k, v in {**base, **case}.items() for x in (k, v)]
        code, lines = _errors("slurm-script", "--tasks", 4, "--script", script, "--", *args)
        run_code, run_lines = _errors("run", *args)  # refused before its scan: nothing to scan or write
        assert code == 2 and len(lines) == 1 and lines[0] == run_lines[0] and run_code == 2, (case, lines, run_lines)
        assert not script.exists() and not out.exists() and not (src / "o").exists(), case
    # a backend of another type: gen run says so once the backend is ready; here its name is enough
    code, lines = _errors("slurm-script", "--tasks", 4, "--script", script, "--", "--out", out, "--sources", src,
                          "--backend", "face_swap=wav2lip")
    assert (code, lines) == (2, ["error: face_swap: backend 'wav2lip' makes lip_sync, not face_swap"])
    assert not script.exists()


def test_what_only_a_compute_node_can_say_is_left_to_it(tmp_path, monkeypatch):
    """Readiness depends on the node (weights, extras, API keys, GPUs): a backend not ready where the script is
    written does not stop it."""
    src = tmp_path / "S"
    src.mkdir()
    monkeypatch.delenv("BFL_API_KEY", raising=False)
    code, lines = _errors("slurm-script", "--tasks", 2, "--script", tmp_path / "j.sbatch", "--", "--out",
                          tmp_path / "D", "--sources", src, "--type", "generation", "--backend",
                          "generation=http_t2i", "--weights-dir", tmp_path)
    assert (code, lines) == (0, []) and (tmp_path / "j.sbatch").exists()


def test_a_job_name_with_a_space_is_refused_and_the_resubmit_example_is_a_task_of_the_world(tmp_path):
    """`--job-name 'a b'` (or a newline) was written into its #SBATCH line as it was; the comment's example was
    always task 3, a task a 2-task script does not have (7 Dec sweep)."""
    run = ("--", "--out", tmp_path / "D", "--sources", tmp_path)
    proc = gen("slurm-script", "--tasks", 2, "--script", tmp_path / "a.sbatch", "--job-name", "a b", *run, check=False)
    assert proc.returncode == 2 and "--job-name 'a b': letters, digits" in proc.stderr
    assert not (tmp_path / "a.sbatch").exists()
