"""onnxruntime sessions for the ONNX backends: CUDA when asked for and present, CPU otherwise; one per process.

onnxruntime is imported inside the functions, so the core imports without the [models] extra.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from synthfake.errors import BackendNotReady, not_ready_reason, require_one_of

EXTRA_HINT = "pip install 'synthfake[models]'"
GPU_HINT = "pip install 'synthfake[gpu]' (onnxruntime-gpu)"


def missing_modules(*modules: str) -> str | None:
    """A one-line reason when any module is not importable here, else None."""
    gone = [m for m in modules if importlib.util.find_spec(m) is None]
    return f"missing {', '.join(gone)}; {EXTRA_HINT}" if gone else None


def providers(device: str) -> list[str]:
    """Execution providers for `device`; 'cuda' without onnxruntime's CUDA provider is an error, not a fallback."""
    import onnxruntime as ort

    if device != "cuda":
        return ["CPUExecutionProvider"]
    require_one_of("CUDAExecutionProvider", ort.get_available_providers(),
                   f"--device cuda: onnxruntime {ort.__version__} has no CUDAExecutionProvider (available: ",
                   BackendNotReady, f"); {GPU_HINT}")
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def device_problem(device: str) -> str | None:
    return not_ready_reason(providers, device)


def backend_problem(ctx, specs: list, *modules: str) -> str | None:
    """`ready` of an ONNX backend: onnxruntime and `modules` importable, the device usable, every weights file of
    `specs` present (and verified unless the run allows otherwise); else the first problem, one line."""
    from synthfake import weights

    return (missing_modules("onnxruntime", *modules) or device_problem(ctx.device)
            or weights.problem(specs, ctx.weights_dir, ctx.allow_unverified))


def fixed_weights(specs: list, *modules: str):
    """(weight_specs, ready) of an ONNX backend that always loads the files `specs` and needs `modules`:
    what `gen weights download` fetches and `backend_problem` over them."""

    def weight_specs(ctx) -> list:
        return specs

    def ready(ctx) -> str | None:
        return backend_problem(ctx, specs, *modules)

    return weight_specs, ready


@lru_cache(maxsize=16)
def _session(path: str, mtime_ns: int, device: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only: unused initializers (inswapper's emap) are expected
    try:
        return ort.InferenceSession(path, sess_options=opts, providers=providers(device))
    except BackendNotReady:
        raise
    except Exception as e:  # onnxruntime raises its own exception types for a bad file
        raise BackendNotReady(f"{path}: not a loadable ONNX model ({type(e).__name__}: {e})") from None


def session(path: Path, device: str):
    """A cached InferenceSession for `path` on `device` (reloaded when the file changes)."""
    return _session(str(path), Path(path).stat().st_mtime_ns, device)


def io_names(sess) -> tuple[list[str], list[str]]:
    return [i.name for i in sess.get_inputs()], [o.name for o in sess.get_outputs()]


def expect_inputs(sess, path: Path, names: list[str]) -> None:
    """Fail with one line when a model lacks the input names its adapter feeds."""
    have = io_names(sess)[0]
    if not set(names) <= set(have):
        raise BackendNotReady(f"{path}: model has inputs {have}, expected {names} (not the documented export?)")


@lru_cache(maxsize=4)
def _last_initializer(path: str, mtime_ns: int) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path, load_external_data=False)
    if not model.graph.initializer:
        raise BackendNotReady(f"{path}: model holds no initializer (expected inswapper's emap as the last one)")
    return numpy_helper.to_array(model.graph.initializer[-1])


def last_initializer(path: Path) -> np.ndarray:
    """The graph's last initializer (inswapper keeps its 512x512 `emap` there)."""
    return _last_initializer(str(path), Path(path).stat().st_mtime_ns)
