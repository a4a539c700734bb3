"""Recipe files: JSON configs a user passes to `gen run --recipe` or `gen detect train --recipe`.

A recipe sets option values by their CLI names (underscores or dashes); a flag given on the command line
wins over the recipe. Unknown keys are an error naming the file, so a typo never silently does nothing.
The recipes in the repository's `recipes/` ship inside the package (`synthfake.recipes`), so an installed
synthfake takes them by name: `--recipe all4` (data, for `gen run`), `--recipe small_cnn_cpu` (detector); a
path to a JSON file works as well.
"""

from __future__ import annotations

import difflib
import json
from importlib import resources
from pathlib import Path

from .errors import SynthfakeError
from .files import read_json

DOC_KEYS = ("description", "why")  # free text, kept for people
KINDS = ("data", "detector")  # recipes/data for gen run, recipes/detector for gen detect train


def packaged(kind: str):
    """The folder of the packaged recipes of `kind` (a Traversable: a folder, or inside a zip)."""
    return resources.files("synthfake.recipes").joinpath(kind)


def recipe_names(kind: str) -> list[str]:
    """The packaged recipes of `kind`, by name (file name without .json)."""
    return sorted(p.name[:-5] for p in packaged(kind).iterdir() if p.name.endswith(".json"))


def load(recipe: str | Path, kind: str) -> tuple[str, object]:
    """(where, parsed JSON): the file when `recipe` names one (a path, or anything ending in .json), else the
    packaged recipe of that name; a one-line error listing the packaged ones when it is neither."""
    path = Path(recipe)
    if path.is_file() or path.suffix == ".json" or len(path.parts) > 1:
        return str(path), read_json(path)  # a missing or broken file: one line with its path
    names = recipe_names(kind)
    if str(recipe) not in names:
        near = difflib.get_close_matches(str(recipe), names, n=1, cutoff=0.6)
        hint = f"did you mean '{near[0]}'? " if near else ""
        raise SynthfakeError(f"--recipe {recipe}: no such file, nor a packaged {kind} recipe ({hint}packaged: "
                             f"{', '.join(names)})")
    return f"{kind} recipe '{recipe}'", json.loads(packaged(kind).joinpath(f"{recipe}.json").read_text())


def read_recipe(recipe: str | Path, allowed: set[str], kind: str = "data") -> dict:
    """The recipe's settings (keys normalised to option names); one-line error on bad JSON or unknown keys."""
    where, raw = load(recipe, kind)
    if not isinstance(raw, dict):
        raise SynthfakeError(f"{where}: a recipe is a JSON object of option names to values")
    out = {k.replace("-", "_"): v for k, v in raw.items() if k not in DOC_KEYS}
    bad = sorted(set(out) - allowed)
    if bad:
        raise SynthfakeError(f"{where}: unknown recipe key(s) {', '.join(bad)} (allowed: {', '.join(sorted(allowed))})")
    return out


def apply_recipe(ctx, values: dict, recipe: dict) -> dict:
    """`values` (the command's parameters) with recipe settings for every option not given on the command line."""
    out = dict(values)
    for k, v in recipe.items():
        src = ctx.get_parameter_source(k) if k in ctx.params else None
        if src is None or src.name in ("DEFAULT", "DEFAULT_MAP"):  # typer vendors click: compare by name
            out[k] = v
    return out
