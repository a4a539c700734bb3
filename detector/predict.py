"""Score a competition folder: one row per image or video, columns and order from a sample submission.

Writes the submission CSV and, beside it, `<name>_probs.csv` with each file's fake probability, crops
used and the reason for any fallback (a sheet's row with no file too: its fallback label and why). An
unreadable file or one with no face gets the fallback label and a logged one-line reason; the run goes on. A
sheet that asks for a probability (a probability column, or DFDC's 0.5 in every row) gets UNSCORED_PROB there
instead: the fallback label as probability 0 or 1 is the most confident answer possible, and under log loss the
most costly one when wrong.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from synthfake.errors import SynthfakeError, require_one_of
from synthfake.files import atomic_file
from synthfake.progress import sample_progress

from .crops import crop_settings
from .inputs import (SampleSubmission, examples, index_files, lookup, passed_over, read_sample, refuse_input_as_output,
                     scan_inputs, why_missing)
from .meta import DetectorMeta, read_meta
from .score import FileScore, label_of, score_parts, share_threshold
from .stream import stream_crops

RUNTIMES = ("auto", "onnx", "torch")
UNSCORED_PROB = 0.5  # a probability sheet's value for a file with no crops (or listed and missing): no opinion

@dataclass
class Summary:
    """Files scored, fallbacks given, and sample-submission rows with no file."""

    files: int = 0
    fallbacks: int = 0
    missing: list[str] = field(default_factory=list)
    threshold: float = 0.5  # the one the labels were given at
    fallback: str = ""  # what a file with no crops got: "fallback label 0", "fallback probability 0.5", ...


def _write_csv(path: Path, columns: list[str], rows: list[dict], delimiter: str = ",") -> None:
    """Written under a temporary name beside `path` (removed if the write fails), then renamed onto it."""
    # a file name that is not UTF-8 (os.fsdecode's surrogates) is written back as the bytes it has on disk
    with atomic_file(path) as tmp, open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore", delimiter=delimiter)
        w.writeheader()
        w.writerows(rows)


def load_scorer(model_dir: Path, runtime: str = "auto", device: str = "cpu", fp16: bool = False, threads: int = 0,
                int8: bool | None = False, batch_size: int = 16, log=None) -> tuple[object, DetectorMeta]:
    """(pixels -> fake probabilities, meta). auto: onnxruntime on CPU (no torch import), torch on CUDA.

    int8: True the int8 copy, False the fp32 model, None the int8 copy when its validation check passed and it is
    current (`quantize.int8_choice`, said through `log`), on CPU onnxruntime only. threads: intra-op threads
    (0: one per core). On CUDA batches are padded to `batch_size` (fixed shapes).
    """
    require_one_of(runtime, RUNTIMES, f"--runtime {runtime}: expected one of ")
    if device != "cpu" and not (device == "cuda" or device.startswith("cuda:") and device[5:].isdigit()):
        raise SynthfakeError(f"--device {device}: expected cpu, cuda or cuda:N")
    cuda = device.startswith("cuda")
    if runtime == "auto":
        runtime = "torch" if cuda and not int8 else "onnx"
    if int8 is None:
        int8 = False
        if runtime == "onnx" and not cuda and not fp16:
            from .quantize import int8_choice

            int8, why = int8_choice(Path(model_dir))
            if why and log:
                log(why)
    if runtime == "onnx":
        if fp16:
            raise SynthfakeError("--fp16: half precision runs on --runtime torch (the ONNX file is float32)")
        from .onnx_export import onnx_scorer

        if int8:
            from .quantize import require_check

            require_check(Path(model_dir))
        meta = read_meta(Path(model_dir))
        return onnx_scorer(Path(model_dir), meta, threads, device, int8), meta
    if int8:
        raise SynthfakeError("--int8: the int8 model runs on onnxruntime; drop --runtime torch")
    import torch

    from .model import load_detector
    from .score import as_scorer

    if threads:
        torch.set_num_threads(threads)
    model, meta = load_detector(model_dir, device, fp16)
    return as_scorer(model, meta.fake_index, pad_to=batch_size if cuda else 0), meta


SMALL_MODEL_BYTES = 20 * 2**20  # a tiny ViT (0.2 MB) scores a crop in ~1 ms; ViT-Base (330 MB) in ~100 ms


def model_threads(model_dir: Path, workers: int) -> int:
    """Intra-op threads for the model (0: one per core). Below SMALL_MODEL_BYTES decoding and detection (~25 ms
    a frame) are the work, so the model keeps to one thread; above it the model is, and takes every core."""
    if workers <= 0:
        return 0
    weights = [p.stat().st_size for p in Path(model_dir).glob("model.*") if p.is_file()]
    return 1 if max(weights, default=0) < SMALL_MODEL_BYTES else 0


def predict(model_dir: Path, input_dir: Path, out: Path, sample: Path | None = None, batch_size: int = 16,
            device: str = "cpu", fp16: bool = False, workers: int = 2, frames: int | None = None,
            threshold: float | None = None, show: bool = True, log=print, runtime: str = "auto",
            int8: bool | None = None, fake_share: float | None = None, say_skipped: bool = False) -> Summary:
    """Score every image and video under `input_dir`; write the submission and the probability CSV.

    The decoding workers start before the model loads. A small model gets one thread (the workers fill the
    other cores); a large one gets them all, since it is the work and the workers wait on it. int8: None scores
    with the int8 copy when its validation check passed (`load_scorer`). fake_share: label at the threshold that
    calls that share of the scored files fake (`share_threshold`) instead of the saved one. say_skipped: log, before
    scoring, the files under `input_dir` left out (not an image or video, macOS zip leftovers, not in the sheet);
    `gen detect predict` sets it (`eval --labels` scores through here with a sheet of its own).
    """
    if threshold is not None and fake_share is not None:
        raise SynthfakeError("--threshold and --fake-share both set: give one (a threshold, or the share of the "
                             "folder to call fake)")
    if fake_share is not None and not 0 < fake_share < 1:
        raise SynthfakeError(f"--fake-share {fake_share}: must be between 0 and 1 (the share of files to call fake)")
    if batch_size < 1:
        raise SynthfakeError(f"--batch-size {batch_size}: must be at least 1")
    input_dir, out = Path(input_dir), Path(out)
    found = scan_inputs(input_dir)
    files = found.files
    if not files:
        raise SynthfakeError(f"{input_dir}: no image or video file in it (nothing to score)"
                             + (f"; {line}" if (line := passed_over(found, input_dir, [out, sample])) else ""))
    for path, option in ((out, "--out"), (probs_path(out), "--out (its _probs.csv)")):
        refuse_input_as_output(path, option, files, input_dir)
    sub = read_sample(Path(sample)) if sample else None
    if sub is not None and sub.note:
        log(f"{sample}: {sub.note}")
    if say_skipped and (line := passed_over(found, input_dir, [out, probs_path(out), sample])):
        log(f"{input_dir}: {line}")
    summary = Summary()
    ambiguous: dict[str, list[Path]] = {}
    if sub is not None:
        index = index_files(files, input_dir)
        if index.legacy and say_skipped:
            log(f"{input_dir}: {len(index.legacy)} file name(s) are not UTF-8 ({examples(index.legacy, input_dir)}): "
                f"matched to {sample} as CP949 reads them, the code page Korean Windows zips names in; unzip with "
                f"`unzip -O cp949` for the proper names")
        wanted = []
        for r in sub.rows:
            key = str(r[sub.key] or "")
            p, could = lookup(index, key)
            wanted.append(p)
            if could:
                ambiguous[key] = could
        summary.missing = [str(r[sub.key]) for r, p in zip(sub.rows, wanted) if p is None]
        if not any(wanted):
            raise SynthfakeError(f"{sample}: none of its {len(sub.rows)} rows names a file under {input_dir} (column "
                                 f"{sub.key!r}, e.g. {summary.missing[0]!r}; {len(files)} image or video files there)")
        listed = {p for p in wanted if p is not None}
        unlisted = [p for p in files if p not in listed]
        if unlisted and say_skipped:
            log(f"{input_dir}: {len(unlisted)} image or video file(s) not listed in {sample}, not scored "
                f"({examples(unlisted, input_dir)})")
        files = sorted(listed, key=lambda p: p.relative_to(input_dir).as_posix())
    meta = read_meta(Path(model_dir))  # crop settings first (plain JSON), so the workers start before the model
    order = sorted(files, key=_size, reverse=True)  # largest first: no long video left to run alone at the end
    parts = stream_crops(order, crop_settings(meta, frames), workers, chunk=max(1, batch_size // 2))
    try:
        model, meta = load_scorer(model_dir, runtime, device, fp16, model_threads(model_dir, workers), int8, batch_size,
                                  log)
    except BaseException:
        parts.close()
        raise
    summary.fallback = _fallback_text(sub, meta.fallback_label)
    scores: dict[Path, FileScore] = {}
    try:
        with sample_progress(len(files), "scoring", show) as advance:
            for p, sc in zip(order, score_parts(model, parts, meta, batch_size)):
                scores[p] = sc
                advance()
                if sc.prob is None:
                    summary.fallbacks += 1
                    log(f"{p}: {sc.reason} -> {summary.fallback}")
                elif sc.note:
                    log(f"{p}: {sc.note}")
    finally:  # done, or stopped by an error or Ctrl-C: the reader thread and the workers end here
        parts.close()
    summary.files = len(scores)
    why = {k: f"listed in {sample} but {why_missing(k, input_dir, ambiguous.get(k))}" for k in summary.missing}
    for k, text in why.items():
        log(f"{k}: {text} -> {summary.fallback}")

    summary.threshold = _threshold(scores, meta, threshold, fake_share, log)

    def label(p: Path | None) -> int:
        return meta.fallback_label if p is None else label_of(scores[p], meta, summary.threshold)

    if sub is None:
        rows = [{"filename": p.relative_to(input_dir).as_posix(), "label": label(p)} for p in files]
        _write_csv(out, ["filename", "label"], rows)
    else:
        rows = []
        for r, p in zip(sub.rows, wanted):
            row = dict(r)
            y = label(p)
            if sub.label:
                row[sub.label] = sub.words[y] if sub.words else y
            if sub.prob:
                sc = scores.get(p) if p is not None else None
                row[sub.prob] = f"{sc.prob:.6f}" if sc is not None and sc.prob is not None else UNSCORED_PROB
            rows.append(row)
        _write_csv(out, sub.columns, rows, sub.delimiter)
    probs = [{"filename": p.relative_to(input_dir).as_posix(), "prob_fake": "" if sc.prob is None else f"{sc.prob:.8f}",
              "label": label(p), "crops": sc.crops, "sampled_frames": sc.sampled, "reason": sc.reason or sc.note}
             for p in files for sc in [scores[p]]]
    probs += [{"filename": k, "prob_fake": "", "label": label(None), "crops": 0, "sampled_frames": 0, "reason": text}
              for k, text in why.items()]  # the sheet's rows with no file: in the submission with the fallback
    _write_csv(probs_path(out), ["filename", "prob_fake", "label", "crops", "sampled_frames", "reason"], probs)
    return summary


def _fallback_text(sub: SampleSubmission | None, label: int) -> str:
    """What a file with no crops gets in the submission, as the log and the report line say it: the fallback label
    in a label column, UNSCORED_PROB in a probability column (a sheet may hold both)."""
    said = []
    if sub is None or sub.label:
        said.append(f"fallback label {sub.words[label] if sub is not None and sub.words else label}")
    if sub is not None and sub.prob:
        said.append(f"{'' if sub.label else 'fallback '}probability {UNSCORED_PROB}")
    return ", ".join(said)


def _threshold(scores: dict[Path, FileScore], meta, threshold: float | None, fake_share: float | None,
               log) -> float:
    """The given threshold, the one that calls `fake_share` of the scored files fake, or the saved one."""
    if fake_share is None:
        return meta.threshold if threshold is None else threshold
    probs = [s.prob for s in scores.values() if s.prob is not None]
    if len(probs) < 2:
        log(f"--fake-share {fake_share}: {len(probs)} file(s) scored, too few to rank; the saved threshold "
            f"{meta.threshold:.4f} applies")
        return meta.threshold
    t = share_threshold(probs, fake_share)
    log(f"--fake-share {fake_share}: threshold {t:.4f} calls {sum(q >= t for q in probs)} of {len(probs)} scored "
        f"file(s) fake (saved threshold: {meta.threshold:.4f})")
    return t


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:  # a broken link: scored (and failed) like any other file
        return 0


def probs_path(out: Path) -> Path:
    """submission.csv -> submission_probs.csv beside it."""
    return Path(out).with_name(f"{Path(out).stem}_probs.csv")
