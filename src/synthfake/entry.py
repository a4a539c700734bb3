"""`gen`'s entry point. `gen detect ...` loads only the detector's commands: scoring skips the plan, manifest and
pydantic imports (~0.4 s of a clip folder's start-up); every other command loads the full CLI."""

from __future__ import annotations

import gc
import sys


def main() -> None:
    """`gen`: dispatch on the first word, then spare the exit a full collection of every object (~0.2-0.4 s)."""
    try:
        if sys.argv[1:2] == ["detect"]:
            from .detector.cli import detect_app

            code = run(detect_app, sys.argv[2:], "gen detect")
        else:
            from .cli import app

            code = run(app, sys.argv[1:], "gen")
    finally:  # everything is written and closed by now
        gc.freeze()
    sys.exit(code)


def run(app, args: list[str], prog: str) -> int:
    """Run a typer app on `args`; a usage error (an unknown option, a value out of range, a missing argument) is
    one line on stderr naming the command, exit 2, as every other bad input is (typer draws a box of five)."""
    import typer

    from .errors import EXIT_USAGE

    click_error, usage_error = _click_errors()
    try:
        code = typer.main.get_command(app).main(args=args, prog_name=prog, standalone_mode=False)
    except usage_error as e:
        where = e.ctx.command_path if e.ctx is not None else prog
        print(f"{where}: {e.format_message()} (see {where} --help)", file=sys.stderr)
        return EXIT_USAGE
    except click_error as e:  # click's other errors (our commands exit through errors.py)
        print(f"{prog}: {e.format_message()}", file=sys.stderr)
        return e.exit_code
    except typer.Abort:  # click's prompt interrupted (no command prompts today)
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def _click_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(ClickException, UsageError) of the click that typer runs on: its own copy since typer 0.24, click before."""
    import importlib

    mods = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mods.append(importlib.import_module(name))
        except ImportError:
            continue
    return tuple(m.ClickException for m in mods), tuple(m.UsageError for m in mods)
