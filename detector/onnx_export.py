"""ONNX export of a trained detector: `model.onnx` beside the checkpoint, checked against torch at export.

Scoring then runs on onnxruntime and imports neither torch nor transformers. The export writes
`onnx.json` with the opset, the checkpoint file's size and mtime (a later retrain makes the ONNX stale, and
scoring says so), model.onnx's own size, mtime and sha256 (one copied in from another training is refused), whether
the folder had its detector.json (a trained folder: `meta.read_meta` then refuses to score without it) and the
largest fake-probability difference to torch on sample crops, which must stay within 1e-5. The int8 copy and its
validation check are made in `quantize.py`.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np

from synthfake.errors import SynthfakeError
from synthfake.files import read_json, sha256_file, write_json_atomic

from .meta import META_FILE, ONNX_META, ONNX_META_KEY, DetectorMeta
from .score import video_flags

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
INT8_META = "model.int8.json"
OPSET = 17
TOLERANCE = 1e-5
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def file_stamp(p: Path) -> dict:
    """Name, size, mtime and sha256 of a file ({} when absent): what a derived file was made from."""
    p = Path(p)
    if not p.is_file():
        return {}
    st = p.stat()
    return {"file": p.name, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256_file(p)}


def weights_file(d: Path) -> Path | None:
    """The checkpoint's weights file (None when it has none)."""
    return next((Path(d) / n for n in WEIGHT_FILES if (Path(d) / n).is_file()), None)


def weights_stamp(d: Path) -> dict:
    """The stamp of the checkpoint's weights file: what the ONNX copy was made from."""
    w = weights_file(d)
    return file_stamp(w) if w else {}


def same_file(stamp: dict | None, p: Path) -> bool:
    """Whether `p` is the file `stamp` was taken of. Size and mtime unchanged say so at once; a changed mtime alone
    (the folder copied, unpacked or synced) is settled by the content's sha256, where the stamp holds one (cached
    by path, size and mtime: a copied folder's ViT-Base ONNX is hashed once, not at every predict)."""
    from synthfake.weights import sha256

    p = Path(p)
    if not stamp or not p.is_file() or stamp.get("file") != p.name:
        return False
    st = p.stat()
    if stamp.get("bytes") != st.st_size:
        return False
    if stamp.get("mtime_ns") == st.st_mtime_ns:
        return True
    return bool(stamp.get("sha256")) and stamp["sha256"] == sha256(p)


def sample_pixels(meta: DetectorMeta, crops: np.ndarray | None = None, n: int = 8, seed: int = 0) -> np.ndarray:
    """Normalised NCHW pixels for the export check: the given uint8 crops (and their flips), else a seeded
    mix of smooth gradients and noise (images, not just noise, so the logits spread)."""
    from .score import to_pixels

    if crops is None or not len(crops):
        rng = np.random.default_rng(seed)
        s = meta.image_size
        ramp = np.linspace(0, 255, s, dtype=np.float32)
        crops = np.stack([np.clip(ramp[None, :, None] * rng.uniform(0.2, 1, 3)
                                  + ramp[:, None, None] * rng.uniform(0, .8)
                                  + rng.normal(0, 40, (s, s, 3)), 0, 255).astype(np.uint8) for _ in range(n)])
    crops = list(crops)
    return to_pixels(crops + crops, [False] * len(crops) + [True] * len(crops), meta.mean, meta.std)


