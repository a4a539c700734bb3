"""`gen weights download [BACKEND...]`: every model file the backends need, fetched from its documented source
with resume and its sha256 checked before it lands in the weights folder (synthfake.weights_fetch)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import generators as registry
from .cli_common import BACKEND_OPTS, QUIET, WEIGHTS_HELP, one_line_errors, out, say
from .errors import EXIT_BROKEN, EXIT_FAILED, SynthfakeError

weights_app = typer.Typer(no_args_is_help=True, help="Model weights: fetch each backend's files, sha256 checked.")


def model_backends() -> list[str]:
    """Backends that load weights files (their module has `weight_specs(ctx)`), in registry order."""
    names = []
    for name in registry.BACKENDS:
        try:
            if hasattr(registry.get(name), "weight_specs"):
                names.append(name)
        except ImportError:  # a backend whose extra is missing still names its files in its own module
            continue
    return names


@weights_app.command("download")
@one_line_errors
def download(
    backends: Optional[List[str]] = typer.Argument(None, help="Backends whose files to fetch (default: every "
                                                   "backend that loads weights)."),
    weights_dir: Optional[Path] = typer.Option(None, "--weights-dir", help=f"{WEIGHTS_HELP} Files go to the "
                                               "first of these places that is set."),
    backend_opts: Optional[List[str]] = BACKEND_OPTS,
    mirror: Optional[str] = typer.Option(None, "--mirror", help="Fetch each file as MIRROR/FILE_NAME (a copy of "
                                         "the public files); sha256 still checked. Hub pipelines: $HF_ENDPOINT."),
    quiet: bool = QUIET,
):
    """Fetch every file a backend loads from its documented source (the README's backend table), resuming an
    interrupted download; a file whose sha256 differs from the pinned value is removed, never used. Exit 0 when
    every file is in place, 1 when a file failed its check or was not found, 3 when offline."""
    from .plan_options import read_backend_opts  # the parser of gen run's --backend-opt
    from .weights_fetch import FetchFailed, check_mirror, fetch, not_a_folder, target_place

    if mirror is not None:
        check_mirror(mirror)

    known = model_backends()
    for name in backends or []:
        if name not in registry.BACKENDS:
            raise SynthfakeError(registry.REGISTRY.unknown(name))
        if name not in known:
            raise SynthfakeError(f"backend '{name}': loads no weights files (backends that do: {', '.join(known)})")
    opts = read_backend_opts(backend_opts or [])  # each key once, as for gen run
    ctx = registry.Context(cache_dir=Path("."), weights_dir=weights_dir, backend_opts=opts)
    label, folder = target_place(weights_dir)
    if (why := not_a_folder(folder)) is not None:  # before any download (else: 'File exists (errno 17)')
        name = label if label.startswith(("-", "$")) else "the weights cache"  # --weights-dir, $SYNTHFAKE_WEIGHTS
        raise SynthfakeError(f"{name} {folder}: {why}")
    todo = [(name, spec) for name in backends or known for spec in registry.get(name).weight_specs(ctx)]
    failed = 0
    for i, (name, spec) in enumerate(todo):
        try:
            got = fetch(spec, folder, mirror, show=not quiet)
        except FetchFailed as e:
            say(f"{name}: {spec.name}: {e}")
            failed += 1
            if e.offline:  # every other file would wait for the same missing connection
                say(f"no connection: {len(todo) - i - 1} more file(s) not tried; run again when online "
                    f"(downloads resume)")
                raise typer.Exit(EXIT_BROKEN)
            continue
        out.print(f"{name}: {got.line()}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        say(f"{failed} of {len(todo)} file(s) not in place under {folder}")
        raise typer.Exit(EXIT_FAILED)
