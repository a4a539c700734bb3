"""`gen slurm-script` writes an sbatch array script whose tasks are the shards of one `gen run`."""

from __future__ import annotations

import shlex

from conftest import gen


def test_slurm_script_runs_one_shard_per_array_task(tmp_path):
    script = tmp_path / "run.sbatch"
    r = gen("slurm-script", "--tasks", 64, "--time", "12:00:00", "--gpus-per-task", 1, "--script", script,
            "--", "--out", "/data/D", "--sources", "/data/S dir", "--n", 100000)
    assert r.returncode == 0, r.stderr
    text = script.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert "#SBATCH --array=0-63\n" in text and "#SBATCH --time=12:00:00\n" in text
    assert "#SBATCH --gpus-per-task=1\n" in text
    cmd = shlex.split(text.strip().splitlines()[-1])
    assert cmd == ["gen", "run", "--out", "/data/D", "--sources", "/data/S dir", "--n", "100000", "--device", "cuda",
                   "--quiet"]


def test_slurm_script_refuses_shard_flags(tmp_path):
    r = gen("slurm-script", "--tasks", 4, "--script", tmp_path / "x.sbatch", "--", "--out", "D", "--sources", "S",
            "--world-size", 4, check=False)
    assert r.returncode == 2 and "--world-size" in r.stderr and not (tmp_path / "x.sbatch").exists()
