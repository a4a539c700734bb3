"""`gen slurm-script`: the sbatch array script that runs `gen run` as one shard per array task.

The script holds the `gen run` command once, with the world size written in (`--world-size N`) and the rank
read from the task's index (`--rank "$SLURM_ARRAY_TASK_ID"`): any subset of indices resubmitted
(`sbatch --array=3 FILE`) runs the same shards of the same world. SLURM_ARRAY_TASK_COUNT is not read; it counts
the indices of this submission (1 for `--array=3`), not the shards.
"""

from __future__ import annotations

import shlex

from .errors import SynthfakeError

SHARD_FLAGS = ("--workers", "--rank", "--world-size", "--executor")  # the array decides the shards


def sbatch_script(run_args: list[str], tasks: int, job_name: str = "synthfake", time: str | None = None,
                  partition: str | None = None, gpus_per_task: int = 0, cpus_per_task: int = 2,
                  max_running: int | None = None, script: str = "synthfake.sbatch") -> str:
    """The script text: one array task per shard, each running `gen run RUN_ARGS --rank "$SLURM_ARRAY_TASK_ID"
    --world-size TASKS --quiet`; `script`: where it is written (its comment says how to resubmit it)."""
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
    # the rank is the shell's (set -u: run outside an array, the script stops naming the variable), the world the
    # script's own: SLURM_ARRAY_TASK_COUNT is 1 when one index is resubmitted
    shard = f'--rank "$SLURM_ARRAY_TASK_ID" --world-size {tasks}'
    cmd = f"{shlex.join(['gen', 'run', *run_args, *device])} {shard} --quiet"
    lines += ["set -euo pipefail",
              f"# task I runs shard I of {tasks} (I in 0-{tasks - 1}), whichever indices a submission holds: a failed",
              f"# task resumes where it stopped when resubmitted with its index, task {tasks - 1}: sbatch "
              f"--array={tasks - 1} {shlex.quote(script)}",
              "# (several: --array=0,2,4-5, indices below the world size); the dataset's other shards are not touched",
              f"{cmd}", ""]
    return "\n".join(lines)
