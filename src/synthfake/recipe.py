"""Recipe files: JSON configs a user passes to `gen run --recipe` or `gen detect train --recipe`.

A recipe sets option values by their CLI names (underscores or dashes); a flag given on the command line
wins over the recipe. Unknown keys are an error naming the file, so a typo never silently does nothing.
"""

from __future__ import annotations

from pathlib import Path

from .errors import SynthfakeError
from .files import read_json

DOC_KEYS = ("description", "why")  # free text, kept for people


def read_recipe(path: Path, allowed: set[str]) -> dict:
    """The recipe's settings (keys normalised to option names); one-line error on bad JSON or unknown keys."""
    path = Path(path)
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise SynthfakeError(f"{path}: a recipe is a JSON object of option names to values")
    out = {k.replace("-", "_"): v for k, v in raw.items() if k not in DOC_KEYS}
    bad = sorted(set(out) - allowed)
    if bad:
        raise SynthfakeError(f"{path}: unknown recipe key(s) {', '.join(bad)} (allowed: {', '.join(sorted(allowed))})")
    return out


def apply_recipe(ctx, values: dict, recipe: dict) -> dict:
    """`values` (the command's parameters) with recipe settings for every option not given on the command line."""
    out = dict(values)
    for k, v in recipe.items():
        src = ctx.get_parameter_source(k) if k in ctx.params else None
        if src is None or src.name in ("DEFAULT", "DEFAULT_MAP"):  # typer vendors click: compare by name
            out[k] = v
    return out
