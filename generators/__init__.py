"""Registry of generator backends: one module per backend, listed here by name.

A backend module follows the `Backend` protocol below, checked when it is loaded. Modules are imported on
first use, so a backend whose extra is not installed costs nothing until it is asked for. Helpers only
backends use live in `common/`. A backend may also take samples in
batches: `BATCH_SIZE` (or `batch_size(ctx)`) and `generate_batch(samples, sources_list, out_stems, ctx)` returning
one Generated or exception per sample, each output the same as `generate` gives for that sample alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np

from synthfake.checks import number
from synthfake.errors import SynthfakeError, require_one_of
from synthfake.registry import Contract, Registry
from synthfake.sample_spec import SampleSpec
from synthfake.shared_types import SAMPLE_TYPES
from synthfake.source_files import Source, Sources

BACKENDS: dict[str, str] = {
    "landmark_swap": "synthfake.generators.landmark_swap",
    "aligned_swap": "synthfake.generators.aligned_swap",
    "self_blend": "synthfake.generators.self_blend",
    "reencode": "synthfake.generators.reencode",
    "landmark_reenact": "synthfake.generators.landmark_reenact",
    "crop_reenact": "synthfake.generators.crop_reenact",
    "mouth_sync": "synthfake.generators.mouth_sync",
    "crop_sync": "synthfake.generators.crop_sync",
    "morph": "synthfake.generators.morph",
    "latent_decode": "synthfake.generators.latent_decode",
    "latent_decode_wide": "synthfake.generators.latent_decode_wide",
    "latent_decode_colour": "synthfake.generators.latent_decode_colour",
    "latent_decode_sharp": "synthfake.generators.latent_decode_sharp",
    "diffusers_t2i": "synthfake.generators.diffusers_t2i",
    "http_t2i": "synthfake.generators.http_t2i",
    "inswapper": "synthfake.generators.inswapper",
    "liveportrait": "synthfake.generators.liveportrait",
    "wav2lip": "synthfake.generators.wav2lip",
}


@dataclass
class Context:
    """Run settings a backend may need: where weights live, which device, the dataset's cache, the backend
    options ({backend: {option: value}}, as given: the plan's and this run's; `options()` fills the defaults),
    and whether weights that differ from their published sha256 may be used (`gen run --allow-unverified`)."""

    cache_dir: Path
    device: str = "cpu"
    weights_dir: Path | None = None
    backend_opts: dict = field(default_factory=dict)
    allow_unverified: bool = False


@dataclass(frozen=True)
class Option:
    """One backend option (`--backend-opt NAME.key=value`): its default, type, the allowed values when they are
    few, and for numbers the range [low, high]. A default of None means 'the backend decides' (e.g. per model).
    An option that decides a sample's bytes is recorded in plan.json; a `run` option (a timeout, a batch size:
    how fast, not what) is not, so a dataset may be resumed with another value."""

    default: str | int | float | bool | None
    type: type = str
    choices: tuple = ()
    help: str = ""
    run: bool = False
    low: float | None = None
    high: float | None = None


def parse_option(name: str, key: str, raw) -> str | int | float | bool:
    """`raw` (a CLI string, or a value read from plan.json) as option `key` of backend `name`, checked; a bad
    backend, key or value is a SynthfakeError naming it and what is allowed."""
    mod = get(name)
    opts: dict[str, Option] = getattr(mod, "OPTIONS", {})
    if key not in opts:
        known = ", ".join(sorted(opts)) or "none"
        raise SynthfakeError(f"--backend-opt {name}.{key}: unknown option of backend '{name}' (its options: {known})")
    o = opts[key]
    try:
        if o.type is bool and isinstance(raw, str):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            value = raw.lower() in ("1", "true", "yes")
        elif o.type in (int, float) and isinstance(raw, bool):
            raise ValueError(raw)
        else:
            value = o.type(raw)
    except (TypeError, ValueError):
        raise SynthfakeError(f"--backend-opt {name}.{key}={raw!r}: expected a {o.type.__name__}") from None
    if o.choices:
        require_one_of(value, o.choices, f"--backend-opt {name}.{key}={raw!r}: expected one of ")
    if o.type in (int, float):
        number(value, f"--backend-opt {name}.{key}", o.low, o.high)
    return value


def is_run_option(name: str, key: str) -> bool:
    """Whether option `key` of backend `name` is a `run` option (not recorded in plan.json)."""
    opt = getattr(get(name), "OPTIONS", {}).get(key)
    return bool(opt is not None and opt.run)


def options(module_name: str, ctx: Context) -> dict:
    """The options of the backend in module `module_name` (`__name__`): the plan's and the run's values over the
    defaults."""
    name = module_name.rsplit(".", 1)[-1]
    mod = get(name)
    given = ctx.backend_opts.get(name, {})
    return {k: (parse_option(name, k, given[k]) if k in given else o.default)
            for k, o in getattr(mod, "OPTIONS", {}).items()}


def stand_in_rng(seed: int) -> np.random.Generator:
    """The generator of a model-family stand-in's own choices (model, pipeline, masks), a stream apart from the
    draws of the weights-free backend it builds on (aligned_swap, crop_reenact, crop_sync)."""
    return np.random.default_rng([seed, 27])


def source_still(src: Source, params: dict) -> np.ndarray:
    """The still image of a source face, its frame recorded in params when the source is a video."""
    if src.item.kind == "video":
        params["source_frame"] = src.item.still_frame
    return src.still()


def source_face_at_most(src: Source, params: dict, even: bool = False,
                        closed_gap: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`source_still` and its face landmarks, scaled down (INTER_AREA) so its long side is at most
    params["max_side"]; `even`: each side rounded down to an even number (what H.264 needs); `closed_gap`: a
    video's still is its nearest frame with the lips closed to that gap (`Source.closed_mouth_still`)."""
    from synthfake import media  # here, so that listing backends stays light

    if closed_gap is not None and src.item.kind == "video":
        params["source_frame"] = k = src.closed_mouth_still(closed_gap)
        img, lm = src.frame(k), (src.track()[k] if k != src.item.still_frame else src.still_face().landmarks)
    else:
        img, lm = source_still(src, params), src.still_face().landmarks
    k = min(1.0, params["max_side"] / max(img.shape[:2]))
    if k < 1.0:
        img, lm = media.fit_within(img, params["max_side"], even), lm * k
    return img, lm


