"""Recipe files: JSON configs a user passes to `gen run --recipe` or `gen detect train --recipe`.

A recipe sets option values by their CLI names (underscores or dashes); a flag given on the command line
wins over the recipe. Unknown keys are an error naming the file, so a typo never silently does nothing.
The recipes in the repository's `recipes/` ship inside the package (`synthfake.recipes`), so an installed
synthfake takes them by name: `--recipe all4` (data, for `gen run`), `--recipe small_cnn_cpu` (detector); a
path to a JSON file works as well.
"""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path

from .errors import SynthfakeError
from .files import loads_json, read_json

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
    packaged recipe of that name; when it is neither, one line saying so (with the nearest name, if one is close)
    and listing the shipped ones."""
    path = Path(recipe)
    if path.is_file() or path.suffix == ".json" or len(path.parts) > 1:
        return str(path), read_json(path, unique_keys=True)  # a missing or broken file: one line with its path
    names = recipe_names(kind)
    if str(recipe) not in names:
        near = difflib.get_close_matches(str(recipe), names, n=1, cutoff=0.6)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise SynthfakeError(f"recipe '{recipe}': no such recipe file or shipped name{hint}; shipped: "
                             f"{', '.join(names)}")
    return f"{kind} recipe '{recipe}'", loads_json(packaged(kind).joinpath(f"{recipe}.json").read_text(), True)


def read_recipe(recipe: str | Path, allowed: set[str], kind: str = "data") -> dict:
    """The recipe's settings (keys normalised to option names); one-line error on bad JSON or unknown keys."""
    where, raw = load(recipe, kind)
    if not isinstance(raw, dict):
        raise SynthfakeError(f"{where}: a recipe is a JSON object of option names to values")
    out = {}
    for k, v in raw.items():
        if k in DOC_KEYS:
            continue
        name = k.replace("-", "_")
        if name in out:  # 'score-frames' and 'score_frames': one option, and the last silently won
            raise SynthfakeError(f"{where}: key {k!r} names option {name} again; keep one")
        out[name] = v
    bad = sorted(set(out) - allowed)
    if bad:
        raise SynthfakeError(f"{where}: unknown recipe key(s) {', '.join(bad)} (allowed: {', '.join(sorted(allowed))})")
    return out


def flag_name(item) -> str:
    """What a `NAME=value` flag names: `face_swap` of `--backend face_swap=morph`, `wav2lip.model` of
    `--backend-opt wav2lip.model=wav2lip_96` (the text before the first '=', stripped)."""
    return str(item).partition("=")[0].strip()


def apply_recipe(ctx, values: dict, recipe: dict, path: Path | None = None, by_name: set[str] = frozenset()) -> dict:
    """`values` (the command's parameters) with recipe settings for every option not given on the command line.
    A recipe value goes through its option's own conversion and range check (the ones a flag gets) and must be
    finite, so a value of the wrong type is one line naming the recipe and the key.

    `by_name`: repeatable NAME=value options whose flags replace only the recipe's values of the same name
    (`flag_name`: `--backend face_swap=...` that type's backend, `--backend-opt wav2lip.model=...` that key); the
    recipe's other values are kept, the flags' after them."""
    from .checks import number

    params = {p.name: p for p in ctx.command.params}
    out = dict(values)
    for k, v in recipe.items():
        src = ctx.get_parameter_source(k) if k in ctx.params else None
        flagged = src is not None and src.name not in ("DEFAULT", "DEFAULT_MAP")  # typer vendors click: by name
        if flagged and k not in by_name:
            continue  # the flag given wins
        p = params.get(k)
        if p is None:
            out[k] = v  # not a flag (a detector recipe's model or augment): its reader checks it
            continue
        where = f"{path or 'recipe'}: {k}"
        value = _convert(p, v, ctx, where)
        for x in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(x, float):
                number(x, where)
        if flagged:  # the flags replace the recipe's values they name, and only those
            flags = list(out[k] or [])
            named = {flag_name(x) for x in flags}
            value = [x for x in value or [] if flag_name(x) not in named] + flags
        out[k] = value
    return out


def _convert(param, value, ctx, where: str):
    """A recipe value as the option's parser reads it: a list for a repeatable option, one value otherwise."""
    if param.multiple and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = [value]
    scalars = value if param.multiple else [value]
    if not isinstance(scalars, list) or any(isinstance(x, (dict, list)) for x in scalars):
        raise SynthfakeError(f"{where}: expected {'a list of values' if param.multiple else 'one value'}, got "
                             f"{value!r}")
    if any(isinstance(x, bool) for x in scalars) and not isinstance(param.default, bool):
        raise SynthfakeError(f"{where}: expected a {'number' if param.default is not None else 'value'}, got {value!r}")
    if value is None:
        if param.default is None or param.multiple:
            return None  # unset, as without the key
        raise SynthfakeError(f"{where}: expected a value, got null (leave the key out for the default)")
    try:
        return param.process_value(ctx, value)
    except Exception as e:  # click's (or typer's vendored click's) BadParameter
        if not hasattr(e, "format_message"):
            raise
        raise SynthfakeError(f"{where}: {getattr(e, 'message', None) or e.format_message()}") from None
