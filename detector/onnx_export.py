"""ONNX export of a trained detector: `model.onnx` beside the checkpoint, checked against torch at export.

Scoring then runs on onnxruntime and imports neither torch nor transformers. The export writes
`onnx.json` with the opset, the checkpoint file's size and mtime (a later retrain makes the ONNX stale, and
scoring says so) and the largest fake-probability difference to torch on sample crops, which must stay
within 1e-5. An int8 copy (dynamic quantisation) is written only with `--int8 --dataset`: its accuracy
against the fp32 ONNX on the validation split is saved beside it (`model.int8.json`) and printed.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

from synthfake.errors import SynthfakeError
from synthfake.files import write_json_atomic

from .model import DetectorMeta

ONNX_FILE = "model.onnx"
ONNX_META = "onnx.json"
INT8_FILE = "model.int8.onnx"
INT8_META = "model.int8.json"
OPSET = 17
TOLERANCE = 1e-5
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def weights_stamp(d: Path) -> dict:
    """Size and mtime of the checkpoint's weights file: what the ONNX copy was made from."""
    for name in WEIGHT_FILES:
        p = Path(d) / name
        if p.is_file():
            st = p.stat()
            return {"file": name, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    return {}


def sample_pixels(meta: DetectorMeta, crops: np.ndarray | None = None, n: int = 8, seed: int = 0) -> np.ndarray:
    """Normalised NCHW pixels for the export check: the given uint8 crops (and their flips), else a seeded
    mix of smooth gradients and noise (images, not just noise, so the logits spread)."""
    from .score import to_pixels

    if crops is None or not len(crops):
        rng = np.random.default_rng(seed)
        s = meta.image_size
        ramp = np.linspace(0, 255, s, dtype=np.float32)
        crops = np.stack([np.clip(ramp[None, :, None] * rng.uniform(0.2, 1, 3) + ramp[:, None, None] * rng.uniform(0, .8)
                                  + rng.normal(0, 40, (s, s, 3)), 0, 255).astype(np.uint8) for _ in range(n)])
    crops = list(crops)
    return to_pixels(crops + crops, [False] * len(crops) + [True] * len(crops), meta.mean, meta.std)


def export_onnx(model, meta: DetectorMeta, out: Path, crops: np.ndarray | None = None, log=print) -> float:
    """Write OUT/model.onnx from a torch ViT classifier (logits, dynamic batch) and check it against torch.

    Returns the largest fake-probability difference on the sample crops; above 1e-5 the file is removed
    and the export fails.
    """
    import torch

    from .score import fake_probs

    out = Path(out)
    model = model.float().cpu().eval()
    x = sample_pixels(meta, crops)
    tmp = out / f".{ONNX_FILE}.{os.getpid()}.tmp"
    t0 = time.perf_counter()
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on ViT's shape checks, which hold for fixed 224 inputs
        torch.onnx.export(model, (torch.from_numpy(x[:2]),), str(tmp), input_names=["pixel_values"],
                          output_names=["logits"], dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
    ref = fake_probs(model, x, meta.fake_index)
    got = session_probs(_session(tmp, threads=0), x, meta.fake_index)
    diff = float(np.max(np.abs(ref.astype(np.float64) - got)))
    if not diff <= TOLERANCE:
        tmp.unlink(missing_ok=True)
        raise SynthfakeError(f"{out / ONNX_FILE}: ONNX and torch fake probabilities differ by {diff:.2e} on "
                             f"{len(x)} sample crops (tolerance {TOLERANCE:g}); not written")
    tmp.replace(out / ONNX_FILE)
    write_json_atomic(out / ONNX_META, {"opset": OPSET, "weights": weights_stamp(out), "check_crops": len(x),
                                        "max_prob_diff_vs_torch": diff, "tolerance": TOLERANCE})
    log(f"{out / ONNX_FILE}: exported in {time.perf_counter() - t0:.1f} s; max |p_onnx - p_torch| {diff:.2e} "
        f"on {len(x)} sample crops")
    return diff


def export_dir(model_dir: Path, crops: np.ndarray | None = None, log=print) -> float:
    """`gen detect export MODEL_DIR`: load the checkpoint with torch and export it."""
    from .model import load_detector

    model, meta = load_detector(Path(model_dir))
    return export_onnx(model, meta, Path(model_dir), crops, log)


# ---------------------------------------------------------------- onnxruntime
def _session(path: Path, threads: int = 1, device: str = "cpu"):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads  # 0: one per core
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise SynthfakeError(f"--device {device}: onnxruntime has no CUDA provider (install the [gpu] extra, "
                                 f"onnxruntime-gpu) or use --runtime torch")
        dev = int(device.split(":")[1]) if ":" in device else 0
        providers = [("CUDAExecutionProvider", {"device_id": dev}), "CPUExecutionProvider"]
    try:
        return ort.InferenceSession(str(path), so, providers=providers)
    except Exception as e:  # onnxruntime raises its own exception types for a corrupt or foreign file
        raise SynthfakeError(f"{path}: onnxruntime cannot load it ({(str(e).splitlines() or [''])[0]})") from None


def session_probs(sess, pixels: np.ndarray, fake_index: int) -> np.ndarray:
    """Softmax probability of the fake class from the ONNX logits, computed in float64."""
    logits = sess.run(["logits"], {"pixel_values": np.ascontiguousarray(pixels, np.float32)})[0].astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e[:, fake_index] / e.sum(axis=1)


def onnx_scorer(model_dir: Path, meta: DetectorMeta, threads: int = 1, device: str = "cpu", int8: bool = False):
    """A function pixels -> fake probabilities on onnxruntime, after checking the ONNX file is current."""
    d = Path(model_dir)
    path = d / (INT8_FILE if int8 else ONNX_FILE)
    if not path.is_file():
        how = (f"`gen detect export {d} --int8 --dataset DATASET`" if int8
               else f"`gen detect export {d}` (or score with --runtime torch)")
        raise SynthfakeError(f"{path}: not found; make it with {how}")
    info_path = d / ONNX_META
    try:
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    except ValueError as e:
        raise SynthfakeError(f"{info_path}: not valid JSON ({e})") from None
    stamp = weights_stamp(d)
    if stamp and info.get("weights") != stamp:
        raise SynthfakeError(f"{path}: made from other weights than {d / stamp['file']} (retrained since?); run "
                             f"`gen detect export {d}` again")
    if int8 and not (d / INT8_META).is_file():
        raise SynthfakeError(f"{d / INT8_META}: missing; an int8 model is used only with its validation check")
    sess = _session(path, threads, device)

    def probs(pixels: np.ndarray) -> np.ndarray:
        return session_probs(sess, pixels, meta.fake_index)

    return probs


def quantize_int8(model_dir: Path, dataset: Path, batch_size: int = 16, workers: int = 2, log=print) -> dict:
    """model.int8.onnx (dynamic int8 weights) and model.int8.json: macro F1 and the largest probability change
    against the fp32 ONNX on the dataset's validation split."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from .evaluate import score_records, split_records
    from .metrics import macro_f1  # scikit-learn: export time only, never on the scoring path
    from .model import read_meta

    d = Path(model_dir)
    meta = read_meta(d)
    fp32 = onnx_scorer(d, meta, threads=0)
    tmp = d / f".{INT8_FILE}.{os.getpid()}.tmp"
    quantize_dynamic(str(d / ONNX_FILE), str(tmp), weight_type=QuantType.QInt8)
    recs = split_records(Path(dataset), "val")
    a = score_records(fp32, meta, Path(dataset), recs, batch_size, workers, what="val fp32")
    q = _session(tmp, threads=0)
    b = score_records(lambda x: session_probs(q, x, meta.fake_index), meta, Path(dataset), recs, batch_size,
                      workers, what="val int8")
    pairs = [(r.label, x.prob, y.prob) for r, x, y in zip(recs, a, b) if x.prob is not None]
    if not pairs:
        tmp.unlink(missing_ok=True)
        raise SynthfakeError(f"{dataset}: no scored file in the val split; cannot check an int8 model")
    ys = np.asarray([p[0] for p in pairs])
    f32 = float(macro_f1(ys, np.asarray([int(p[1] >= meta.threshold) for p in pairs])))
    i8 = float(macro_f1(ys, np.asarray([int(p[2] >= meta.threshold) for p in pairs])))
    check = {"dataset": str(dataset), "split": "val", "files": len(pairs), "threshold": meta.threshold,
             "macro_f1_fp32": f32, "macro_f1_int8": i8,
             "max_prob_diff": max(abs(p[1] - p[2]) for p in pairs),
             "labels_changed": sum((p[1] >= meta.threshold) != (p[2] >= meta.threshold) for p in pairs)}
    tmp.replace(d / INT8_FILE)
    write_json_atomic(d / INT8_META, check)
    log(f"{d / INT8_FILE}: val macro F1 {i8:.4f} (fp32 {f32:.4f}) over {len(pairs)} files, "
        f"max prob change {check['max_prob_diff']:.4f}, {check['labels_changed']} label(s) changed")
    return check
