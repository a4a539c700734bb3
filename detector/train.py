"""Fine-tune a ViT (or train a recipe's small network from scratch) on a dataset's train split (transformers
Trainer), pick the threshold on val, save.

Every face crop of a training file is one example labelled with the file's label. The threshold is chosen
on file-level validation scores made exactly as `predict` makes them (same frames, flips and mean), so
the saved threshold fits the scores it will be applied to, and pulled toward 0.5 by how few people val holds
(`pick_threshold`). Under torchrun / accelerate the Trainer runs
data-parallel unchanged; only the main process scores validation and writes the model folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch

from synthfake.checks import is_number
from synthfake.errors import SynthfakeError
from synthfake.progress import sample_progress

from .augment import AugmentSettings
from .crops import CropSettings, iter_record_crops
from .evaluate import plan_hash, score_records, seen_sources, split_records
from .metrics import best_threshold, macro_f1_at
from .meta import DetectorMeta
from .model import check_device, load_base, save_detector
from .onnx_export import export_onnx
from .score import takes_media
from . import train_log
from .train_examples import CropDataset, collate, file_weights, media_weights, with_pseudo_fakes


DEFAULT_RECIPE = Path(__file__).with_name("default_recipe.json")  # recipes/detector/ holds the same file
# recipe keys that have no command-line flag, with their defaults (the tiny ViT: no model section)
RECIPE_ONLY = {"model": None, "augment": None, "self_blend": 0.0, "schedule": "linear", "warmup": 0.0,
               "weight_decay": 0.01, "balance_files": False, "balance_media": False, "l2": 0.0,
               "threshold_prior_people": 2.0}
SCHEDULES = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup")


def check_recipe_only(v: dict, where) -> None:
    """The recipe-only keys' values (no flag checks them): one line naming the recipe and key."""
    bad = {"self_blend": not is_number(v["self_blend"], 0, 1) and "a share from 0 to 1",
           "warmup": not is_number(v["warmup"], 0, 1) and "a share of the steps from 0 to 1",
           "weight_decay": not is_number(v["weight_decay"], 0) and "a number >= 0",
           "l2": not is_number(v["l2"], 0) and "a number >= 0",
           "threshold_prior_people": not is_number(v["threshold_prior_people"], 0) and "a number of people >= 0",
           "balance_files": not isinstance(v["balance_files"], bool) and "true or false",
           "balance_media": not isinstance(v["balance_media"], bool) and "true or false",
           "schedule": v["schedule"] not in SCHEDULES and f"one of {', '.join(SCHEDULES)}"}
    key, want = next(((k, w) for k, w in bad.items() if w), (None, None))
    if key:
        raise SynthfakeError(f"{where}: {key}: expected {want}, got {v[key]!r}")


@dataclass
class TrainOptions:
    """Settings of one training run (CLI flags)."""

    base: Path | None = None
    image_size: int = 224  # tiny config only; a base checkpoint brings its own
    epochs: float = 3.0
    batch_size: int = 32
    lr: float | None = None  # default: 5e-5 with a base, 1e-3 for the tiny config from scratch
    frames: int = 8  # frames per training video
    score_frames: int = 40  # frames per video when scoring (validation, predict)
    margin: float = 0.3
    leave_out: str | None = None
    center_fallback: bool = False
    fallback_label: int = 0
    seed: int = 0
    workers: int = 2
    device: str = "cpu"
    fp16: bool = False
    eval_batch_size: int = 16
    cache_root: Path | None = None
    show: bool = True
    model: dict | None = None  # a recipe's from-scratch architecture ({"type": "resnet", ...}); None: tiny ViT
    augment: dict | None = None  # AugmentSettings fields to change
    self_blend: float = 0.0  # self-blended pseudo-fakes made on the fly per real training crop (pseudo_fakes.py)
    schedule: str = "linear"  # the learning-rate schedule (transformers' lr_scheduler_type: linear, cosine ...)
    warmup: float = 0.0  # share of the steps spent warming the learning rate up
    weight_decay: float = 0.01
    balance_files: bool = False  # each training file weighs the same in the loss, a photo's one crop as a clip's 16
    balance_media: bool = False  # within photos and within videos, fakes and reals weigh the same (`media_weights`)
    l2: float = 0.0  # L2 penalty in the loss on the trained weight matrices (a ridge on the head, not AdamW's decay)
    threshold_prior_people: float = 2.0  # how many val people 0.5 weighs as in `pick_threshold` (0: val's best)


