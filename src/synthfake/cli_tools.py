"""The `gen backends`, `gen slurm-script` and `gen export` commands, registered by cli.py via register(app)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table
from rich.text import Text

from . import checks, generators as registry
from .cli_common import ALLOW_UNVERIFIED, BACKEND_OPTS, DATASET, QUIET, WEIGHTS_DIR, err, one_line_errors, out
from .errors import BackendNotReady, SynthfakeError
from .shared_types import DEFAULT_BACKENDS
from .cli_run import _parse_splits
from .degrade import parse_chain


@one_line_errors
def backends(weights_dir: Optional[Path] = WEIGHTS_DIR,
             allow_unverified: bool = ALLOW_UNVERIFIED,
             backend_opts: Optional[List[str]] = BACKEND_OPTS):
    """Every backend: ready, or why not (missing extra or weights file); the reasons, with their install hints,
    URLs and paths whole, go below the table so they can be copied."""
    from .plan_options import read_backend_opts  # the parser of gen run's --backend-opt
    from .weights import places
    from .weights_fetch import not_a_folder

    opts = read_backend_opts(backend_opts or [])  # checked against each backend's options, each key once

    for label, folder in places(weights_dir)[:2]:  # the places a user set (the cache may not be made yet)
        if folder is not None and (why := "no such folder" if not folder.exists() else not_a_folder(folder)):
            err.print(f"WARN: {label} {folder}: {why}; no weights file is found there", markup=False,
                      highlight=False)
    ctx = registry.Context(cache_dir=Path("."), weights_dir=weights_dir, allow_unverified=allow_unverified,
                           backend_opts=opts)
    t = Table(title="backends (default: what `gen run` uses for its type when no --backend or recipe names one)")
    for c in ("backend", "type", "default", "status"):
        t.add_column(c, overflow="fold")
    reasons = []
    for name in sorted(registry.BACKENDS):
        why = registry.REGISTRY.why_not_ready(name, ctx)
        mod = registry.REGISTRY.loaded(name)
        typ = mod.TYPE if mod is not None else "?"
        t.add_row(name, typ, "default" if DEFAULT_BACKENDS.get(typ) == name else "",
                  Text("ready", style="green") if why is None else Text.assemble(("not ready", "red"), " (below)"))
        if why is not None:
            reasons.append(f"{name}: {why}")
    out.print(t)
    for line in reasons:  # plain text: no markup parsing ([models] stays), no cropping
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@one_line_errors
def slurm_script(
    ctx: typer.Context,
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
    from .files import atomic_file
    from .slurm import sbatch_script

    checks.output_file(script, "--script")
    for name, value in (("--job-name", job_name), ("--partition", partition)):
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.,+@:-]+", value):  # a space or newline broke the
            raise SynthfakeError(f"{name} {value!r}: letters, digits and _.,+@:- only (no spaces)")  # #SBATCH lines
    if time is not None and not re.fullmatch(r"(\d+-)?\d+(:\d{1,2}){0,2}", time.strip()):
        raise SynthfakeError(f"--time {time!r}: not a Slurm time (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)")
    text = sbatch_script(run_args, tasks, job_name, time, partition, gpus_per_task, cpus_per_task, max_running,
                         str(script))
    # every task would fail alike on a bad option: refused here, nothing written
    check_run_args(ctx.find_root().command.get_command(ctx, "run"), run_args, tasks)
    with atomic_file(script) as tmp:
        tmp.write_text(text)
        tmp.chmod(0o755)
    out.print(f"wrote {script}: sbatch {shlex.quote(str(script))}", highlight=False)  # copied whole


@one_line_errors
def export_cmd(dataset: Path = DATASET,
               fmt: str = typer.Option(..., "--format", help="deepfakebench | ffpp | hf | webdataset"),
               out_dir: Path = typer.Option(..., "--out", help="Export folder (resumed when it holds this export)."),
               embed: bool = typer.Option(False, "--embed", help="hf only: media bytes inside the Parquet files."),
               link: bool = typer.Option(False, "--link", help="ffpp, hf without --embed: hard-link the media "
                                         "instead of copying it (saves space; editing the export in place then "
                                         "edits the dataset)."),
               shard_size: float = typer.Option(256.0, "--shard-size", min=0.001, help="hf/webdataset: MB per shard."),
               frames: int = typer.Option(32, "--frames", min=1, help="deepfakebench: frames per video."),
               workers: int = typer.Option(2, "--workers", min=1, help="deepfakebench: processes cropping faces."),
               license_id: Optional[str] = typer.Option(None, "--license", help="hf: the card's licence id, e.g. "
                                                        "cc-by-nc-4.0 (your source media decide it; default other)."),
               no_verify: bool = typer.Option(False, "--no-verify", help="Skip the sha256 check of every file."),
               partial: bool = typer.Option(False, "--partial", help="Export a dataset that still has samples to "
                                            "make (refused otherwise, naming how many)."),
               quiet: bool = QUIET):
    """Write the dataset in a layout detector labs train with; one line per skipped record."""
    from .export import Options, run_export

    checks.output_dir(out_dir, "--out", {"DATASET": dataset})
    res = run_export(dataset, fmt, out_dir, Options(embed=embed, link=link, shard_mb=shard_size, frames=frames,
                                                    workers=workers, license=license_id, verify=not no_verify,
                                                    partial=partial, show=not quiet,
                                                    log=lambda m: err.print(m, markup=False, highlight=False)))
    out.print(f"wrote {out_dir}: {res.exported} record(s) as {fmt}, {len(res.skipped)} skipped", highlight=False)


def check_run_args(run, run_args: list[str], tasks: int) -> None:
    """What `gen run RUN_ARGS` checks before its scan that holds on every node alike, with gen run's functions and
    in its order, so a failure is the one line gen run would print (and every task would): the options read by
    the `run` command's own parser (types, ranges, finite numbers, known flags), the recipe (found, its keys and
    values), --type, --backend and --backend-opt (types, mixes, backend names and the type each makes, options of
    the plan's backends), --splits, --degrade, --n/--reals, --sources a folder and --out placed (not a file, not in
    --sources, its parent writable). Not checked: whether each backend is ready (weights, extras, API keys, GPUs
    are the compute node's) and the sources' contents (the scan)."""
    import click

    from .cli_run import RUN_RECIPE_KEYS, run_choices
    from .plan import too_large
    from .run_config import RunConfig, RunSettings

    try:
        ctx = run.make_context("run", list(run_args), resilient_parsing=False)
    except click.exceptions.Exit:  # --help
        return
    except click.ClickException as e:
        raise SynthfakeError(f"gen run options after `--`: {e.format_message()}") from None
    p = dict(ctx.params)
    listed = ("types", "backends", "backend_opts")
    p.update({k: list(p[k]) if p[k] else None for k in listed})  # as typer hands them to run(): lists
    # the steps of cli.run() up to RunConfig.build, in its order, with its functions
    c = run_choices(ctx, p["recipe"], {k: p[k] for k in RUN_RECIPE_KEYS})
    reals = p["n"] if p["reals"] is None else p["reals"]
    _parse_splits(c["splits"])
    if c["degrade"]:
        parse_chain(c["degrade"])
    RunConfig.build(p["out_dir"], p["sources"], dict(n=p["n"], reals=reals), p["identity_threshold"],
                    RunSettings(p["device"]), "local", None, 0, tasks)  # the script's --rank/--world-size
    # gen run's _check_ready: the Plan (too_large is the one check of it the steps above leave), then each
    # backend: here its name and type, not its readiness
    if why := too_large(p["n"], reals):
        raise SynthfakeError(why)
    _check_backend_names(c["chosen"])


def _check_backend_names(chosen: dict) -> None:
    """Every backend of the plan known and making its type: gen run's lines for these (`TYPE: backend 'X':
    unknown (did you mean ...)`, `TYPE: backend 'X' makes Y, not TYPE`). A backend whose module cannot be imported
    here (an extra the login node lacks) is left to the compute node's readiness check."""
    problems = []
    for t, spec in chosen.items():
        for name in [spec] if isinstance(spec, str) else spec:
            if name not in registry.BACKENDS:
                problems.append(f"{t}: {registry.REGISTRY.unknown(name)}")
                continue
            try:
                made = registry.get(name).TYPE
            except ImportError:
                continue
            except BackendNotReady as e:  # breaks the backend contract: alike on every node
                problems.append(f"{t}: {e}")
                continue
            if made != t:  # the words of registry.why_not_ready, which asks readiness first
                problems.append(f"{t}: backend '{name}' makes {made}, not {t}")
    if problems:
        raise SynthfakeError("\n".join(problems))


def register(app: typer.Typer) -> None:
    """Add these commands to `app` (after `sources`, before `detect`, as `gen --help` lists them)."""
    app.command()(backends)
    app.command("slurm-script")(slurm_script)
    app.command("export")(export_cmd)
