"""What every `gen` command shares: the consoles, one-line error handling (exit 2) and output-file checks."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import typer
import typer.core
from rich.console import Console

from .errors import EXIT_BROKEN, EXIT_USAGE, EnvironmentBroken, SynthfakeError

out = Console(soft_wrap=True)  # piped output (width 80) must not break a path or a `next:` command
err = Console(stderr=True, soft_wrap=True)

# the extra that brings each optional import (pyproject.toml)
EXTRA_OF = {"torch": "detector", "transformers": "detector", "accelerate": "detector", "onnx": "detector",
            "onnxruntime": "detector", "safetensors": "detector", "diffusers": "models", "requests": "models",
            "librosa": "models", "insightface": "models", "pyarrow": "export", "datasets": "export",
            "webdataset": "export", "huggingface_hub": "export", "ray": "ray"}


def say(line: str) -> None:
    """One line to stderr, printed literally (no rich markup: user text such as paths stays as typed)."""
    err.print(line, markup=False, highlight=False)


def missing_extra(e: ImportError) -> str | None:
    """The one line for an import an extra brings (the pip command), or None for any other ImportError."""
    top = (e.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    return f"missing dependency '{top}': pip install 'synthfake[{extra}]'" if extra else None


def one_line_errors(fn):
    """The one path of an error to the user: 'error: FILE or OPTION: reason' on stderr, printed literally, and
    the errors.py exit code: 2 for bad input or usage (nothing written), 3 when the environment broke (a missing
    extra, a backend that cannot load, a full or read-only disk)."""

    @functools.wraps(fn)
    def wrapper(*a, **k):
        try:
            return fn(*a, **k)
        except SynthfakeError as e:
            for line in str(e).splitlines() or [type(e).__name__]:
                say(f"error: {line}")
            raise typer.Exit(EXIT_BROKEN if isinstance(e, EnvironmentBroken) else EXIT_USAGE) from None
        except ImportError as e:
            line = missing_extra(e)
            if line is None:
                raise
            say(f"error: {line}")
            raise typer.Exit(EXIT_BROKEN) from None

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