def penalised_trainer(base, l2: float):
    """A `base` (transformers Trainer) subclass whose loss weighs each crop by the batch's `weights` when given
    (`file_weights`) and adds `l2` times the sum of squares of the trained weight matrices (biases go free)."""

    class PenalisedTrainer(base):
        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            weights, labels = inputs.pop("weights", None), inputs.pop("labels")
            out = model(**inputs, labels=labels)
            loss = getattr(out, "crop_loss", None)  # a model whose loss is not its logits' (media heads)
            loss = torch.nn.functional.cross_entropy(out.logits, labels, reduction="none") if loss is None else loss
            loss = loss.mean() if weights is None else (loss * weights).sum() / weights.sum()
            if l2:
                loss = loss + l2 * sum((p ** 2).sum() for p in model.parameters() if p.requires_grad and p.ndim > 1)
            return (loss, out) if return_outputs else loss

    return PenalisedTrainer


def augment_settings(changes: dict | None) -> AugmentSettings:
    """AugmentSettings with a recipe's changes (ranges as 2-lists); one-line error on an unknown field."""
    known = {f.name for f in fields(AugmentSettings)}
    bad = sorted(set(changes or {}) - known)
    if bad:
        raise SynthfakeError(f"augment: unknown field(s) {', '.join(bad)} (known: {', '.join(sorted(known))})")
    a = AugmentSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in (changes or {}).items()})
    limits = {"scale": (0.01, 1.0), "sigma": (0.0, 50.0), "sharpen": (0.0, 10.0), "quality": (1, 100),
              "crf": (0, 51), "noise": (0.0, 50.0)}
    for f in fields(AugmentSettings):
        v = getattr(a, f.name)
        ok = (is_number(v, 0, 1) if f.name.startswith("p_")
              else isinstance(v, tuple) and len(v) == 2 and all(is_number(x, *limits[f.name]) for x in v)
              and v[0] <= v[1] if f.name in limits
              else is_number(v, 0, 1) and v < 1)  # jitter
        if not ok:
            want = ("a probability from 0 to 1" if f.name.startswith("p_") else
                    f"[lo, hi] within {limits[f.name][0]:g}..{limits[f.name][1]:g}" if f.name in limits else
                    "a number from 0 to below 1")
            raise SynthfakeError(f"augment: {f.name} {getattr(a, f.name)!r}: expected {want}")
    return a


def training_items(dataset: Path, records, s: CropSettings, meta: DetectorMeta, o: TrainOptions, log) -> list:
    """(cache file, crop index, class index, is a video's) for every crop of every training record; files
    without crops are logged and skipped."""
    from .crops import cache_file, is_video_file

    root = o.cache_root or Path(dataset) / "cache" / "crops"
    real_index = 1 - meta.fake_index
    items, skipped = [], 0
    with sample_progress(len(records), "cropping train", o.show) as advance:
        for r, fc in zip(records, iter_record_crops(dataset, records, s, o.workers, o.cache_root)):
            advance()
            if not len(fc.crops):
                skipped += 1
                log(f"{r.path}: {fc.reason}: not used for training")
                continue
            cls, video = meta.fake_index if r.label == 1 else real_index, is_video_file(r.path)
            items += [(str(cache_file(root, s, r.id)), j, cls, video) for j in range(len(fc.crops))]
    if skipped:
        log(f"{skipped} of {len(records)} training file(s) gave no crops")
    return items


