"""Text-to-image with any local diffusers pipeline directory (FLUX.1 [schnell]/[dev], SDXL, SD3.5 ...).

The directory (a `save_pretrained` / `huggingface-cli download` layout with model_index.json) is named by
the backend option `model` (default FLUX.1-schnell; `--backend-opt diffusers_t2i.model=FLUX.1-dev`) and found
like any weights file. It is loaded once per
process with `DiffusionPipeline.from_pretrained(dir, torch_dtype=..., use_safetensors=True)` (diffusers
src/diffusers/pipelines/pipeline_utils.py) and called with prompt, num_inference_steps, guidance_scale,
height, width, generator (one `torch.Generator` per image, seeded by the sample) and output_type "np".
Defaults per family follow the diffusers FLUX docs (docs/source/en/api/pipelines/flux.md): schnell 4 steps,
guidance 0, max_sequence_length 256; dev 50 steps, guidance 3.5, max_sequence_length 512 (dev is the
transformer config with `guidance_embeds`); other pipelines use their own `__call__` defaults. Backend
options (recorded in plan.json) override steps, guidance, height, width, dtype, offload (none | model |
sequential, CUDA only) and max_sequence_length. Prompts come from generators/prompts.py.
In `gen run` it takes samples in batches (`generate_batch`; run option `--backend-opt diffusers_t2i.batch=K`, not
recorded in plan.json: it changes no image; default 8 on CUDA, 1 on CPU), each image with its own prompt and
seeded generator.
"""

from __future__ import annotations

import inspect
import json
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from synthfake import weights
from synthfake.generators.common import onnx_models
from synthfake.errors import BackendNotReady
from synthfake.generators import Context, Generated, Option, options
from synthfake.generators.common import prompts
from synthfake.weights import WeightSpec
from synthfake.writer import save_image

TYPE, ROLES = prompts.TYPE, prompts.ROLES  # what text-to-image makes, and no source drawn
VERSION = "1.0"
BATCH_SIZE = 8  # images per call on CUDA unless the run option `batch` says otherwise
DEFAULT_MODEL = "FLUX.1-schnell"
OLD_OPTIONS_FILE = "synthfake.json"  # read by earlier versions; now refused, its settings are backend options
OPTIONS = {  # --backend-opt diffusers_t2i.KEY=VALUE, recorded in plan.json; None: the family's or pipeline's default
    "model": Option(DEFAULT_MODEL, str, (), "pipeline directory under the weights places"),
    "steps": Option(None, int, low=1, high=1000), "guidance": Option(None, float, low=0, high=100),
    "height": Option(None, int, low=8, high=16384), "width": Option(None, int, low=8, high=16384),
    "max_sequence_length": Option(None, int, low=1, high=4096),
    "dtype": Option(None, str, ("float32", "bfloat16", "float16"), "default bfloat16 on CUDA, float32 on CPU"),
    "offload": Option("none", str, ("none", "model", "sequential"), "CUDA memory offload"),
    "batch": Option(None, int, (), "images per pipeline call (default 8 on CUDA, 1 on CPU)", run=True, low=1,
                    high=1024),  # a run option: not in plan.json, batched and unbatched images are identical
}
HUB = {"FLUX.1-schnell": "black-forest-labs/FLUX.1-schnell", "FLUX.1-dev": "black-forest-labs/FLUX.1-dev"}
FAMILY_DEFAULTS = {
    "flux-schnell": {"steps": 4, "guidance": 0.0, "height": 1024, "width": 1024, "max_sequence_length": 256},
    "flux-dev": {"steps": 50, "guidance": 3.5, "height": 1024, "width": 1024, "max_sequence_length": 512},
}


def spec(ctx: Context) -> WeightSpec:
    name = options(__name__, ctx)["model"]
    repo = HUB.get(Path(name).name)
    how = (f"`huggingface-cli download {repo} --local-dir <weights dir>/{name}`" if repo else
           "a diffusers pipeline directory (save_pretrained or huggingface-cli download) holding model_index.json")
    return WeightSpec(str(Path(name) / "model_index.json"), how, hub=repo)


