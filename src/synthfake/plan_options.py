"""What `gen run` turns into plan fields: backend mixes, backend options, the defaults, and plan-time warnings.

`--backend face_swap=landmark_swap:0.5,self_blend:0.5` is a mix (exact counts per backend, plan.py);
`--backend-opt NAME.key=value` is a backend option, checked against the backend's OPTIONS and recorded in
plan.json, so a dataset resumed with another model or setting is refused like any other plan change; a run
option (timeouts, batch size: `Option.run`) is carried by the run's settings instead, never by the plan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from . import generators as registry
from .checks import number
from .errors import SynthfakeError
from .plan import Plan, SampleTable
from .shared_types import DEFAULT_BACKENDS

MIN_LABEL_PER_SPLIT = 10  # fewer reals or fakes than this in val/test: a threshold or a score chosen on noise


def default(field: str):
    """The Plan model's default for `field` (the one place the CLI's defaults are written)."""
    return Plan.model_fields[field].get_default(call_default_factory=True)


def _known(name: str, what: str) -> str:
    if name in registry.BACKENDS:
        return name
    raise SynthfakeError(f"{what}: {registry.REGISTRY.unknown(name)}")


def parse_backends(given: dict[str, str], ratios: dict[str, float],
                   flagged: Collection[str] | None = None) -> dict[str, str | dict[str, float]]:
    """{type: backend or {backend: weight}} for the plan's types and reals, from `--backend TYPE=SPEC`.

    `flagged`: the types the user gave a --backend flag for (default: every type in `given`); a flag for a fake
    type the plan does not make (`--type face_swap --backend lip_sync=...`) is refused, not dropped without a
    word. A type in `given` but not flagged (a recipe's own backend for a type `--type` left out) is ignored."""
    unknown = [t for t in given if t not in DEFAULT_BACKENDS]
    if unknown:
        raise SynthfakeError(f"--backend {unknown[0]}=...: unknown type (choose from {', '.join(DEFAULT_BACKENDS)})")
    unplanned = [t for t in given if (flagged is None or t in flagged) and t not in (*ratios, "real")]
    if unplanned:
        t = unplanned[0]
        raise SynthfakeError(f"--backend {t}={given[t]}: this plan makes only {', '.join(ratios)} fakes (and "
                             f"reals), no {t}; add --type {t} or drop the flag")
    out: dict[str, str | dict[str, float]] = {}
    for t in (*ratios, "real"):
        text = given.get(t, DEFAULT_BACKENDS[t])
        what = f"--backend {t}={text}"
        mix: dict[str, float] = {}
        for part in text.split(","):
            name, _, w = part.strip().partition(":")
            try:
                weight = float(w) if w else 1.0
            except ValueError:
                raise SynthfakeError(f"{what}: weight {w!r} of '{name}' is not a number") from None
            number(weight, f"{what}: weight of '{name}'", above=0)
            if not name or name in mix:  # unknown names: the readiness check lists them all, with the nearest
                raise SynthfakeError(f"{what}: each backend once, with a weight > 0")
            mix[name] = weight
        out[t] = next(iter(mix)) if len(mix) == 1 else mix  # one backend is written as before: same plan hash
    return out


def read_backend_opts(items: list[str], used: set[str] | None = None) -> dict[str, dict]:
    """{backend: {key: typed value}} from `--backend-opt NAME.key=value` (gen run, gen weights download): each
    value checked against the backend's OPTIONS, a key given once (a repeat with another value is an error, not
    "the last wins"); with `used`, the backend must be one of them (the plan's backends)."""
    out: dict[str, dict] = {}
    given: dict[tuple[str, str], str] = {}  # (backend, key) -> the value as typed: a repeat with another value
    for item in items:
        if not isinstance(item, str):
            raise SynthfakeError(f"--backend-opt {item!r}: expected a string NAME.key=value")
        head, eq, raw = item.partition("=")
        name, dot, key = head.strip().partition(".")
        if not eq or not dot or not key:
            raise SynthfakeError(f"--backend-opt {item!r}: expected NAME.key=value, e.g. wav2lip.model=wav2lip_96")
        _known(name, f"--backend-opt {item}")
        if used is not None and name not in used:
            names = ", ".join(sorted(used))
            raise SynthfakeError(f"--backend-opt {item}: backend '{name}' is not in this plan (its backends: {names})")
        value = registry.parse_option(name, key, raw.strip())
        into = out.setdefault(name, {})
        if key in into and into[key] != value:  # the last would win without a word
            raise SynthfakeError(f"--backend-opt {name}.{key}: given twice, {given[name, key]!r} and "
                                 f"{raw.strip()!r}; give it once")
        into[key], given[name, key] = value, raw.strip()
    return out


def parse_backend_opts(items: list[str], backends: dict) -> tuple[dict[str, dict], dict[str, dict]]:
    """({backend: {key: typed value}} of the plan, the same of the run) from `--backend-opt NAME.key=value`
    (`read_backend_opts`); the backend must be in the plan. Run options (`Option.run`: timeouts, batch sizes)
    change no sample's bytes and stay out of plan.json."""
    used = {b for v in backends.values() for b in ([v] if isinstance(v, str) else v)}
    plan: dict[str, dict] = {}
    run: dict[str, dict] = {}
    for name, opts in read_backend_opts(items, used).items():
        for key, value in opts.items():
            (run if registry.is_run_option(name, key) else plan).setdefault(name, {})[key] = value
    return plan, run


def plan_warnings(table: SampleTable) -> list[str]:
    """Splits too small to choose a threshold (val) or report a score (test) on, and splits missing a fake type
    the plan holds; the plan is still made (a small demo is allowed), but the user is told before any work."""
    out = []
    by_split: dict[str, Counter] = {}
    for (t, _, split), c in table.group_counts().items():  # reals counted in the split they are made in
        by_split.setdefault(split, Counter())[t] += c
    planned = {t for t, c in table.expected.items() if c and t != "real"}
    for split in (s for s, w in table.plan.splits.items() if w > 0):
        c = by_split.get(split, Counter())
        fakes, reals = sum(v for t, v in c.items() if t != "real"), c["real"]
        if split != "train" and min(fakes, reals) < MIN_LABEL_PER_SPLIT:
            use = "choose a detector threshold on" if split == "val" else "measure a score on"
            out.append(f"split '{split}' has {fakes} fake(s) and {reals} real(s): too few to {use} "
                       f"(at least {MIN_LABEL_PER_SPLIT} of each); raise --n/--reals or its fraction")
        missing = sorted(planned - set(c))
        if missing and fakes:
            out.append(f"split '{split}' holds no {', '.join(missing)} sample: its scores say nothing about "
                       f"{'that type' if len(missing) == 1 else 'those types'}")
    return out + empty_mix_warnings(table) + glasses_warnings(table)


def empty_mix_warnings(table: SampleTable) -> list[str]:
    """A backend of a mix whose weight earns it no sample of its type (`landmark_swap:1,aligned_swap:1000000` over
    8 face swaps): it is in the plan and makes nothing, which had gone unsaid (7 Dec sweep)."""
    made = Counter()
    for (t, backend, _), c in table.group_counts().items():
        made[(t, backend)] += c
    out = []
    for t, mix in table.plan.backends.items():
        if isinstance(mix, dict) and table.expected.get(t):
            for backend in (b for b in mix if not made[(t, b)]):
                out.append(f"--backend {t}: {backend} gets none of the {table.expected[t]} {t} sample(s) at weight "
                           f"{mix[backend]:g} of {sum(mix.values()):g}; raise its weight or --n")
    return out


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def glasses_warnings(table: SampleTable) -> list[str]:
    """Splits where a backend that avoids glasses must still draw people who wear them (too few others), said
    plainly: who is drawn, why, and what to add to the sources."""
    out = []
    used = {(split, backend) for (t, backend, split), c in table.group_counts().items() if c and t != "real"}
    for split, backend in sorted(used):
        faces = sum(1 for _, kind in table.roles[backend] if kind in ("face", "video"))  # required face roles
        people = {it.identity for it in table.pools[split]["face"]}
        bare, worn = sorted(people - table.glasses), sorted(people & table.glasses)
        if table.avoid_glasses.get(backend) and faces and len(bare) < faces and worn:
            short = faces - len(bare)
            who = f"{', '.join(worn)}, who {'wears' if len(worn) == 1 else 'wear'} glasses"
            if bare:
                verb = "has" if len(bare) == 1 else "have"
                have = (f"only {len(bare)} of the {_people(len(people))} in this split {verb} none "
                        f"({', '.join(bare)}), so it also uses {who}")
            else:
                every = "both people" if len(people) == 2 else f"all {_people(len(people))}"
                have = f"{every} in this split ({', '.join(worn)}) wear glasses"
            out.append(f"split '{split}': each {backend} fake needs {_people(faces)} without glasses, but {have} "
                       f"(it works around glasses, less convincingly). Fix: add photos or videos of at least "
                       f"{short} more {'person' if short == 1 else 'people'} without glasses to the sources "
                       f"(people go to splits by a hash of their identity, so add a few)")
    return out
