"""What every `gen` command shares: the consoles, one-line error handling (exit 2 or 3), and the check that
every number option is finite (typer's range checks pass 'inf', and nan is refused with a misleading reason).

The consoles print text literally (no rich markup, no `:emoji:` codes, no highlighting): paths, names and
values a user typed appear as typed; styled words are rich `Text` objects."""

from __future__ import annotations

import functools
import inspect
import os
import shlex
import sys
from collections.abc import Sequence

import typer
import typer.core
from rich.console import Console

from .checks import number
from .errors import EXIT_BROKEN, EXIT_USAGE, EnvironmentBroken, SynthfakeError, os_error



def _piped_width() -> int | None:
    """Output into a pipe or a log (no terminal, no $COLUMNS) is laid out 200 columns wide, not rich's 80, so
    tables keep their cells whole ('phone_…' cannot be told from 'photo…' in a log); a terminal sets its own."""
    return None if os.environ.get("COLUMNS") or sys.stdout.isatty() else 200


out = Console(soft_wrap=True, markup=False, emoji=False, highlight=False, width=_piped_width())  # piped: no path
# or `next:` command broken across lines; user text printed as typed (no markup, no emoji codes)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)

# the extra that brings each optional import (pyproject.toml)
EXTRA_OF = {"torch": "detector", "transformers": "detector", "accelerate": "detector", "onnx": "detector",
            "onnxruntime": "detector", "safetensors": "detector", "diffusers": "models", "requests": "models",
            "librosa": "models", "insightface": "models", "pyarrow": "export", "datasets": "export",
            "webdataset": "export", "huggingface_hub": "export", "ray": "ray", "albumentations": "detector"}

# options several commands take, declared once (typer reads an OptionInfo without changing it)
QUIET = typer.Option(False, "--quiet", help="No progress bars nor progress logs (a line about a skipped or "
                                                  "fallback file is still said).")
DEVICE = typer.Option("cpu", "--device", help="cpu | cuda")
FP16 = typer.Option(False, "--fp16", help="Half precision (CUDA only).")
DECODE_WORKERS = typer.Option(2, "--workers", min=0, help="Decoding/detection processes (0: in-process).")
DATASET = typer.Argument(..., help="Dataset folder.")
MODEL_DIR = typer.Argument(..., help="Model folder (trained, or any local ViT classifier).")
SCORE_BATCH = typer.Option(16, "--batch-size", min=1, help="Crops per forward pass (bounds memory).")
WEIGHTS_HELP = "Folder of model weights (then $SYNTHFAKE_WEIGHTS, then $XDG_CACHE_HOME/synthfake/weights, ~/.cache when unset)."
WEIGHTS_DIR = typer.Option(None, "--weights-dir", help=WEIGHTS_HELP)
ALLOW_UNVERIFIED = typer.Option(False, "--allow-unverified", help="Use (and count as ready) weights files whose "
                                "sha256 differs from the published one; records list them as unverified.")
BACKEND_OPTS = typer.Option(None, "--backend-opt", help="NAME.key=value, as gen run reads it (repeatable): which "
                            "file a backend loads and how (wav2lip.model=wav2lip_96, http_t2i.provider=openai).")


def say(line: str) -> None:
    """One line to stderr, printed literally (no rich markup: user text such as paths stays as typed)."""
    err.print(line, markup=False, highlight=False)


def shell_line(command: str | Sequence[object]) -> str:
    """A command as a user can paste it into a shell: a sequence of words (paths, options) is joined with each
    word shell-quoted where it needs it (`D` stays D, `odd out ü` becomes 'odd out ü'); a string is taken as
    already a command line."""
    if isinstance(command, str):
        return command
    return " ".join(shlex.quote(str(word)) for word in command)


def next_steps(console: Console, quiet: bool, *commands: str | Sequence[object]) -> None:
    """The commands that usually come next, on one line printed literally (nothing when quiet). Give each
    command that holds a path as its words (["gen", "audit", out]): they are shell-quoted, so the line pastes."""
    if not quiet:
        console.print("next: " + "  ·  ".join(map(shell_line, commands)), markup=False, highlight=False)


def missing_extra(e: ImportError) -> str | None:
    """The one line for an import an extra brings (the pip command), or None for any other ImportError."""
    top = (e.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    return f"missing dependency '{top}': pip install 'synthfake[{extra}]'" if extra else None


def option_flags(fn) -> dict[str, str]:
    """{parameter name: its first flag (or its name, for an argument)} of a typer command function."""
    out = {}
    for name, p in inspect.signature(fn).parameters.items():
        decls = [d for d in getattr(p.default, "param_decls", None) or () if d.startswith("-")]
        out[name] = decls[0] if decls else name.upper()
    return out


def finite_numbers(values: dict, flags: dict[str, str]) -> None:
    """Every float a command got from its flags is finite (checks.number): one line naming the option."""
    for name, v in values.items():
        for x in v if isinstance(v, (list, tuple)) else [v]:
            if isinstance(x, float):
                number(x, flags.get(name, name))


def one_line_errors(fn):
    """The one path of an error to the user: 'error: FILE or OPTION: reason' on stderr, printed literally, and
    the errors.py exit code: 2 for bad input or usage (nothing written), 3 when the environment broke (a missing
    extra, a backend that cannot load, a full or read-only disk)."""

    flags = option_flags(fn)

    @functools.wraps(fn)
    def wrapper(*a, **k):
        try:
            finite_numbers(k, flags)
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
        except OSError as e:
            line, code = os_error(e)
            say(f"error: {line}")
            raise typer.Exit(code) from None
        except KeyboardInterrupt:  # pool workers ignore Ctrl-C: the pools stop them as this unwinds (pools.Pool)
            say(f"interrupted (Ctrl-C): {fn.__name__.removesuffix('_cmd').replace('_', ' ')} stopped; what was "
                f"written whole is kept")
            raise typer.Exit(130) from None

    return wrapper


def _flag_type(self, ctx):
    """Flags take no value: the help shows none (typer >= 0.17 would print `<bool>` beside every flag)."""
    return None if getattr(self, "is_flag", False) else _option_type(self, ctx)


_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type


def run(app, args: list[str], prog: str) -> int:
    """Run a typer app on `args`; a usage error (an unknown option, a value out of range, a missing argument) is
    one line on stderr naming the command, exit 2, as every other bad input is (typer draws a box of five)."""
    try:
        code = typer.main.get_command(app).main(args=args, prog_name=prog, standalone_mode=False)
    except typer.Abort:  # click's prompt interrupted (no command prompts today)
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        click_error, usage_error = _click_errors()
        if isinstance(e, usage_error):
            where = e.ctx.command_path if e.ctx is not None else prog
            print(f"{where}: {e.format_message()} (see {where} --help)", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(e, click_error):  # click's other errors (our commands exit through errors.py)
            print(f"{prog}: {e.format_message()}", file=sys.stderr)
            return e.exit_code
        raise
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def _click_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(ClickException, UsageError) of the click that typer runs on (its own copy since typer 0.24, click before),
    from the modules already loaded: nothing is imported for it (plain click costs ~18 ms of start-up)."""
    mods = [m for name in ("typer._click.exceptions", "click.exceptions") if (m := sys.modules.get(name))]
    return tuple(m.ClickException for m in mods), tuple(m.UsageError for m in mods)
