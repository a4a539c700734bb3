"""What every `gen` command shares: the consoles, one-line error handling (exit 2) and output-file checks."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

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


def _check_output_file(path: Optional[Path], option: str) -> None:
    """An output file option (--json, --out FILE): not a folder, and its folder not a file."""
    if path is None:
        return
    if path.is_dir():
        raise SynthfakeError(f"{option} {path}: is a folder; give a file name")
    if any(p.exists() and not p.is_dir() for p in path.parents):
        raise SynthfakeError(f"{option} {path}: a parent of it is a file, not a folder")