def learning_rate(o: TrainOptions) -> float:
    """--lr, else 5e-5 fine-tuning a --base, 1e-3 from scratch."""
    return o.lr if o.lr is not None else (5e-5 if o.base else 1e-3)


def recorded_options(o: TrainOptions) -> dict:
    """The options that decide the model, as detector.json records them (not where caches live or progress)."""
    skip = {"cache_root", "show", "workers"}
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(o).items() if k not in skip}


def _say_if_unfinished(dataset: Path, log) -> None:
    """One line when a `gen run` dataset holds fewer records than its plan (a shard not run yet, or failures):
    training goes on with what is there, as `gen export --partial` would."""
    from synthfake.manifest import read_failures
    from synthfake.plan import Plan

    if not (dataset / "plan.json").is_file():
        return  # an export: what it holds is the dataset
    total, held = Plan.from_file(dataset / "plan.json").total, len(split_records(dataset, "all"))
    if held < total:
        failed = len({f.index for f in read_failures(dataset)})
        log(f"note: {dataset} holds {held} of its {total} planned samples ({failed} failed, "
            f"{max(0, total - held - failed)} not made yet: `gen status {dataset}`); training on those {held}")


def _check_batch_size(model, batch_size: int) -> None:
    """A network that normalises over the batch (BatchNorm) cannot train on one crop at a time: refused before
    any crop is made (it was a traceback from inside the Trainer)."""
    from torch import nn

    if batch_size < 2 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise SynthfakeError(f"--batch-size {batch_size}: the {model.config.model_type} network normalises over the "
                             f"batch (BatchNorm) and cannot train on one crop at a time; use 2 or more")


def train(dataset: Path, out: Path, o: TrainOptions, log=print) -> DetectorMeta:
    """Train, choose the threshold on val, save the model folder; returns the saved meta."""
    from transformers import Trainer, TrainingArguments, set_seed

    dataset = Path(dataset)
    train_recs = split_records(dataset, "train", o.leave_out, keep="without")
    val_recs = split_records(dataset, "val", o.leave_out, keep="without")
    if len({r.label for r in train_recs}) < 2:
        held = f" once {o.leave_out!r} is left out" if o.leave_out else ""
        raise SynthfakeError(f"{dataset}: the train split needs both real and fake samples{held} "
                             f"(found {len(train_recs)} record(s), labels {sorted({r.label for r in train_recs})})")
    check_device(o.device, o.fp16)
    _say_if_unfinished(dataset, log)
    set_seed(o.seed)  # the new head's weights are drawn here, before the Trainer seeds itself: same seed, same model
    model, meta = load_base(o.base, o.image_size, log, o.model)
    _check_batch_size(model, o.batch_size)
    meta = replace(meta, frames=o.score_frames, margin=o.margin, leave_out=o.leave_out,
                   center_fallback=o.center_fallback, fallback_label=o.fallback_label,
                   dataset_plan=plan_hash(dataset), seed=o.seed, seen_sources=seen_sources(train_recs + val_recs),
                   training={**recorded_options(o), "image_size": meta.image_size, "lr": learning_rate(o)})
    # as run: a --base brings its own image size, and a default lr was recorded as null (7 Dec sweep)
    s = CropSettings(frames=o.frames, margin=o.margin, size=meta.image_size, detect_side=meta.detect_side,
                     center_fallback=o.center_fallback)
    items = training_items(dataset, train_recs, s, meta, o, log)
    if not items:
        raise SynthfakeError(f"{dataset}: no face crops in the train split; nothing to train on")
    meta.train_crops = len(items)
    if o.self_blend:
        items = with_pseudo_fakes(items, o.self_blend, meta.fake_index, o.seed)
        log(f"{len(items) - meta.train_crops} self-blended pseudo-fake(s) per epoch from real crops")
    lr = learning_rate(o)
    args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=o.batch_size, num_train_epochs=o.epochs, learning_rate=lr,
        weight_decay=o.weight_decay, warmup_steps=o.warmup, lr_scheduler_type=o.schedule,
        logging_steps=max(1, len(items) // o.batch_size),
        save_strategy="no", report_to="none", use_cpu=o.device == "cpu", fp16=o.fp16, seed=o.seed,
        remove_unused_columns=False, disable_tqdm=not o.show, dataloader_num_workers=0,
        dataloader_drop_last=len(items) % o.batch_size == 1)  # BatchNorm cannot train on a last batch of one crop
    aug = augment_settings(o.augment)
    weights = None
    for on, weigh in ((o.balance_files, file_weights), (o.balance_media, media_weights)):
        if on:
            w = weigh(items)
            weights = w if weights is None else weights * w
    trainer_class = Trainer if weights is None and not o.l2 else penalised_trainer(Trainer, o.l2)
    examples = CropDataset(items, meta, o.seed, aug, weights, media=takes_media(model))
    trainer = trainer_class(model=model, args=args, train_dataset=examples, data_collator=collate)
    train_log.attach(trainer, o.show, log, train_log.val_scorer(meta, dataset, val_recs, o))  # lines, not dicts
    trainer.train()
    if not trainer.is_world_process_zero():
        return meta
    model = trainer.model.eval()
    meta = choose_threshold(model, meta, dataset, val_recs, o, log)
    save_detector(model, meta, out)
    export_onnx(model, meta, out, log=log)  # scoring runs on onnxruntime, without torch
    return meta


