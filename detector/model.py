"""The classifier (a ViT; a small ResNet for from-scratch CPU recipes): find the fake class by name, build a tiny
config, load a local base, save and load.

Checkpoints are read with `from_pretrained(local_files_only=True)`: nothing is ever downloaded. The model
folder holds the HF checkpoint, a `preprocessor_config.json` and `detector.json` (threshold, frames,
margin, TTA, image size, fake index) written by training, read and checked in `meta.py`.
"""

from __future__ import annotations

import difflib
import inspect
import json
from dataclasses import asdict
from pathlib import Path

from synthfake.errors import SynthfakeError
from synthfake.files import write_json_atomic

from .meta import (META_FILE, SCORING_TYPES, TRAIN_LABELS, DetectorMeta, check_model_dir, fake_index, read_meta,
                   read_preprocessor, write_preprocessor)


def tiny_config(image_size: int = 224):
    """A ViT small enough for CPU smoke runs: hidden 32, 2 layers, 2 heads, patch 16, 2 named labels."""
    from transformers import ViTConfig

    return ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                     image_size=image_size, patch_size=16, num_labels=2, id2label=dict(TRAIN_LABELS),
                     label2id={v: k for k, v in TRAIN_LABELS.items()})


def quiet_loading() -> None:
    """No per-tensor 'Loading weights' bars from transformers (the CLI draws its own progress)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def register_types() -> None:
    """Our own model types known to the transformers Auto classes (before a config or a folder is read)."""
    from .residual_stats import register

    register()


def _vit_config(d: Path, allowed: tuple[str, ...] = ("vit",)):
    from transformers import AutoConfig

    check_model_dir(d)
    register_types()
    where = Path(d) / "config.json"
    try:
        raw = json.loads(where.read_bytes())
    except (OSError, ValueError) as e:  # transformers said only "OSError" of a config that is not JSON
        raise SynthfakeError(f"{where}: not a readable JSON config ({type(e).__name__}: "
                             f"{(str(e).splitlines() or [''])[0][:120]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("model_type"), str):
        raise SynthfakeError(f"{where}: no model_type (a transformers config.json names one, e.g. \"vit\")")
    try:
        cfg = AutoConfig.from_pretrained(str(d), local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as e:  # a field of the wrong type, an unknown model_type
        raise SynthfakeError(f"{where}: not a valid {raw['model_type']} config ({type(e).__name__}: "
                             f"{(str(e).strip().splitlines() or [''])[0][:160]})") from None
    if cfg.model_type not in allowed:
        raise SynthfakeError(f"{d}/config.json: model_type {cfg.model_type!r}; the detector needs a "
                             f"{' or '.join(allowed)} checkpoint")
    return cfg


def config_keys(cls) -> set[str]:
    """The keys a recipe's `model` section may set for config class `cls`: our own config's __init__ parameters
    (ResidualStatsConfig), else the fields of a default instance (ViTConfig, ResNetConfig), less what is not a
    setting (transformers' bookkeeping: model_type, transformers_version, _private)."""
    from .residual_stats import ResidualStatsConfig

    if cls is ResidualStatsConfig:
        params = inspect.signature(cls.__init__).parameters.values()
        return {p.name for p in params if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return {k for k in cls().to_dict() if not k.startswith("_") and k not in ("model_type", "transformers_version")}


def _near(key: str, known: set[str]) -> str:
    hit = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{hit[0]}'?)" if hit else ""


def scratch_config(arch: dict, image_size: int):
    """A from-scratch config of a recipe's `model` section: {"type": "vit" | "resnet" | "residual_stats", ...config
    fields}; a key the config does not know (a typo) is one line naming it, not stored and ignored."""
    from transformers import ResNetConfig, ViTConfig

    from .residual_stats import ResidualStatsConfig

    register_types()
    arch = dict(arch)
    kind = arch.pop("type", "vit")
    classes = {"vit": ViTConfig, "resnet": ResNetConfig, "residual_stats": ResidualStatsConfig}
    if kind not in classes:
        raise SynthfakeError(f"model type {kind!r}: a from-scratch recipe supports {', '.join(classes)}")
    labels = dict(num_labels=2, id2label=dict(TRAIN_LABELS), label2id={v: k for k, v in TRAIN_LABELS.items()})
    own = sorted(set(arch) & set(labels))
    if own:
        raise SynthfakeError(f"model {kind}: {', '.join(own)}: set by training (2 classes, "
                             f"{', '.join(TRAIN_LABELS.values())}), not by a recipe; leave it out")
    known = config_keys(classes[kind]) - set(labels)
    unknown = sorted(set(arch) - known)
    if unknown:  # a transformers config stores any key: a typo would be kept and never read
        raise SynthfakeError(f"model {kind}: unknown key{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(repr(k) + _near(k, known) for k in unknown)}; "
                             f"known: {', '.join(sorted(known))}")
    if kind in ("vit", "residual_stats"):
        arch.setdefault("image_size", image_size)
    try:
        return classes[kind](**arch, **labels)
    except (TypeError, ValueError) as e:
        raise SynthfakeError(f"model {kind} config {arch}: {e}") from None


def _weights_file(d: Path) -> str:
    names = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
    return next((str(Path(d) / n) for n in names if (Path(d) / n).exists()), f"{d}/(no weights file)")


def from_pretrained(d: Path, **kw):
    """A classifier (ViT, or a recipe's ResNet) from a local folder; a weights file that cannot be loaded safely
    (a pickle with more than tensors: refused by weights_only=True; a corrupt safetensors) is one line naming it."""
    import pickle
    import warnings

    from safetensors import SafetensorError
    from transformers import AutoModelForImageClassification

    register_types()
    try:
        with warnings.catch_warnings():  # torch's pickle-protocol warning precedes the refusal: one line is enough
            warnings.filterwarnings("ignore", category=UserWarning, module="torch.serialization")
            return AutoModelForImageClassification.from_pretrained(str(d), local_files_only=True, **kw)
    except pickle.UnpicklingError:
        raise SynthfakeError(f"{_weights_file(d)}: refused: a pickle holding more than tensors cannot be loaded "
                             "safely (weights_only=True); save the model as model.safetensors") from None
    except (OSError, ValueError, TypeError, RuntimeError, SafetensorError) as e:  # SafetensorError: its own class
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise SynthfakeError(f"{_weights_file(d)}: cannot load the weights ({type(e).__name__}: {first})") from None


def load_base(base: Path | None, image_size: int = 224, log=print, arch: dict | None = None):
    """A model to fine-tune and its meta: a local checkpoint, else a from-scratch config (`arch`, a recipe's
    `model` section; the tiny ViT when None).

    A base whose labels already name a fake class among two keeps its head (a deepfake detector);
    any other base (e.g. ImageNet's 1000 classes) gets a fresh 2-class head.
    """
    from transformers import AutoModelForImageClassification

    quiet_loading()
    if base is None:
        cfg = tiny_config(image_size) if arch is None else scratch_config(arch, image_size)
        model = AutoModelForImageClassification.from_config(cfg)
        return model, DetectorMeta(image_size=image_size, fake_index=1, fake_label="Fake")
    cfg = _vit_config(base)
    try:
        idx = fake_index(cfg.id2label) if cfg.num_labels == 2 else None
    except SynthfakeError:
        idx = None
    kw = {} if idx is not None else dict(num_labels=2, id2label=dict(TRAIN_LABELS),
                                         label2id={v: k for k, v in TRAIN_LABELS.items()},
                                         ignore_mismatched_sizes=True)
    if idx is None:
        labels = dict(cfg.id2label)
        shown = labels if len(labels) <= 4 else f"{len(labels)} labels ({', '.join(list(labels.values())[:3])}, ...)"
        log(f"{base}: labels {shown} name no single fake class among two: new 2-class head")
    model = from_pretrained(base, **kw)
    if idx is None and cfg.num_labels == 2:
        _fresh_head(model)
    idx = fake_index(model.config.id2label)
    mean, std = read_preprocessor(base, model.config.image_size)
    return model, DetectorMeta(image_size=model.config.image_size, fake_index=idx,
                               fake_label=model.config.id2label[idx], mean=mean, std=std, base=str(Path(base).resolve()))


def _fresh_head(model) -> None:
    """Draw the classifier anew, as from_pretrained draws a head of another shape: a 2-class head has the new
    head's shape, so its weights had been loaded and kept under the new labels ({0: 'tampered', 1: 'authentic'}
    trained as Real/Fake came out inverted; 7 Dec sweep)."""
    import torch

    head = model.classifier
    torch.nn.init.normal_(head.weight, std=model.config.initializer_range)  # as transformers draws a Linear
    torch.nn.init.zeros_(head.bias)


def save_detector(model, meta: DetectorMeta, out: Path) -> None:
    """save_pretrained (safetensors) + preprocessor_config.json + detector.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    mode = (out / "config.json").stat().st_mode & 0o777  # what the umask gives a file
    for w in out.glob("model*.safetensors"):  # written 0600: a copied folder was unreadable to its next user
        w.chmod(mode)
    write_preprocessor(out, meta)
    write_json_atomic(out / META_FILE, asdict(meta))


def check_device(device: str, fp16: bool) -> None:
    """A clear error for an unknown or absent device, or fp16 without CUDA."""
    import torch

    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise SynthfakeError(f"--device {device}: expected cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SynthfakeError(f"--device {device}: no CUDA device is visible to torch")
    if fp16 and not device.startswith("cuda"):
        raise SynthfakeError("--fp16: needs --device cuda (half precision on CPU is slow and inexact)")


def load_detector(d: Path, device: str = "cpu", fp16: bool = False, attn: str = "sdpa"):
    """(model in eval mode on `device`, meta) from a trained folder or any local ViT classifier checkpoint."""
    import torch

    check_device(device, fp16)
    quiet_loading()
    cfg = _vit_config(d, SCORING_TYPES)
    meta = read_meta(d, cfg)
    kw = {"attn_implementation": attn} if cfg.model_type == "vit" else {}
    model = from_pretrained(d, dtype=torch.float16 if fp16 else torch.float32, **kw)
    return model.to(device).eval(), meta
