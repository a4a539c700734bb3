"""The classifier (a ViT; a small ResNet for from-scratch CPU recipes): find the fake class by name, build a tiny
config, load a local base, save and load.

Checkpoints are read with `from_pretrained(local_files_only=True)`: nothing is ever downloaded. The model
folder holds the HF checkpoint, a `preprocessor_config.json` and `detector.json` (threshold, frames,
margin, TTA, image size, fake index) written by training.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from synthfake.errors import SynthfakeError, require_one_of
from synthfake.files import read_json, write_json_atomic

META_FILE = "detector.json"
ONNX_META = "onnx.json"  # written by onnx_export.export_onnx
ONNX_META_KEY = "detector_json"  # onnx.json: true when the export read the folder's detector.json (a trained folder)
PREPROCESSOR_FILE = "preprocessor_config.json"
FAKE_WORDS = ("fake", "spoof", "manipulat", "synthetic", "generated", "forged", "forgery", "artificial")
FAKE_TOKENS = ("ai",)  # only as a whole word ("AI-generated", "ai")
TRAIN_LABELS = {0: "Real", 1: "Fake"}  # a fresh 2-class head


@dataclass
class DetectorMeta:
    """What scoring needs besides the weights; saved as detector.json beside the checkpoint."""

    threshold: float = 0.5
    frames: int = 40
    margin: float = 0.3
    tta: bool = True
    image_size: int = 224
    fake_index: int = 1
    fake_label: str = "Fake"
    mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    std: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    detect_side: int = 360
    fallback_label: int = 0
    center_fallback: bool = False
    leave_out: str | None = None
    val_macro_f1: float | None = None
    val_files: int = 0
    threshold_rule: str = "val"  # how the threshold was chosen (train.pick_threshold)
    train_crops: int = 0
    base: str | None = None
    dataset_plan: str | None = None  # the hash of the dataset's plan.json it was trained on (ids derive from it)
    seed: int | None = None  # the training seed
    training: dict = field(default_factory=dict)  # the training options (epochs, lr, frames ...), as run


def is_fake_label(name: str) -> bool:
    """Whether a class name says fake (a whole-word 'ai' counts, 'Realism' does not)."""
    low = str(name).lower()
    words = re.findall(r"[a-z]+", low)
    return any(w in low for w in FAKE_WORDS) or any(t in words for t in FAKE_TOKENS)


def fake_index(id2label: dict) -> int:
    """Index of the one class whose name says fake (Fake, Deepfake, spoof, manipulated ...): never assumed."""
    hits = [int(i) for i, name in id2label.items() if is_fake_label(name)]
    if len(hits) != 1:
        names = ", ".join(f"{i}={n!r}" for i, n in sorted(id2label.items(), key=lambda kv: int(kv[0])))
        why = "none" if not hits else "more than one"
        raise SynthfakeError(f"id2label {{{names}}}: {why} of the labels is named like a fake class "
                             f"(fake, deepfake, spoof, manipulated, synthetic, generated)")
    return hits[0]


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


def _check_dir(d: Path) -> None:
    if not (Path(d) / "config.json").is_file():
        raise SynthfakeError(f"{d}: not a model folder (no config.json)")


def read_preprocessor(d: Path, image_size: int) -> tuple[list[float], list[float]]:
    """image_mean / image_std of a checkpoint's preprocessor_config.json (0.5s when absent)."""
    p = Path(d) / PREPROCESSOR_FILE
    if not p.is_file():
        return [0.5] * 3, [0.5] * 3
    cfg = read_json(p)
    size = cfg.get("size")
    if isinstance(size, dict) and "height" in size and (size["height"], size.get("width")) != (image_size,) * 2:
        raise SynthfakeError(f"{p}: size {size} differs from the model's image_size {image_size}")
    if cfg.get("do_normalize", True) is False:
        return [0.0] * 3, [1.0] * 3
    return [float(x) for x in cfg.get("image_mean", [0.5] * 3)], [float(x) for x in cfg.get("image_std", [0.5] * 3)]


def write_preprocessor(d: Path, meta: DetectorMeta) -> None:
    """A ViTImageProcessor-compatible preprocessor_config.json, so HF tools load the folder too."""
    write_json_atomic(Path(d) / PREPROCESSOR_FILE, {
        "image_processor_type": "ViTImageProcessor", "do_resize": True, "resample": 2,
        "size": {"height": meta.image_size, "width": meta.image_size}, "do_rescale": True,
        "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": meta.mean, "image_std": meta.std})


SCORING_TYPES = ("vit", "resnet", "residual_stats")  # checkpoints a trained detector folder may hold


def register_types() -> None:
    """Our own model types known to the transformers Auto classes (before a config or a folder is read)."""
    from .residual_stats import register

    register()


def _vit_config(d: Path, allowed: tuple[str, ...] = ("vit",)):
    from transformers import AutoConfig

    _check_dir(d)
    register_types()
    cfg = AutoConfig.from_pretrained(str(d), local_files_only=True)
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

    from transformers import AutoModelForImageClassification

    register_types()
    try:
        with warnings.catch_warnings():  # torch's pickle-protocol warning precedes the refusal: one line is enough
            warnings.filterwarnings("ignore", category=UserWarning, module="torch.serialization")
            return AutoModelForImageClassification.from_pretrained(str(d), local_files_only=True, **kw)
    except pickle.UnpicklingError:
        raise SynthfakeError(f"{_weights_file(d)}: refused: a pickle holding more than tensors cannot be loaded "
                             "safely (weights_only=True); save the model as model.safetensors") from None
    except (OSError, ValueError, RuntimeError) as e:
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
        log(f"{base}: labels {dict(cfg.id2label)} name no single fake class among two: new 2-class head")
    model = from_pretrained(base, **kw)
    idx = fake_index(model.config.id2label)
    mean, std = read_preprocessor(base, model.config.image_size)
    return model, DetectorMeta(image_size=model.config.image_size, fake_index=idx,
                               fake_label=model.config.id2label[idx], mean=mean, std=std, base=str(base))


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


