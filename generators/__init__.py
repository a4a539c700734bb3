"""Registry of generator backends: one module per backend, listed here by name.

A backend module has `NAME`, `TYPE` (generation | face_swap | reenactment | lip_sync | real),
`VERSION`, `ready(ctx) -> str | None` (None when it can run, else why not) and
`generate(sample, sources, out_stem, ctx) -> Generated`. A backend may also take samples in batches:
`BATCH_SIZE` (or `batch_size(ctx)`) and `generate_batch(samples, sources_list, out_stems, ctx)` returning one
Generated or exception per sample, each output the same as `generate` gives for that sample alone.
Modules are imported on first use, so a
backend whose extra is not installed costs nothing until it is asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from synthfake.errors import BackendNotReady

BACKENDS: dict[str, str] = {
    "landmark_swap": "synthfake.generators.landmark_swap",
    "reencode": "synthfake.generators.reencode",
    "landmark_reenact": "synthfake.generators.landmark_reenact",
    "mouth_sync": "synthfake.generators.mouth_sync",
    "morph": "synthfake.generators.morph",
    "diffusers_t2i": "synthfake.generators.diffusers_t2i",
    "http_t2i": "synthfake.generators.http_t2i",
    "inswapper": "synthfake.generators.inswapper",
    "liveportrait": "synthfake.generators.liveportrait",
    "wav2lip": "synthfake.generators.wav2lip",
}


@dataclass
class Context:
    """Run settings a backend may need: where weights live, which device, the dataset's cache."""

    cache_dir: Path
    device: str = "cpu"
    weights_dir: Path | None = None


@dataclass
class Generated:
    """What a backend wrote and the parameters it actually used."""

    path: Path
    params: dict
    frames: int
    manipulated_frames: int
    weights: dict[str, str] = field(default_factory=dict)


def get(name: str) -> ModuleType:
    if name not in BACKENDS:
        raise BackendNotReady(f"backend '{name}': unknown (known: {', '.join(sorted(BACKENDS))})")
    return importlib.import_module(BACKENDS[name])


def why_not_ready(name: str, sample_type: str, ctx: Context) -> str | None:
    """None when backend `name` can make samples of `sample_type` here, else a one-line reason."""
    try:
        mod = get(name)
    except BackendNotReady as e:
        return str(e)
    except ImportError as e:
        return f"backend '{name}': missing dependency ({e.name}); install the extra it needs"
    if mod.TYPE != sample_type:
        return f"backend '{name}' makes {mod.TYPE}, not {sample_type}"
    return mod.ready(ctx)
