"""The input checks, parsers, help texts and exit code of `gen run` (the command itself is in cli.py)."""

from __future__ import annotations


import typer
from pydantic import ValidationError

from . import generators as registry
from .checks import number
from .cli_common import err
from .errors import EXIT_BROKEN, EXIT_FAILED, EXIT_USAGE, SynthfakeError
from .plan import Plan
from .shared_types import DEFAULT_BACKENDS, DEFAULT_RATIOS
from .plan_counts import largest_remainder
from .plan_options import default, parse_backend_opts, parse_backends


def _parse_pairs(items: list[str], what: str) -> dict[str, str]:
    out_ = {}
    for item in items:
        if "=" not in item:
            raise SynthfakeError(f"{what} {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        if k.strip() in out_:
            raise SynthfakeError(f"{what} {k.strip()}: given twice, {out_[k.strip()]!r} and {v.strip()!r}")
        out_[k.strip()] = v.strip()
    return out_


def plan_option(field: str, help: str, **limits):
    """The `gen run` option of Plan field `field`: the Plan's default, the field's name as its flag (--clip-seconds)."""
    return typer.Option(default(field), "--" + field.replace("_", "-"), help=help, **limits)


SPLIT_NAMES = ("train", "val", "test")  # media/{train,val,test}/: what the detector and every export read


def _parse_splits(text: str) -> dict[str, float]:
    try:
        splits = {k: float(v) for k, v in _parse_pairs(text.split(","), "--splits").items()}
    except ValueError:
        raise SynthfakeError(f"--splits {text!r}: fractions must be numbers, "
                             f"e.g. train=0.7,val=0.15,test=0.15") from None
    for k, v in splits.items():
        if k not in SPLIT_NAMES:  # a split names a media folder: `../x` wrote outside the dataset
            raise SynthfakeError(f"--splits {text!r}: unknown split {k!r} (the splits are {', '.join(SPLIT_NAMES)})")
        number(v, f"--splits {k}", 0, 1)
    if abs(sum(splits.values()) - 1) > 1e-6:
        raise SynthfakeError(f"--splits {text!r}: fractions must be >= 0 and sum to 1")
    return splits


def _check_ready(plan_fields: dict, ctx: registry.Context) -> None:
    """The plan's fields as a Plan (types, finite numbers) and every backend it uses ready here (a typo gets the
    nearest name): all of it before the sources are scanned and before anything is written."""
    try:
        plan = Plan(**plan_fields, sources_digest="")
    except ValidationError as e:
        first = e.errors()[0]
        why = str((first.get("ctx") or {}).get("error") or first["msg"])  # a validator's own words, no prefix
        where = ".".join(str(x) for x in first["loc"])
        if not where:  # a check across fields: its message names them; the whole plan adds nothing
            raise SynthfakeError(why) from None
        raise SynthfakeError(f"{where}: {why} (got {first.get('input')!r})") from None
    problems = []
    counts = {**largest_remainder(plan.n, plan.ratios), "real": plan.reals}
    for t, count in counts.items():
        for name, c in largest_remainder(count, plan.mix(t)).items():
            why = registry.why_not_ready(name, t, ctx) if c else None
            if why:
                problems.append(f"{t}: {why}")
    if problems:
        raise SynthfakeError("\n".join(problems))  # a line per backend; exit 2 says nothing was written


BACKEND_HELP = (f"TYPE=NAME, or a mix TYPE=NAME:W,NAME:W with exact counts per backend (repeatable). "
                f"TYPE: {', '.join((*DEFAULT_RATIOS, 'real'))}; NAME: "
                f"{', '.join(sorted(registry.BACKENDS))} (`gen backends` shows each one's type and whether it is "
                f"ready). Default: {', '.join(f'{t}={b}' for t, b in DEFAULT_BACKENDS.items())}.")
RUN_RECIPE_KEYS = ("types", "backends", "backend_opts", "degrade", "clip_seconds", "splits")


def _nothing_to_do(ds, retry_failed: bool) -> None:
    held = ds.held()  # each planned index once: a second record or another plan's id is not "done"
    hint = "" if retry_failed or not len(held.failed) else " (--retry-failed tries the failed ones again)"
    other = f", {len(held.foreign)} held by a record of another id" if len(held.foreign) else ""
    err.print(f"nothing to do: all {ds.plan.total} samples are done ({len(held.done)}) or failed "
              f"({len(held.failed)}){other}{hint}", highlight=False)
    if held.summary():
        err.print(held.summary(), markup=False, highlight=False)


def _worker_exit(codes: list[int]) -> int:
    """The run's exit code from its workers': broken environment (3) first, then bad input (2), then failed (1)."""
    for r, c in enumerate(codes):
        if c not in (0, EXIT_FAILED, EXIT_USAGE, EXIT_BROKEN):  # those printed their own one line
            err.print(f"worker {r} exited with code {c}; rerun the same command to resume", highlight=False)
    for c in (EXIT_BROKEN, EXIT_USAGE):
        if c in codes:
            return c
    return EXIT_FAILED if any(codes) else 0


def run_choices(ctx, recipe, given: dict) -> dict:
    """What `gen run` makes, from its flags (`given`: RUN_RECIPE_KEYS as typer hands them) under a recipe: the
    recipe read and applied where no flag is given (a --backend TYPE=... flag replaces that type's backend only,
    a --backend-opt NAME.key=... flag that key only), --type, --backend and --backend-opt checked. Returns `given`
    so merged plus `ratios`, `chosen` (backends), `opts` and `run_opts`. The one implementation of these steps:
    `gen run` and `gen slurm-script` (which refuses what every task would refuse)."""
    from .recipe import apply_recipe, flag_name, read_recipe

    flagged = {flag_name(b) for b in given["backends"] or []}  # the types the user named, not the recipe's
    got = dict(given)
    if recipe is not None:
        got = apply_recipe(ctx, got, read_recipe(recipe, set(RUN_RECIPE_KEYS), "data"), recipe,
                           by_name={"backends", "backend_opts"})
        got.update({k: [got[k]] if isinstance(got[k], str) else got[k] for k in ("types", "backends",
                                                                             "backend_opts")})
    unknown = [t for t in got["types"] or [] if t not in DEFAULT_RATIOS]
    if unknown:
        raise SynthfakeError(f"--type {', '.join(unknown)}: unknown type (choose from {', '.join(DEFAULT_RATIOS)})")
    got["ratios"] = {t: r for t, r in DEFAULT_RATIOS.items() if not got["types"] or t in got["types"]}
    got["chosen"] = parse_backends(_parse_pairs(got["backends"] or [], "--backend"), got["ratios"], flagged)
    got["opts"], got["run_opts"] = parse_backend_opts(got["backend_opts"] or [], got["chosen"])
    return got

