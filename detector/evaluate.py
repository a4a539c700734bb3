"""Scoring a dataset's records (validation and test) and evaluating a model on a split.

`--leave-out X` (a fake type or backend name) holds one generator out: training drops its fakes, and
evaluation then scores the split's reals against only that generator's fakes.

A dataset is a folder made by `gen run`, or its webdataset/hf export (`gen export`), read as `gen detect train`
reads it: through its unpacked view EXPORT/.dataset/ (`synthfake.export.reader.as_dataset`), so the records,
their paths and the crop cache (EXPORT/.dataset/cache/crops/) are the ones training used.
"""

from __future__ import annotations

from pathlib import Path

from synthfake.dataset import Dataset
from synthfake.errors import SynthfakeError
from synthfake.manifest import Record, read_records
from synthfake.tally import planned_records
from synthfake.progress import sample_progress
from synthfake.sample_spec import sample_id

from .crops import crop_settings, iter_record_crops
from .metrics import Report, report
from .meta import SEEN_PREFIX, DetectorMeta, required_seen
from .model import load_detector
from .score import FileScore, label_of, score_stream


def matches(r: Record, leave_out: str) -> bool:
    """Whether a record is a fake of the held-out type or backend."""
    return r.label == 1 and leave_out in (r.type, r.backend)


def check_leave_out(records: list[Record], leave_out: str | None, where: str) -> None:
    """A clear error when --leave-out names no fake type or backend of the dataset."""
    if leave_out is None:
        return
    if leave_out == "real" or not any(matches(r, leave_out) for r in records):
        names = sorted({r.type for r in records if r.label} | {r.backend for r in records if r.label})
        raise SynthfakeError(f"{where}: --leave-out {leave_out!r} names no fake type or backend in the dataset "
                             f"(found: {', '.join(names) or 'no fakes'})")


def plan_hash(dataset: Path) -> str:
    """The dataset's plan hash (detector.json records the one a model trained on); an export's unpacked view gives
    the hash its export.json names ("" for an export made before that was written)."""
    from synthfake.export.reader import view_plan

    return Dataset.open(dataset).plan.hash if (Path(dataset) / "plan.json").exists() else view_plan(dataset)


def trained_on(meta: DetectorMeta, dataset: Path, records: list[Record]) -> bool:
    """Whether `dataset` is the one the model trained on: its plan hash, or for an export's unpacked view (no
    plan.json) its records' ids, which derive from the plan hash."""
    if not meta.dataset_plan:
        return False
    if own := plan_hash(dataset):
        return own == meta.dataset_plan
    return any(r.id == sample_id(meta.dataset_plan, r.index) for r in records)


def seen_sources(records: list[Record]) -> list[str]:
    """sha256 prefixes of the picture and clip files behind `records` (speech, shared by every split, is no one's
    face): detector.json keeps them as `seen_sources`."""
    from synthfake import media

    return sorted({s.sha256[:SEEN_PREFIX] for r in records for s in r.sources if media.kind_of(s.path) != "audio"})


def without_seen(records: list[Record], meta: DetectorMeta, unseen: bool, where, log) -> list[Record]:
    """`records`, less (with `unseen`) those made from a source the model saw; said in one line either way."""
    seen = required_seen(meta) if unseen else frozenset(meta.seen_sources)
    made_from_seen = [any(s.sha256[:SEEN_PREFIX] in seen for s in r.sources) for r in records]
    hit = [r for r, h in zip(records, made_from_seen) if h]
    if not hit:
        return records
    example = next(s.path for s in hit[0].sources if s.sha256[:SEEN_PREFIX] in seen)
    said = f"{where}: {len(hit)} of {len(records)} record(s) made from a picture or clip the model saw in training " \
           f"(e.g. {example})"
    if unseen and len(hit) == len(records):
        raise SynthfakeError(f"{said}: every one; --unseen leaves nothing to score")
    log(f"{said}: left out (--unseen)" if unseen else f"{said}; --unseen leaves them out")
    return [r for r, h in zip(records, made_from_seen) if not h] if unseen else records