def choose_threshold(model, meta: DetectorMeta, dataset: Path, val_recs, o: TrainOptions, log) -> DetectorMeta:
    """The threshold `pick_threshold` gives on the val split's scores; 0.5 when val cannot decide."""
    scores = score_records(model, meta, dataset, val_recs, o.eval_batch_size, o.workers, o.cache_root, o.show,
                           "scoring val")
    scored = [(r, sc.prob) for r, sc in zip(val_recs, scores) if sc.prob is not None]
    for r, sc in zip(val_recs, scores):  # said, as a training file without crops is (they were dropped silently)
        if sc.prob is None:
            log(f"{r.path}: {sc.reason}: not used for choosing the threshold")
    pairs = [(r.label, p) for r, p in scored]
    if len({y for y, _ in pairs}) < 2:
        log(f"{dataset}: val split has {len(pairs)} scored file(s) and not both classes: threshold left at 0.5")
        return replace(meta, threshold=0.5, val_files=len(pairs), threshold_rule="0.5: val lacks a class")
    people = people_of([r for r, _ in scored])
    t, f1, rule = pick_threshold([y for y, _ in pairs], [p for _, p in pairs], len(people), o.threshold_prior_people)
    log(f"threshold {t:.4f} ({rule}): validation macro F1 {f1:.4f} over {len(pairs)} file(s)")
    return replace(meta, threshold=t, val_macro_f1=f1, val_files=len(pairs), threshold_rule=rule)


def people_of(records) -> set[str]:
    """The people whose faces the records show (speech voices, shared by every split, are no one's face)."""
    return {i for r in records for i in r.identities if not i.startswith("voice:")}


def pick_threshold(y, p, people: int, prior_people: float) -> tuple[float, float, str]:
    """(threshold, validation macro F1 there, how it was chosen): val's best threshold pulled toward 0.5, the
    head's boundary on its paired (so balanced) training data, as if 0.5 were the best of `prior_people` more
    people: 0.5 + (best - 0.5) * people / (people + prior_people). Each person's files sit at a score level of
    their own, so val's best alone fits its one or two people's level, not the next person's (README, "The
    saved threshold"); with dozens of val people it is hardly moved."""
    best, _ = best_threshold(y, p)
    t = 0.5 + (best - 0.5) * people / (people + prior_people) if people + prior_people > 0 else 0.5
    f1 = float(macro_f1_at(y, p, [t])[0])
    return t, f1, f"val's best {best:.4f} over {people} people, pulled toward 0.5 by {prior_people:g} more"
