"""What every `gen` command shares: the consoles and one-line error handling (exit 2)."""

from __future__ import annotations

import functools

import typer
import typer.core
from rich.console import Console

from .errors import SynthfakeError

out = Console()
err = Console(stderr=True, soft_wrap=True)


def one_line_errors(fn):
    """Bad input or usage: one line 'error: FILE: reason' on stderr and exit 2."""

    @functools.wraps(fn)
    def wrapper(*a, **k):
        try:
            return fn(*a, **k)
        except SynthfakeError as e:
            for line in str(e).splitlines() or [type(e).__name__]:
                err.print(f"error: {line}", markup=False, highlight=False)
            raise typer.Exit(2)

    return wrapper


def _flag_type(self, ctx):
    """Flags take no value: the help shows none (typer >= 0.17 would print `<bool>` beside every flag)."""
    return None if getattr(self, "is_flag", False) else _option_type(self, ctx)


_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type