def weight_specs(ctx: Context) -> list[WeightSpec]:
    """The pipeline folder `--backend-opt diffusers_t2i.model=` names (a hub snapshot for the FLUX.1 names)."""
    return [spec(ctx)]


def ready(ctx: Context) -> str | None:
    why = onnx_models.missing_modules("torch", "diffusers", "transformers", "safetensors")
    if why:
        return why
    found = weights.locate(spec(ctx).name, ctx.weights_dir)
    if found is None:
        return weights.missing_message(spec(ctx), ctx.weights_dir)
    if (found.parent / OLD_OPTIONS_FILE).exists():
        return (f"{found.parent / OLD_OPTIONS_FILE}: no longer read; remove it and pass its settings as "
                f"--backend-opt diffusers_t2i.KEY=VALUE (recorded in plan.json)")
    if ctx.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            return f"--device cuda: torch {torch.__version__} sees no CUDA device"
    return None


@dataclass
class Loaded:
    """A pipeline loaded once per process, with its family, settings and weights files' sha256."""

    pipe: object
    family: str
    opts: dict
    weights: dict[str, str]
    model: str


def _family(root: Path, index: dict) -> str:
    cls = index.get("_class_name", "")
    if cls.startswith("Flux"):
        cfg = json.loads((root / "transformer" / "config.json").read_text())
        return "flux-dev" if cfg.get("guidance_embeds") else "flux-schnell"
    return cls or "unknown"


def _options(root: Path, family: str, device: str, given: dict) -> dict:
    """The family's defaults under the plan's options (`given`, the ones not None)."""
    if (root / OLD_OPTIONS_FILE).exists():
        raise BackendNotReady(f"{root / OLD_OPTIONS_FILE}: no longer read (settings in a model folder are not in "
                              f"the plan); remove it and pass --backend-opt diffusers_t2i.KEY=VALUE (recorded in "
                              f"plan.json)")
    return {"dtype": "bfloat16" if device == "cuda" else "float32", "offload": "none",
            **FAMILY_DEFAULTS.get(family, {}), **{k: v for k, v in given.items() if v is not None and k != "model"}}


