"""`gen slurm-script`: the sbatch array script that runs `gen run` as one shard per array task.

Each task finds its shard in SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (runner.world_from_env), so the
script holds the `gen run` command once and nothing per task.
"""

from __future__ import annotations

import shlex

from .errors import SynthfakeError

SHARD_FLAGS = ("--workers", "--rank", "--world-size", "--executor")  # the array decides the shards


def sbatch_script(run_args: list[str], tasks: int, job_name: str = "synthfake", time: str | None = None,
                  partition: str | None = None, gpus_per_task: int = 0, cpus_per_task: int = 2,
                  max_running: int | None = None) -> str:
    """The script text: one array task per shard, each running `gen run RUN_ARGS --quiet`."""
    if tasks < 1:
        raise SynthfakeError(f"--tasks {tasks}: need at least one array task")
    clash = [a for a in run_args if a.split("=")[0] in SHARD_FLAGS]
    if clash:
        raise SynthfakeError(f"{' '.join(clash)}: the array sets rank and world size; leave these out")
    if not {"--out", "--sources"} <= {a.split("=")[0] for a in run_args}:
        raise SynthfakeError("gen run needs --out DATASET and --sources DIR after `--`")
    array = f"0-{tasks - 1}" + (f"%{max_running}" if max_running else "")
    lines = ["#!/bin/bash", f"#SBATCH --job-name={job_name}", f"#SBATCH --array={array}",
             f"#SBATCH --cpus-per-task={cpus_per_task}", "#SBATCH --output=%x-%A_%a.out"]  # in the submit folder
    lines += [f"#SBATCH --time={time}"] if time else []
    lines += [f"#SBATCH --partition={partition}"] if partition else []
    lines += [f"#SBATCH --gpus-per-task={gpus_per_task}"] if gpus_per_task else []
    device = ["--device", "cuda"] if gpus_per_task and "--device" not in run_args else []
    cmd = shlex.join(["gen", "run", *run_args, *device, "--quiet"])
    lines += ["set -euo pipefail",
              "# shard SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT; a failed task is resumed by resubmitting it",
              f"{cmd}", ""]
    return "\n".join(lines)
