"""The int8 copy of an exported detector and its check on a validation split.

`gen detect export --int8 --dataset D` (a dataset made by `gen run`, or its webdataset/hf export, as `gen detect
train` takes it) writes `model.int8.onnx` (onnxruntime dynamic quantisation: the MatMuls' weights in int8 per output
channel, their inputs in uint8 scaled per batch) and `model.int8.json`: macro F1 of the fp32 ONNX (torch's
probabilities within 1e-5) and of the int8 copy on D's val split, the largest probability change, the labels that
flipped, the weights and ONNX file it was made from, and the int8 file's own stamp (one copied in later is not
scored with). `gen detect predict` scores with the int8 copy by default only when that check passed (F1 within
F1_TOLERANCE either way) and the copy is current (`int8_choice`); `--int8` asks for it whatever the check said,
`--fp32` never uses it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthfake.errors import SynthfakeError
from synthfake.files import read_json, removed_on_error, tmp_beside, write_json_atomic

from .onnx_export import (INT8_FILE, INT8_META, ONNX_FILE, file_stamp, onnx_scorer, same_file, weights_file,
                          weights_stamp)

F1_TOLERANCE = 0.005  # the largest macro-F1 loss on val at which the int8 copy is used by default
# int8 weights per output channel, only in the MatMuls with constant weights (the patch embedding's Conv stays fp32:
# onnxruntime's ConvInteger took 4 % of an int8 ViT-Base's time against 0.5 % for the fp32 Conv); the choice among
# variants is measured in the README ("Speed against the seed's pipeline")
QUANT = {"method": "dynamic", "weight_type": "int8", "per_channel": True, "reduce_range": False, "ops": ["MatMul"]}


def quantize_file(src: Path, dst: Path, quant: dict | None = None) -> None:
    """Write `dst`, the int8 copy of the fp32 ONNX `src` (dynamic quantisation; `quant` as QUANT)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    q = dict(QUANT if quant is None else quant)
    weights = QuantType.QInt8 if q["weight_type"] == "int8" else QuantType.QUInt8
    quantize_dynamic(str(src), str(dst), weight_type=weights, per_channel=q["per_channel"],
                     reduce_range=q["reduce_range"], op_types_to_quantize=q.get("ops"))


def int8_check(labels, fp32, int8, threshold: float) -> dict:
    """Macro F1 (fake positive) of each model at the threshold, its change, the largest probability change and
    the labels that flipped, over files that both scored (a None probability: no face, left out)."""
    from .metrics import macro_f1  # scikit-learn: export time only, never on the scoring path

    pairs = [(y, a, b) for y, a, b in zip(labels, fp32, int8) if a is not None and b is not None]
    if not pairs:
        raise SynthfakeError("no scored file in the check split; cannot check an int8 model")
    ys = np.asarray([p[0] for p in pairs])
    f32 = float(macro_f1(ys, np.asarray([int(p[1] >= threshold) for p in pairs])))
    i8 = float(macro_f1(ys, np.asarray([int(p[2] >= threshold) for p in pairs])))
    return {"files": len(pairs), "threshold": threshold, "macro_f1_fp32": f32, "macro_f1_int8": i8,
            "macro_f1_change": i8 - f32, "max_prob_diff": max(abs(p[1] - p[2]) for p in pairs),
            "labels_changed": sum((p[1] >= threshold) != (p[2] >= threshold) for p in pairs),
            "f1_tolerance": F1_TOLERANCE, "passed": abs(i8 - f32) <= F1_TOLERANCE}


def quantize_int8(model_dir: Path, dataset: Path, batch_size: int = 16, workers: int = 2, log=print) -> dict:
    """model.int8.onnx and model.int8.json (`int8_check` on the dataset's val split, and what it was made from).
    `dataset`: a dataset made by `gen run`, or its webdataset/hf export (read through its unpacked view, as
    `gen detect train` reads it)."""
    from synthfake.export.reader import as_dataset

    from .evaluate import score_records, split_records
    from .meta import read_meta

    d = Path(model_dir)
    meta = read_meta(d)
    fp32 = onnx_scorer(d, meta, threads=0)  # also checks that model.onnx is current
    data = as_dataset(dataset, log)  # the dataset itself, or an export's unpacked view
    with removed_on_error(tmp_beside(d / INT8_FILE)) as tmp:
        quantize_file(d / ONNX_FILE, tmp)
        recs = split_records(data, "val")
        a = score_records(fp32, meta, data, recs, batch_size, workers, what="val fp32")
        b = score_records(onnx_scorer(d, meta, threads=0, path=tmp), meta, data, recs, batch_size, workers,
                          what="val int8")
        try:
            check = int8_check([r.label for r in recs], [x.prob for x in a], [y.prob for y in b], meta.threshold)
        except SynthfakeError as e:
            raise SynthfakeError(f"{dataset}: {e}") from None
    check = save_int8(d, tmp, {"dataset": str(dataset), "split": "val", **check})
    verdict = "used by default" if check["passed"] else f"NOT used by default (F1 moved by more than {F1_TOLERANCE})"
    log(f"{d / INT8_FILE}: val macro F1 {check['macro_f1_int8']:.4f} (fp32 {check['macro_f1_fp32']:.4f}) over "
        f"{check['files']} files, max prob change {check['max_prob_diff']:.4f}, {check['labels_changed']} label(s) "
        f"changed: {verdict}")
    return check