@lru_cache(maxsize=1)
def _load(model_dir: str, device: str, given: tuple = ()) -> Loaded:
    """The pipeline in `model_dir` with the plan's options `given` ((key, value) pairs, hashable for the cache)."""
    import torch
    import transformers
    from diffusers import DiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    for lib in (diffusers_logging, transformers.utils.logging):  # the run shows its own progress bar
        lib.set_verbosity_error()
        lib.disable_progress_bar()
    root = Path(model_dir)
    index = json.loads((root / "model_index.json").read_text())
    family = _family(root, index)
    opts = _options(root, family, device, dict(given))
    dtype = getattr(torch, opts["dtype"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch_dtype is renamed dtype in recent diffusers
        try:  # safetensors only: a pickled .bin is never unpickled
            pipe = DiffusionPipeline.from_pretrained(str(root), torch_dtype=dtype, local_files_only=True,
                                                     use_safetensors=True)
        except (OSError, ValueError) as e:
            first = (str(e).strip().splitlines() or [""])[0][:300]
            raise BackendNotReady(f"{root}: not loadable as a diffusers pipeline "
                                  f"({type(e).__name__}: {first})") from None
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    pipe.set_progress_bar_config(disable=True)
    if device == "cuda" and opts["offload"] == "model":
        pipe.enable_model_cpu_offload()
    elif device == "cuda" and opts["offload"] == "sequential":
        pipe.enable_sequential_cpu_offload()
    else:
        pipe.to(device)
    return Loaded(pipe, family, opts, used_files(root), root.name)


def used_files(root: Path) -> dict[str, str]:
    """{dir/relative path: sha256} of the safetensors files from_pretrained loads (no fp16/bf16 variants)."""
    return {f"{root.name}/{p.relative_to(root).as_posix()}": weights.sha256(p) for p in weights.directory_files(root)
            if p.suffix == ".safetensors" and "." not in p.stem}


def call_settings(loaded: Loaded) -> dict:
    """The steps, guidance and size actually passed (pipeline defaults where the family has none)."""
    sig = inspect.signature(loaded.pipe.__call__).parameters
    o = loaded.opts

    def default(key, arg):
        return o[key] if key in o else (sig[arg].default if arg in sig else None)

    out = {"steps": default("steps", "num_inference_steps"), "guidance": default("guidance", "guidance_scale"),
           "height": o.get("height"), "width": o.get("width")}
    if "max_sequence_length" in sig:
        out["max_sequence_length"] = default("max_sequence_length", "max_sequence_length")
    return out


def render(loaded: Loaded, texts: list[str], seeds: list[int]) -> list[np.ndarray]:
    """One batch through the pipeline: RGB uint8 images, image k seeded by seeds[k] on a CPU generator."""
    import torch

    s = call_settings(loaded)
    kwargs = {"prompt": list(texts), "num_inference_steps": s["steps"], "guidance_scale": s["guidance"],
              "generator": [torch.Generator("cpu").manual_seed(int(x)) for x in seeds], "output_type": "np"}
    for k in ("height", "width", "max_sequence_length"):
        if s.get(k) is not None:
            kwargs[k] = s[k]
    with torch.inference_mode():
        images = loaded.pipe(**kwargs).images
    return [np.clip(np.asarray(im) * 255.0 + 0.5, 0, 255).astype(np.uint8) for im in images]


def model_dir(ctx: Context) -> Path:
    return weights.require(spec(ctx), ctx.weights_dir).parent


def load(ctx: Context) -> Loaded:
    """The pipeline the plan names, with the plan's options."""
    given = {k: v for k, v in options(__name__, ctx).items() if not OPTIONS[k].run}
    return _load(str(model_dir(ctx).resolve()), ctx.device, tuple(sorted(given.items())))


def batch_size(ctx: Context) -> int:
    """Images per pipeline call: the run option `batch`, else BATCH_SIZE on CUDA and 1 on CPU."""
    given = options(__name__, ctx)["batch"]
    return given if given is not None else (BATCH_SIZE if ctx.device == "cuda" else 1)


def generate_batch(samples, sources_list, out_stems: list[Path], ctx: Context) -> list[Generated]:
    """One pipeline call for several samples; each keeps its own prompt and seeded generator, so its image
    is the one `generate` makes for it alone (byte-identical on CPU, tested)."""
    import diffusers

    loaded = load(ctx)
    texts = [prompts.sample(x.seed) for x in samples]
    images = render(loaded, [t.text for t in texts], [x.seed for x in samples])
    s = call_settings(loaded)
    out = []
    for prompt, image, stem in zip(texts, images, out_stems):
        params = {"prompt": prompt.text, "prompt_attributes": prompt.attributes(), "model": loaded.model,
                  "pipeline": type(loaded.pipe).__name__, "family": loaded.family,
                  "scheduler": type(loaded.pipe.scheduler).__name__, **s, "height": int(image.shape[0]),
                  "width": int(image.shape[1]), "dtype": loaded.opts["dtype"], "offload": loaded.opts["offload"],
                  "device": ctx.device, "generator": "torch.Generator(cpu).manual_seed(seed)",
                  "diffusers": diffusers.__version__}
        out.append(Generated(save_image(stem, image), params, 1, 1, dict(loaded.weights)))
    return out


def generate(sample, sources, out_stem: Path, ctx: Context) -> Generated:
    return generate_batch([sample], [sources], [out_stem], ctx)[0]