@dataclass
class Generated:
    """What a backend wrote and the parameters it actually used."""

    path: Path
    params: dict
    frames: int
    manipulated_frames: int
    weights: dict[str, str] = field(default_factory=dict)
    weights_unverified: list[str] = field(default_factory=list)  # files with no published sha256 to check


class Backend(Protocol):
    """What a backend module provides. Optional: `ROLES`, [(role, pool)] when it draws other sources than
    its type's (plan.ROLES); `OPTIONS`, {key: Option} it reads through `options(__name__, ctx)`;
    `AVOID_GLASSES`, True when the plan should prefer draws without people who wear glasses; `weight_specs(ctx)`,
    the weights files it loads (what `gen weights download` fetches)."""

    TYPE: str  # generation | face_swap | reenactment | lip_sync | real
    VERSION: str  # recorded as backend_version; bump when the output for one spec changes

    def ready(self, ctx: Context) -> str | None:
        """Optional (a backend without it is always ready): None when it can run here, else a one-line reason
        (missing extra, weights file...)."""

    def generate(self, sample: SampleSpec, sources: Sources, out_stem: Path, ctx: Context) -> Generated:
        """Write the sample beside `out_stem` (the writer adds the suffix); return what it wrote and used."""


def _backend_checks(mod: ModuleType) -> list[str]:
    """The backend's own part of the contract: its TYPE, AVOID_GLASSES and OPTIONS."""
    problems = []
    if getattr(mod, "TYPE", None) not in SAMPLE_TYPES:
        problems.append(f"TYPE {getattr(mod, 'TYPE', None)!r} is not one of {', '.join(SAMPLE_TYPES)}")
    if not isinstance(getattr(mod, "AVOID_GLASSES", False), bool):
        problems.append("AVOID_GLASSES must be a bool")
    for key, opt in getattr(mod, "OPTIONS", {}).items():
        if not isinstance(opt, Option):
            problems.append(f"OPTIONS[{key!r}] is not an Option")
    return problems


REGISTRY = Registry("backend", BACKENDS, Contract(run="generate", run_args=4, extra_checks=_backend_checks),
                    install_hint="install the extra it needs (pip install 'synthfake[models]')")


def get(name: str) -> Backend:
    """The backend module `name`, its contract checked once and cached (BackendNotReady when unknown or broken)."""
    return REGISTRY.get(name)  # type: ignore[return-value]


def why_not_ready(name: str, sample_type: str, ctx: Context) -> str | None:
    """None when backend `name` can make samples of `sample_type` here, else a one-line reason."""
    why = REGISTRY.why_not_ready(name, ctx)
    if why is None and get(name).TYPE != sample_type:
        return f"backend '{name}' makes {get(name).TYPE}, not {sample_type}"
    return why
