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


def apply_recipe(ctx, values: dict, recipe: dict, path: Path | None = None) -> dict:
    """`values` (the command's parameters) with recipe settings for every option not given on the command line.
    A recipe value goes through its option's own conversion and range check (the ones a flag gets) and must be
    finite, so a value of the wrong type is one line naming the recipe and the key."""
    from .checks import number

    params = {p.name: p for p in ctx.command.params}
    out = dict(values)
    for k, v in recipe.items():
        src = ctx.get_parameter_source(k) if k in ctx.params else None
        if src is not None and src.name not in ("DEFAULT", "DEFAULT_MAP"):  # typer vendors click: compare by name
            continue  # the flag given wins
        p = params.get(k)
        if p is None:
            out[k] = v  # not a flag (a detector recipe's model or augment): its reader checks it
            continue
        where = f"{path or 'recipe'}: {k}"
        out[k] = _convert(p, v, ctx, where)
        for x in out[k] if isinstance(out[k], list) else [out[k]]:
            if isinstance(x, float):
                number(x, where)
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
        return None
    try:
        return param.process_value(ctx, value)
    except Exception as e:  # click's (or typer's vendored click's) BadParameter
        if not hasattr(e, "format_message"):
            raise
        raise SynthfakeError(f"{where}: {getattr(e, 'message', None) or e.format_message()}") from None
