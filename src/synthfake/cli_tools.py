"""The `gen backends`, `gen slurm-script` and `gen export` commands, registered by cli.py via register(app)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from . import generators as registry
from .cli_common import err, one_line_errors, out
from .cli_run import WEIGHTS_HELP


@one_line_errors
def backends(weights_dir: Optional[Path] = typer.Option(None, "--weights-dir", help=WEIGHTS_HELP)):
    """Every backend: ready, or why not (missing extra or weights file); the reasons, with their install hints,
    URLs and paths whole, go below the table so they can be copied."""
    ctx = registry.Context(cache_dir=Path("."), weights_dir=weights_dir)
    t = Table(title="backends")
    for c in ("backend", "type", "status"):
        t.add_column(c, overflow="fold")
    reasons = []
    for name in sorted(registry.BACKENDS):
        try:
            mod = registry.get(name)
            typ, why = mod.TYPE, mod.ready(ctx)
        except ImportError as e:
            typ, why = "?", f"missing dependency ({e.name}); install the extra it needs"
        t.add_row(escape(name), escape(typ), "[green]ready[/]" if why is None else "[red]not ready[/] (below)")
        if why is not None:
            reasons.append(f"{name}: {why}")
    out.print(t)
    for line in reasons:  # plain text: no markup parsing ([models] stays), no cropping
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@one_line_errors
def slurm_script(
    run_args: List[str] = typer.Argument(..., help="`gen run` options after `--` (--out, --sources, --n ...)."),
    tasks: int = typer.Option(..., "--tasks", min=1, help="Array tasks = shards (the world size)."),
    script: Path = typer.Option(Path("synthfake.sbatch"), "--script", help="Where to write the script."),
    job_name: str = typer.Option("synthfake", "--job-name", help="Slurm job name."),
    time: Optional[str] = typer.Option(None, "--time", help="Slurm time limit per task, e.g. 12:00:00."),
    partition: Optional[str] = typer.Option(None, "--partition", help="Slurm partition."),
    gpus_per_task: int = typer.Option(0, "--gpus-per-task", min=0, help="With GPUs, tasks run --device cuda."),
    cpus_per_task: int = typer.Option(2, "--cpus-per-task", min=1, help="CPU cores per task."),
    max_running: Optional[int] = typer.Option(None, "--max-running", min=1, help="At most this many at once."),
):
    """Write the sbatch array script that runs `gen run` as one shard per task; submit it with sbatch."""
    from .slurm import sbatch_script

    text = sbatch_script(run_args, tasks, job_name, time, partition, gpus_per_task, cpus_per_task, max_running)
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(text)
    script.chmod(0o755)
    out.print(f"wrote {script}: sbatch {script}", highlight=False)


@one_line_errors
def export_cmd(dataset: Path = typer.Argument(..., help="Dataset folder."),
               fmt: str = typer.Option(..., "--format", help="deepfakebench | ffpp | hf | webdataset"),
               out_dir: Path = typer.Option(..., "--out", help="Export folder (resumed when it holds this export)."),
               embed: bool = typer.Option(False, "--embed", help="hf: media bytes inside the Parquet files."),
               shard_size: float = typer.Option(256.0, "--shard-size", min=0.001, help="hf/webdataset: MB per shard."),
               frames: int = typer.Option(32, "--frames", min=1, help="deepfakebench: frames per video."),
               workers: int = typer.Option(2, "--workers", min=1, help="deepfakebench: processes cropping faces."),
               no_verify: bool = typer.Option(False, "--no-verify", help="Skip the sha256 check of every file."),
               partial: bool = typer.Option(False, "--partial", help="Export a dataset that still has samples to "
                                            "make (refused otherwise, naming how many)."),
               quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Write the dataset in a layout detector labs train with; one line per skipped record."""
    from .export import Options, run_export

    res = run_export(dataset, fmt, out_dir, Options(embed=embed, shard_mb=shard_size, frames=frames, workers=workers,
                                                    verify=not no_verify, partial=partial, show=not quiet,
                                                    log=lambda m: err.print(m, markup=False, highlight=False)))
    out.print(f"wrote {out_dir}: {res.exported} record(s) as {fmt}, {len(res.skipped)} skipped", highlight=False)


def register(app: typer.Typer) -> None:
    """Add these commands to `app` (after `sources`, before `detect`, as `gen --help` lists them)."""
    app.command()(backends)
    app.command("slurm-script")(slurm_script)
    app.command("export")(export_cmd)