def config_json(d: Path) -> dict:
    """config.json of a model folder as plain JSON (scoring with onnxruntime needs no transformers)."""
    _check_dir(d)
    p = Path(d) / "config.json"
    cfg = read_json(p)
    require_one_of(cfg.get("model_type"), SCORING_TYPES,
                   f"{p}: model_type {cfg.get('model_type')!r}; a detector folder holds one of ")
    cfg["id2label"] = {int(k): v for k, v in cfg.get("id2label", {0: "LABEL_0", 1: "LABEL_1"}).items()}
    cfg.setdefault("image_size", 224)
    return cfg


OWN_TYPES = ("residual_stats",)  # model types only `gen detect train` makes (registered by synthfake itself)


def trained_here(d: Path, model_type: str | None) -> str:
    """Why folder `d` shows it was made by `gen detect train` ('' when nothing says so): config.json of a model type
    only our training makes, or onnx.json recording that the export read this folder's detector.json (a plain
    checkpoint exported with `gen detect export` has onnx.json too, so its mere presence says nothing)."""
    if model_type in OWN_TYPES:
        return f"config.json: model_type {model_type!r}, which only it makes"
    p = Path(d) / ONNX_META
    try:
        info = read_json(p) if p.is_file() else {}
    except SynthfakeError:  # a corrupt onnx.json is the ONNX scorer's to report
        info = {}
    if isinstance(info, dict) and info.get(ONNX_META_KEY) is True:
        return f"{ONNX_META}: model.onnx was exported with its {META_FILE}"
    return ""


def read_meta(d: Path, cfg=None) -> DetectorMeta:
    """detector.json when present (a trained folder), else defaults for a plain HF checkpoint. A folder made by
    `gen detect train` (`trained_here`) without its detector.json is refused: defaults (threshold 0.5, 40 frames)
    would flip its labels without a word."""
    if cfg is None:
        from types import SimpleNamespace

        raw_cfg = config_json(d)
        cfg = SimpleNamespace(**{k: raw_cfg.get(k) for k in ("id2label", "image_size", "model_type")})
    idx = fake_index(cfg.id2label)
    p = Path(d) / META_FILE
    if p.is_file():
        raw = read_json(p)
        if not isinstance(raw, dict):
            raise SynthfakeError(f"{p}: expected a JSON object of scoring settings, got {type(raw).__name__}")
        known = {f.name for f in fields(DetectorMeta)}
        meta = DetectorMeta(**{k: v for k, v in raw.items() if k in known})
        check_meta(p, meta, cfg)
        if meta.fake_index != idx:
            raise SynthfakeError(f"{p}: fake_index {meta.fake_index} disagrees with config.json's id2label "
                                 f"(fake class {idx} {cfg.id2label[idx]!r})")
        return meta
    if why := trained_here(d, getattr(cfg, "model_type", None)):
        raise SynthfakeError(f"{p}: missing, though {d} was made by `gen detect train` ({why}); it held the "
                             f"threshold, frames and crop settings: copy {META_FILE} back from the folder the model "
                             f"came from, or train again (defaults would change its labels)")
    size = getattr(cfg, "image_size", 224)
    mean, std = read_preprocessor(d, size)
    return DetectorMeta(image_size=size, fake_index=idx, fake_label=cfg.id2label[idx], mean=mean, std=std)


SIZED_TYPES = ("vit", "residual_stats")  # built for one crop size (config.json's image_size); a ResNet takes any


def check_meta(p: Path, meta: DetectorMeta, cfg=None) -> None:
    """One line naming detector.json and the field when a value (a hand edit) cannot be scored with; `cfg` (the
    model's config): also an image_size other than the one the model was built for."""
    from synthfake.checks import is_number

    def whole(v, low: int) -> bool:
        return is_number(v, low) and isinstance(v, int)

    def three(v, low: float) -> bool:
        return isinstance(v, list) and len(v) == 3 and all(is_number(x, low) for x in v)

    bad = {
        "threshold": not is_number(meta.threshold, 0, 1) and "a number from 0 to 1",
        "frames": not whole(meta.frames, 1) and "a whole number of frames, at least 1",
        "image_size": not whole(meta.image_size, 8) and "a whole number of pixels, at least 8",
        "detect_side": not whole(meta.detect_side, 32) and "a whole number of pixels, at least 32",
        "margin": not is_number(meta.margin, 0, 2) and "a number from 0 to 2",
        "fallback_label": meta.fallback_label not in (0, 1) and "0 or 1",
        "tta": not isinstance(meta.tta, bool) and "true or false",
        "mean": not three(meta.mean, -math.inf) and "3 numbers",
        "std": not (three(meta.std, 0) and 0 not in meta.std) and "3 positive numbers",
    }
    field_, want = next(((k, v) for k, v in bad.items() if v), (None, None))
    if field_:
        raise SynthfakeError(f"{p}: {field_} {getattr(meta, field_)!r}: expected {want}")
    built = getattr(cfg, "image_size", None)
    if getattr(cfg, "model_type", None) in SIZED_TYPES and built is not None and built != meta.image_size:
        raise SynthfakeError(f"{p}: image_size {meta.image_size}, but the model (config.json) was built for "
                             f"{built}x{built} crops; set image_size back to {built}")


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