def export_onnx(model, meta: DetectorMeta, out: Path, crops: np.ndarray | None = None, log=print) -> float:
    """Write OUT/model.onnx from a torch ViT classifier (logits, dynamic batch) and check it against torch.

    Returns the largest fake-probability difference on the sample crops; above 1e-5 the file is removed
    and the export fails.
    """
    import torch

    from .score import fake_probs, takes_media

    out = Path(out)
    model = model.float().cpu().eval()
    x = sample_pixels(meta, crops)
    video = (np.arange(len(x)) % 2).astype(np.float32)  # both heads checked where a model has two
    tmp = out / f".{ONNX_FILE}.{os.getpid()}.tmp"
    t0 = time.perf_counter()
    inputs, names = (torch.from_numpy(x[:2]),), ["pixel_values"]
    if takes_media(model):  # forward(pixel_values, labels, is_video): labels passed as None
        inputs, names = (torch.from_numpy(x[:2]), None, torch.from_numpy(video[:2])), ["pixel_values", "is_video"]
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on ViT's shape checks, which hold for fixed 224 inputs
        torch.onnx.export(model, inputs, str(tmp), input_names=names, output_names=["logits"],
                          dynamic_axes={**{k: {0: "batch"} for k in names}, "logits": {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
    ref = fake_probs(model, x, meta.fake_index, video=video)
    got = session_probs(_session(tmp, threads=0), x, meta.fake_index, video)
    diff = float(np.max(np.abs(ref.astype(np.float64) - got)))
    if not diff <= TOLERANCE:
        tmp.unlink(missing_ok=True)
        raise SynthfakeError(f"{out / ONNX_FILE}: ONNX and torch fake probabilities differ by {diff:.2e} on "
                             f"{len(x)} sample crops (tolerance {TOLERANCE:g}); not written")
    tmp.replace(out / ONNX_FILE)
    # the ONNX file's own stamp: a model.onnx copied in from another training is refused, not scored with;
    # ONNX_META_KEY: a folder with scoring settings (a trained one), which read_meta then never scores without
    write_json_atomic(out / ONNX_META, {"opset": OPSET, "weights": weights_stamp(out),
                                        "onnx": file_stamp(out / ONNX_FILE), ONNX_META_KEY: (out / META_FILE).is_file(),
                                        "check_crops": len(x), "max_prob_diff_vs_torch": diff, "tolerance": TOLERANCE})
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
    # idle pool threads sleep instead of spinning: the cores are shared with the decode workers (and, on a busy
    # machine, other jobs); spinning cost 15 % more CPU for the same ViT-Base scoring (README)
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
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


def check_input_size(sess, meta: DetectorMeta, d: Path, onnx: Path) -> None:
    """One line when the graph's fixed crop size (pixel_values' last two dims) is not the image_size scoring crops
    to: detector.json edited, or the ONNX file made for another size (onnxruntime's own error is a traceback)."""
    shape = next((i.shape for i in sess.get_inputs() if i.name == "pixel_values"), None)
    dims = [x for x in (shape or [])[2:] if isinstance(x, int)]
    if len(dims) == 2 and dims != [meta.image_size] * 2:
        src = d / META_FILE if (d / META_FILE).is_file() else d / "config.json"
        raise SynthfakeError(f"{src}: image_size {meta.image_size}, but {onnx.name} takes {dims[0]}x{dims[1]} crops; "
                             f"set image_size back to {dims[0]} (or export again for the model's own size)")


def session_probs(sess, pixels: np.ndarray, fake_index: int, video=None) -> np.ndarray:
    """Softmax probability of the fake class from the ONNX logits, computed in float64; `video` (B,) feeds the
    graph's `is_video` input where it has one (a model with media heads)."""
    feed = {"pixel_values": np.ascontiguousarray(pixels, np.float32)}
    if any(i.name == "is_video" for i in sess.get_inputs()):
        feed["is_video"] = video_flags(video, len(pixels))
    logits = sess.run(["logits"], feed)[0].astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e[:, fake_index] / e.sum(axis=1)


def onnx_scorer(model_dir: Path, meta: DetectorMeta, threads: int = 1, device: str = "cpu", int8: bool = False,
                path: Path | None = None):
    """A function (pixels, video=None) -> fake probabilities on onnxruntime, after checking the ONNX file is
    current (`int8`: the int8 copy, whose validation check `quantize.require_check` makes sure of first). `path`:
    score with that file instead (the int8 check)."""
    d = Path(model_dir)
    onnx = d / (INT8_FILE if int8 else ONNX_FILE)
    if not onnx.is_file():
        how = (f"`gen detect export {d} --int8 --dataset DATASET`" if int8
               else f"`gen detect export {d}` (or score with --runtime torch)")
        raise SynthfakeError(f"{onnx}: not found; make it with {how}")
    info_path = d / ONNX_META
    if not info_path.is_file():
        raise SynthfakeError(f"{info_path}: missing (what {onnx.name} was made from and its check); run "
                             f"`gen detect export {d}` again")
    info = read_json(info_path)
    w = weights_file(d)
    if w and not same_file(info.get("weights"), w):
        raise SynthfakeError(f"{onnx}: made from other weights than {w} (retrained since?); run "
                             f"`gen detect export {d}` again")
    fp32 = d / ONNX_FILE  # the int8 copy's own stamp is in model.int8.json (quantize.stale_reason)
    if not int8 and path is None and info.get("onnx") is not None and not same_file(info["onnx"], fp32):
        raise SynthfakeError(f"{fp32}: not the file {info_path.name} was written for (other size or sha256: copied "
                             f"in from another model folder?); run `gen detect export {d}` again, or copy back "
                             f"the model.onnx it was exported with")
    sess = _session(path or onnx, threads, device)
    check_input_size(sess, meta, d, path or onnx)
    # dynamic int8 quantises each MatMul's input with one scale over the whole tensor, batch included: run a batch
    # crop by crop, or a crop's probability moves (by up to 0.002 measured) with the files that share its batch
    one_by_one = int8 or path is not None

    def probs(pixels: np.ndarray, video=None) -> np.ndarray:
        if one_by_one and len(pixels) > 1:
            v = video_flags(video, len(pixels))
            return np.concatenate([session_probs(sess, pixels[i:i + 1], meta.fake_index, v[i:i + 1])
                                   for i in range(len(pixels))])
        return session_probs(sess, pixels, meta.fake_index, video)

    return probs