def save_int8(model_dir: Path, tmp: Path, check: dict, quant: dict | None = None) -> dict:
    """Move the int8 file `tmp` into place as model.int8.onnx and write its check, stamped with the weights and
    the fp32 ONNX it was made from (a later retrain or export makes it stale). Returns the check as written."""
    d = Path(model_dir)
    check = {**check, "quantization": dict(QUANT if quant is None else quant), "weights": weights_stamp(d),
             "onnx": file_stamp(d / ONNX_FILE)}
    tmp.replace(d / INT8_FILE)
    check["int8"] = file_stamp(d / INT8_FILE)  # the checked file itself: one copied in later is not scored with
    write_json_atomic(d / INT8_META, check)
    return check


def read_check(model_dir: Path) -> dict | None:
    """model.int8.json, or None when absent; a corrupt one is a clear error."""
    p = Path(model_dir) / INT8_META
    if not p.is_file():
        return None
    try:
        return read_json(p)
    except SynthfakeError as e:
        raise SynthfakeError(f"{e}; run `gen detect export {model_dir} --int8 --dataset D` again") from None


def require_check(model_dir: Path) -> None:
    """An error unless the int8 copy has its validation check and is current (what `--int8` scores with)."""
    d = Path(model_dir)
    if not (d / INT8_FILE).is_file():
        return  # onnx_scorer says how to make it
    check = read_check(d)
    if check is None:
        raise SynthfakeError(f"{d / INT8_META}: missing; an int8 model is used only with its validation check")
    if stale := stale_reason(d, check):
        raise SynthfakeError(f"{d / INT8_FILE}: {stale}; run `gen detect export {d} --int8 --dataset DATASET` again")


def stale_reason(model_dir: Path, check: dict) -> str:
    """Why the int8 copy no longer matches the checkpoint or model.onnx ('' when it does)."""
    d = Path(model_dir)
    w = weights_file(d)
    if "weights" not in check or "onnx" not in check:
        return "its check predates the stamp of the weights it was made from"
    if w and not same_file(check["weights"], w):
        return f"made from other weights than {w} (retrained since?)"
    if not same_file(check["onnx"], d / ONNX_FILE):
        return f"made from another {ONNX_FILE} (exported again since?)"
    if check.get("int8") is not None and not same_file(check["int8"], d / INT8_FILE):  # older checks lack the stamp
        return f"differs from the file {INT8_META} checked (other size or sha256: copied in from another model folder?)"
    return ""


def int8_choice(model_dir: Path) -> tuple[bool, str]:
    """(score with model.int8.onnx by default, one line saying why or why not; '' when there is no int8 copy)."""
    d = Path(model_dir)
    redo = f"`gen detect export {d} --int8 --dataset D`"
    if not (d / INT8_FILE).is_file():
        if (d / INT8_META).is_file():
            return False, (f"scoring with {ONNX_FILE} (fp32): {INT8_FILE} is missing though its check {INT8_META} "
                           f"is there; run {redo} again (or delete {INT8_META})")
        return False, ""
    check = read_check(d)
    if check is None:
        return False, f"scoring with {ONNX_FILE} (fp32): {INT8_FILE} has no {INT8_META} check ({redo})"
    stale = stale_reason(d, check)
    if stale:
        return False, f"scoring with {ONNX_FILE} (fp32): {INT8_FILE} {stale}; run {redo} again"
    f1 = (f"val macro F1 {check['macro_f1_int8']:.4f} against fp32 {check['macro_f1_fp32']:.4f} on "
          f"{check['files']} files, max prob change {check['max_prob_diff']:.4f}")
    if not abs(check["macro_f1_int8"] - check["macro_f1_fp32"]) <= F1_TOLERANCE:
        return False, (f"scoring with {ONNX_FILE} (fp32): {INT8_FILE} moves val macro F1 by more than {F1_TOLERANCE} "
                       f"({f1}); --int8 uses it anyway")
    return True, f"scoring with {INT8_FILE} ({f1}; --fp32 for the fp32 model)"