def split_records(dataset: Path, split: str, leave_out: str | None = None, keep: str = "without") -> list[Record]:
    """A split's records (`all`: every record); with `leave_out`, `keep='without'` drops that generator's fakes
    and `keep='only'` keeps the reals plus only that generator's fakes."""
    every = planned_records(dataset)  # each planned index once: a duplicated line or another plan's id left out
    if not every:
        raise SynthfakeError(f"{dataset}: no records in manifest/ (not a dataset made by `gen run`?)")
    check_leave_out(every, leave_out, str(dataset))
    recs = [r for r in every if split in ("all", r.split)]
    if leave_out is not None:
        recs = [r for r in recs if (not matches(r, leave_out)) == (keep == "without") or r.label == 0]
    return sorted(recs, key=lambda r: r.id)


def score_records(model, meta: DetectorMeta, dataset: Path, records: list[Record], batch_size: int, workers: int,
                  cache_root: Path | None = None, show: bool = True, what: str = "scoring") -> list[FileScore]:
    """File-level scores of dataset records (crops through the dataset's cache), in record order."""
    out = []
    with sample_progress(len(records), what, show) as advance:
        files = iter_record_crops(dataset, records, crop_settings(meta), workers, cache_root)
        for s in score_stream(model, files, meta, batch_size):
            out.append(s)
            advance()
    return out


def report_of(records: list[Record], scores: list[FileScore], meta: DetectorMeta) -> Report:
    """Metrics of scored records; a file without crops scores its fallback label as probability."""
    y = [r.label for r in records]
    pred = [label_of(s, meta) for s in scores]
    prob = [float(meta.fallback_label) if s.prob is None else s.prob for s in scores]
    return report(y, prob, pred, [r.type for r in records], [r.backend for r in records], meta.threshold,
                  sum(s.prob is None for s in scores))


def evaluate(model_dir: Path, dataset: Path, split: str = "test", leave_out: str | None = None,
             batch_size: int = 16, device: str = "cpu", fp16: bool = False, workers: int = 2,
             cache_root: Path | None = None, show: bool = True, log=print,
             unseen: bool = False) -> tuple[Report, list[Record], list]:
    """Score a split of a dataset (or of its webdataset/hf export, as `train` reads it) with a trained model and
    compute every metric; `unseen`: without the records made from a picture or clip the model saw in training."""
    from synthfake.export.reader import as_dataset

    model, meta = load_detector(model_dir, device, fp16)
    if leave_out is not None and meta.leave_out != leave_out:
        raise SynthfakeError(f"{model_dir}: trained with leave_out={meta.leave_out!r}; a leave-one-out evaluation "
                             f"of {leave_out!r} needs a model trained with `gen detect train --leave-out {leave_out}`")
    given, dataset = dataset, as_dataset(dataset, log)  # a webdataset/hf export: its unpacked view, as train's
    records = split_records(dataset, split, leave_out, keep="only")
    if split == "all" and trained_on(meta, dataset, records):
        raise SynthfakeError(f"{given}: --split all on the dataset {model_dir} trained on would score its train "
                             "split too; give a dataset made from people it never saw, or name one split")
    records = without_seen(records, meta, unseen, given, log)
    if not records:
        have = sorted({r.split for r in read_records(dataset)})
        raise SynthfakeError(f"{given}: no records in split {split!r} (its splits: {', '.join(have) or 'none'}; "
                             f"or all)")
    here = [(Path(dataset) / r.path).exists() for r in records]
    for r in (r for r, ok in zip(records, here) if not ok):  # as `--labels` skips a listed file that is not there
        log(f"{r.path}: media file missing: not scored (rerun the `gen run` that made it to make it again)")
    records = [r for r, ok in zip(records, here) if ok]
    if not records:
        raise SynthfakeError(f"{given}: every media file of split {split!r} is missing")
    scores = score_records(model, meta, dataset, records, batch_size, workers, cache_root, show, f"scoring {split}")
    for r, s in zip(records, scores):
        if s.prob is None:
            log(f"{r.path}: {s.reason} -> fallback label {meta.fallback_label}")
    return report_of(records, scores, meta), records, scores
