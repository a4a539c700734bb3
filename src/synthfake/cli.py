"""`gen`: the command line (typer). Exit codes: 0 done, 1 checks failed or run incomplete, 2 bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table
from rich.text import Text

from . import checks, cli_tools
from .degrade import parse_chain
from .cli_common import (ALLOW_UNVERIFIED, DATASET, DEVICE, QUIET, WEIGHTS_DIR, err, next_steps, one_line_errors,
                         out)
from .cli_run import (BACKEND_HELP, _check_ready, _nothing_to_do, run_choices,
                      _parse_splits, _worker_exit, plan_option)
from .errors import EXIT_FAILED, EXIT_KILLED, SynthfakeError
from .manifest import part_files
from .record_check import drop_in_parts
from .shared_types import DEFAULT_RATIOS
from .plan_options import default
from .sources import IDENTITY_THRESHOLD, NOT_MEDIA, scan

app = typer.Typer(no_args_is_help=True, add_completion=False)  # help: the docstring of _main
sources_app = typer.Typer(no_args_is_help=True, help="Index real source media.")
app.add_typer(sources_app, name="sources")


def _version(value: bool) -> None:
    if value:
        from . import __version__

        out.print(f"synthfake {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    """Synthetic deepfake datasets with provenance. Start with `gen backends`, then
    `gen run --sources DIR --out DATASET --n 100`, `gen audit DATASET`, `gen preview DATASET --out sheet.png`.

    Examples:

      gen run --sources ../shared/data --out D --n 40 --type face_swap --workers 2

      gen run --sources S --out D --n 1000 --backend generation=http_t2i --degrade social

      gen detect train D --out M  ·  gen detect predict M TEST_DIR --out submission.csv

    Exit codes: 0 done, 1 samples failed or a check failed, 2 bad input (nothing written), 3 the environment
    broke (nothing recorded as failed; rerun to resume)."""


@app.command()
@one_line_errors
def run(
    ctx: typer.Context,
    out_dir: Path = typer.Option(..., "--out", help="Dataset folder (created; resumed when it exists)."),
    sources: Path = typer.Option(..., "--sources", help="Folder of real photos, videos and speech audio."),
    types: Optional[List[str]] = typer.Option(None, "--type", help=f"Only these fake types (repeatable): "
                                              f"{', '.join(DEFAULT_RATIOS)}."),
    n: int = plan_option("n", "Number of fake samples.", min=0),
    reals: Optional[int] = typer.Option(None, "--reals", min=0, help="Number of real samples (default: --n)."),
    backends: Optional[List[str]] = typer.Option(None, "--backend", help=BACKEND_HELP),
    backend_opts: Optional[List[str]] = typer.Option(None, "--backend-opt", help="NAME.key=value: a backend "
                                                     "option (repeatable); what decides a sample is recorded in "
                                                     "plan.json, run options (timeouts, batch size) are not."),
    seed: int = plan_option("seed", "Seed of the plan: same seed and sources, same dataset.", min=0),
    splits: str = typer.Option(",".join(f"{k}={v:g}" for k, v in default("splits").items()), "--splits",
                       help="Split fractions by identity (no identity crosses splits)."),
    clip_seconds: float = plan_option("clip_seconds", "Longest video clip per sample.", min=0.04),
    min_manipulated: float = plan_option("min_manipulated", "A fake with fewer changed frames than this share is a "
                                         "failure.", min=0, max=1),
    redraws: int = plan_option("redraws", "Draws again a sample that fails a quality gate, at most this many times.",
                               min=0),
    identity_threshold: float = typer.Option(IDENTITY_THRESHOLD, "--identity-threshold", min=0,
                                             help="Files whose faces are closer than this are one identity."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Start K local worker processes."),
    rank: Optional[int] = typer.Option(None, "--rank", min=0, help="This shard (default: $SLURM_ARRAY_TASK_ID, "
                                       "$SLURM_PROCID or $RANK)."),
    world_size: Optional[int] = typer.Option(None, "--world-size", min=1, help="Number of shards (default: "
                                             "$SLURM_ARRAY_TASK_COUNT, $SLURM_NTASKS or $WORLD_SIZE)."),
    executor: str = typer.Option("local", "--executor", help="local | ray"),
    device: str = DEVICE,
    weights_dir: Optional[Path] = WEIGHTS_DIR,
    degrade: Optional[str] = typer.Option(None, "--degrade", help="Post-processing for every sample: a preset "
                                          "(messenger, social, broadcast) or a chain like 'jpeg:p=.5,quality=60-90'."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Try failed samples again."),
    allow_unverified: bool = ALLOW_UNVERIFIED,
    quiet: bool = QUIET,
    recipe: Optional[Path] = typer.Option(None, "--recipe", help="A packaged data recipe by name (all4, "
                                          "only_face_swap, all4_social, ...) or a JSON file of types, backends, "
                                          "backend_opts, degrade, clip_seconds, splits; flags win over it."),
):
    """Generate (or resume) a dataset: scan sources, plan, run the shards, record every sample."""
    from .executors import run_here, run_local, run_ray
    from .run_config import RunConfig, RunSettings, retired_env

    for line in retired_env():
        err.print(f"WARN: {line}")

    c = run_choices(ctx, recipe, dict(types=types, backends=backends, backend_opts=backend_opts, degrade=degrade,
                                      clip_seconds=clip_seconds, splits=splits))
    plan_fields = dict(n=n, reals=n if reals is None else reals, seed=seed, ratios=c["ratios"],
                       backends=c["chosen"], backend_opts=c["opts"], splits=_parse_splits(c["splits"]),
                       clip_seconds=c["clip_seconds"], min_manipulated=min_manipulated, redraws=redraws,
                       degrade=parse_chain(c["degrade"]) if c["degrade"] else [])
    settings = RunSettings(device, weights_dir, retry_failed, not quiet, c["run_opts"], allow_unverified)
    config = RunConfig.build(out_dir, sources, plan_fields, identity_threshold, settings,
                             executor, workers, rank, world_size)  # every flag checked before anything is written
    _check_ready(plan_fields, settings.context(out_dir / "cache", c["opts"]))  # the backends too, before the scan
    code = _launch(config, {"ray": run_ray, "local": run_local, "here": run_here}[config.launcher])
    raise typer.Exit(code)


def _launch(config, launcher) -> int:
    """Scan and plan (nothing written until the plan holds), check the backends, write the plan, run the shards,
    print the status; the exit code (0 done, 1 samples failed, 2/3 from the workers)."""
    from .dataset import Dataset
    from .plan_options import plan_warnings
    from .status import dataset_status, status_tables

    quiet = not config.settings.show_progress
    ds = Dataset.prepare(config.out, config.sources, config.plan_fields, config.identity_threshold, show=not quiet)
    ds.save()
    for line in plan_warnings(ds.table):
        err.print(f"WARN: {line}", markup=False, highlight=False)
    for it in ds.index.items:
        if it.excluded and it.excluded != NOT_MEDIA:
            err.print(f"note: {it.path}: kept out of face roles: {it.excluded}", markup=False, highlight=False)
    code = 0
    try:
        if config.launcher == "local":  # damaged records of any part dropped before counting what is left,
            drop_in_parts(ds, part_files(ds.manifest_dir), lambda line: err.print(line, markup=False,
                                                                                  highlight=False))
            config = replace(config, settings=replace(config.settings, check_records=False))  # not again by each
        if config.launcher == "local" and not ds.todo(0, 1, config.settings.retry_failed):
            _nothing_to_do(ds, config.settings.retry_failed)
        else:
            ran = launcher(config, ds)
            code = _worker_exit(ran) if config.launcher == "local" else 0
    except KeyboardInterrupt as e:
        why = e.args[0] if e.args else "Ctrl-C"
        err.print(f"interrupted ({why}): workers stopped; what was written is kept: rerun the same command to "
                  f"resume", highlight=False)
        return EXIT_KILLED if why == "SIGTERM" else 130
    st = dataset_status(ds)
    if not quiet:
        out.print(status_tables(st)[0])
    if st["total"]["failed"]:
        code = code or EXIT_FAILED
        err.print(f"{st['total']['failed']} sample(s) failed; reasons in {config.out}/failures/ "
                  f"(--retry-failed tries them again)", highlight=False)
    next_steps(err, quiet, ["gen", "audit", config.out], ["gen", "preview", config.out, "--out", "sheet.png"],
               ["gen", "status", config.out])
    return code


@app.command()
@one_line_errors
def status(dataset: Path = DATASET,
           as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables.")):
    """Done / failed / left, per type and per shard."""
    from .status import dataset_status, status_tables

    st = dataset_status(dataset)
    if as_json:
        print(json.dumps(st, indent=1))
        return
    for t in status_tables(st):
        out.print(t)


@app.command()
@one_line_errors
def audit(dataset: Path = DATASET,
          json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full report here."),
          tolerance: float = typer.Option(0.02, "--tolerance", min=0, max=1,
                                          help="Balance: largest allowed deviation of a share from the plan's."),
          max_samples: int = typer.Option(300, "--max-samples", min=0,
                                          help="Records each decoding check looks at, at most."),
          workers: int = typer.Option(2, "--workers", min=0, help="Processes for the decoding checks."),
          only: Optional[list[str]] = typer.Option(None, "--check", help="Run this check (repeatable) after "
                                                   "integrity, which always runs; default: every check. With "
                                                   "--labels only confounds applies."),
          quiet: bool = QUIET,
          labels: Optional[Path] = typer.Option(None, "--labels", help="CSV path,label[,kind,model]: run the "
                                                "confound check on a labelled folder that is not a dataset.")):
    """Integrity, balance, duplicates, identity leakage, confounds, label noise; exit 1 when a check FAILs.
    With --labels: the confound check (media properties alone, ROC AUC) on a labelled folder."""
    from .audit import audit_table, run_audit, write_report
    from .audit.base import FAIL, Settings

    checks.output_file(json_out, "--json", {"DATASET": dataset, "--labels": labels})

    if labels is not None:
        from .audit.external import confound_table, folder_checks, folder_confounds
        from .files import write_json_atomic

        names = folder_checks(only)  # --check as for a dataset: a check that does not apply is bad input (exit 2)
        check, skipped = folder_confounds(dataset, labels, Settings(checks=names),
                                          lambda m: err.print(m, markup=False, highlight=False))
        out.print(confound_table(check, f"confounds of {dataset} ({labels})"))
        if json_out:
            write_json_atomic(json_out, {"folder": str(dataset), "labels": str(labels), "checks": list(names),
                                         "status": check.status, "summary": check.summary, **check.details,
                                         "skipped": skipped})
        raise typer.Exit(EXIT_FAILED if check.status == FAIL else 0)

    report = run_audit(dataset, Settings(tolerance=tolerance, max_samples=max_samples, workers=workers,
                                         checks=tuple(only) if only else None, show_progress=not quiet))
    out.print(audit_table(report))
    if json_out:
        write_report(json_out, report)
    raise typer.Exit(EXIT_FAILED if report.status == FAIL else 0)


@app.command()
@one_line_errors
def preview(dataset: Path = DATASET,
            out_png: Path = typer.Option(..., "--out", help="Contact sheet PNG to write."),
            html: bool = typer.Option(False, "--html", help="Also write a playable page beside it (OUT with .html)."),
            per_row: int = typer.Option(4, "--per-row", min=1, help="Samples shown per type and backend."),
            tile: int = typer.Option(160, "--tile", min=48, max=1024, help="Tile size in pixels."),
            sources: Optional[Path] = typer.Option(None, "--sources", help="Sources folder, if it has moved.")):
    """Contact sheet: a row per type and backend, each sample beside its sources, captioned with id and split."""
    from .preview import preview as draw
    from .preview_html import write_page

    checks.output_file(out_png, "--out", {"DATASET": dataset, "--sources": sources})
    if out_png.suffix.lower() != ".png":  # PNG bytes under another name, or the --html page written over it
        raise SynthfakeError(f"--out {out_png}: the contact sheet is a PNG (with --html the page goes beside it as "
                             f"NAME.html): give --out a .png name")
    if html:
        checks.output_file(out_png.with_suffix(".html"), "--html (OUT with .html)", {"DATASET": dataset})
    rows = draw(dataset, out_png, per_row, tile, sources)
    out.print(f"wrote {out_png}: {sum(len(c) for c in rows.values())} samples in {len(rows)} rows "
              f"({', '.join(f'{t}/{b}' for t, b in rows)})", highlight=False)
    if html:
        page = out_png.with_suffix(".html")
        write_page(dataset, page, per_row, sources)
        out.print(f"wrote {page}", highlight=False)


@sources_app.command("scan")
@one_line_errors
def sources_scan(folder: Path = typer.Argument(..., help="Folder of real media."),
                 json_out: Optional[Path] = typer.Option(None, "--json", help="Write the index here."),
                 identity_threshold: float = typer.Option(IDENTITY_THRESHOLD, "--identity-threshold",
                                                          help="Files whose faces are closer are one identity.")):
    """Index every photo, video and audio file: kind, size, faces, identity; list what is kept out and why."""
    from .sources import glasses_identities, save_index

    checks.output_file(json_out, "--json", {"FOLDER": folder})
    index = scan(folder, None, identity_threshold, show=True)
    with_glasses = glasses_identities(index.items)
    t = Table(title=f"{index.root}: {len(index.items)} files, "
                    f"{len({i.identity for i in index.items if i.is_face})} face identities")
    for c in ("path", "kind", "size", "frames", "fps", "faces", "identity", "glasses", "use"):
        t.add_column(c, overflow="fold" if c in ("path", "identity") else "ellipsis")  # names whole, folded
    for it in index.items:
        size = f"{it.width}x{it.height}" if it.width else (f"{it.duration:.1f}s" if it.duration else "")
        use = "face" if it.is_face else ("audio" if it.is_audio else Text("excluded", style="red"))
        specs = "" if it.glasses is None else f"{it.glasses:.2f}" + (" yes" if it.identity in with_glasses else "")
        t.add_row(it.path, it.kind, size, str(it.frames or ""), f"{it.fps:g}" if it.fps else "",
                  f"{it.faces_found}/{it.faces_sampled}" if it.faces_sampled else "", it.identity, specs, use)
    out.print(t)
    if with_glasses:
        out.print(f"wear glasses (backends that avoid them draw others first): {', '.join(sorted(with_glasses))}",
                  markup=False, highlight=False, soft_wrap=True)
    for it in index.items:
        if it.excluded:
            out.print(f"excluded {it.path}: {it.excluded}", markup=False, highlight=False, soft_wrap=True)
    if json_out:
        save_index(json_out, index)


cli_tools.register(app)  # backends, slurm-script, export
from .cli_weights import weights_app  # noqa: E402

app.add_typer(weights_app, name="weights")
from .detector.cli import detect_app  # noqa: E402  (the detector's commands live with the detector)

app.add_typer(detect_app, name="detect")


if __name__ == "__main__":  # `python -m synthfake.cli` (torchrun); the `gen` script starts at synthfake.entry
    import sys

    from .cli_common import run as run_app

    sys.exit(run_app(app, sys.argv[1:], "gen"))  # usage errors one line, as from `gen`
