"""What scoring needs besides the weights, read as plain JSON (no torch, no transformers): `detector.json`
(threshold, frames, margin, TTA, image size, fake index) checked against the model's `config.json`, the fake
class found by name, and the preprocessor's mean and std. `model.py` builds, saves and loads the networks."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
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
    seen_sources: list[str] = field(default_factory=list)  # sha256[:16] of the picture and clip files behind the
    # train and val splits: an evaluation can tell a file (or a sample made from one) the model has seen


SEEN_PREFIX = 16  # hex digits of a source's sha256 that seen_sources keeps


def required_seen(meta: DetectorMeta) -> frozenset[str]:
    """The model's seen_sources, which `--unseen` needs: one line when a model trained before they were recorded
    has none."""
    if not meta.seen_sources:
        raise SynthfakeError("--unseen: this model's detector.json lists no seen_sources (trained before they were "
                             "recorded): train it again to use --unseen")
    return frozenset(meta.seen_sources)


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


def check_model_dir(d: Path) -> None:
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


def config_json(d: Path) -> dict:
    """config.json of a model folder as plain JSON (scoring with onnxruntime needs no transformers)."""
    check_model_dir(d)
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
