"""Tiny ONNX models with the real models' input/output names and shapes, built with onnx.helper for tests.

The graphs are a few ops each (pooling, 1x1 convolutions, small matmuls) so that outputs depend on every
input and a run takes milliseconds; the names, shapes and initializer layout are the documented ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
F = TensorProto.FLOAT


def _save(path: Path, nodes, inputs, outputs, inits) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _io(name, shape):
    return helper.make_tensor_value_info(name, F, shape)


def _rand(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def inswapper(path: Path, seed: int = 0) -> Path:
    """`target` [1,3,128,128] + `source` [1,512] -> [1,3,128,128]; `emap` 512x512 is the last initializer."""
    rng = np.random.default_rng(seed)
    nodes = [helper.make_node("MatMul", ["source", "w"], ["s3"]),
             helper.make_node("Reshape", ["s3", "shape4"], ["s4"]),
             helper.make_node("Mul", ["target", "four"], ["t4"]),
             helper.make_node("Sub", ["t4", "two"], ["t2"]),
             helper.make_node("Add", ["t2", "s4"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["output"])]
    inits = [("w", _rand(rng, 512, 3, scale=2.0)), ("shape4", np.array([1, 3, 1, 1], np.int64)),
             ("four", np.array(4.0, np.float32)), ("two", np.array(2.0, np.float32)),
             ("emap", _rand(rng, 512, 512, scale=0.05))]
    return _save(path, nodes, [_io("target", [1, 3, 128, 128]), _io("source", [1, 512])],
                 [_io("output", [1, 3, 128, 128])], inits)


def arcface(path: Path, seed: int = 1) -> Path:
    """ArcFace w600k_r50's signature: [1,3,112,112] -> [1,512]."""
    rng = np.random.default_rng(seed)
    nodes = [helper.make_node("AveragePool", ["input.1"], ["p"], kernel_shape=[28, 28], strides=[28, 28]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("MatMul", ["f", "w"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["683"])]
    return _save(path, nodes, [_io("input.1", [1, 3, 112, 112])], [_io("683", [1, 512])],
                 [("w", _rand(rng, 48, 512)), ("b", _rand(rng, 512, scale=0.1))])


def live_portrait(folder: Path, seed: int = 2) -> list[Path]:
    """FaceFusion's four LivePortrait exports: feature extractor, motion extractor, stitcher, generator."""
    rng = np.random.default_rng(seed)
    img = _io("input", [1, 3, 256, 256])
    fe = _save(folder / "live_portrait_feature_extractor.onnx",
               [helper.make_node("AveragePool", ["input"], ["p"], kernel_shape=[4, 4], strides=[4, 4]),
                helper.make_node("Conv", ["p", "w"], ["c"]),
                helper.make_node("Reshape", ["c", "shape"], ["output"])],
               [img], [_io("output", [1, 32, 16, 64, 64])],
               [("w", _rand(rng, 512, 3, 1, 1, scale=0.3)), ("shape", np.array([1, 32, 16, 64, 64], np.int64))])
    heads = [("pitch", [1, 1], 10.0), ("yaw", [1, 1], 10.0), ("roll", [1, 1], 5.0), ("scale", [1, 1], 0.05),
             ("translation", [1, 3], 0.02), ("expression", [1, 21, 3], 0.01), ("motion_points", [1, 21, 3], 0.01)]
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["g"]), helper.make_node("Flatten", ["g"], ["f"])]
    inits = []
    for name, shape, scale in heads:
        k = int(np.prod(shape))
        nodes += [helper.make_node("MatMul", ["f", f"{name}_w"], [f"{name}_m"]),
                  helper.make_node("Add", [f"{name}_m", f"{name}_b"], [f"{name}_a"]),
                  helper.make_node("Reshape", [f"{name}_a", f"{name}_s"], [name])]
        bias = np.ones(k, np.float32) if name == "scale" else _rand(rng, k, scale=0.3 if name == "motion_points" else 0)
        inits += [(f"{name}_w", _rand(rng, 3, k, scale=scale)), (f"{name}_b", bias),
                  (f"{name}_s", np.array(shape, np.int64))]
    me = _save(folder / "live_portrait_motion_extractor.onnx", nodes, [img],
               [_io(n, s) for n, s, _ in heads], inits)
    kp = [_io("source", [1, 21, 3]), _io("target", [1, 21, 3])]
    st = _save(folder / "live_portrait_stitcher.onnx",
               [helper.make_node("Sub", ["target", "source"], ["d"]), helper.make_node("Mul", ["d", "k"], ["dk"]),
                helper.make_node("Add", ["source", "dk"], ["output"])],
               kp, [_io("output", [1, 21, 3])], [("k", np.array(0.1, np.float32))])
    gen = _save(folder / "live_portrait_generator.onnx",
                [helper.make_node("ReduceMean", ["feature_volume"], ["r"], axes=[2], keepdims=0),
                 helper.make_node("Conv", ["r", "w"], ["c"]),
                 helper.make_node("Resize", ["c", "", "scales"], ["u"], mode="nearest"),
                 helper.make_node("Sub", ["source", "target"], ["d"]),
                 helper.make_node("ReduceMean", ["d"], ["dm"], keepdims=1),
                 helper.make_node("Unsqueeze", ["dm", "axis"], ["d4"]),
                 helper.make_node("Add", ["u", "d4"], ["z"]),
                 helper.make_node("Sigmoid", ["z"], ["output"])],
                [_io("feature_volume", [1, 32, 16, 64, 64])] + kp, [_io("output", [1, 3, 512, 512])],
                [("w", _rand(rng, 3, 32, 1, 1, scale=0.5)), ("scales", np.array([1, 1, 8, 8], np.float32)),
                 ("axis", np.array([3], np.int64))])
    return [fe, me, st, gen]


def wav2lip(path: Path, seed: int = 3) -> Path:
    """Wav2Lip 96: `source` mel [1,1,80,16] + `target` face stack [1,6,96,96] -> [1,3,96,96]."""
    nodes = [helper.make_node("Slice", ["target", "starts", "ends", "axes"], ["ref"]),
             helper.make_node("ReduceMean", ["source"], ["a"], keepdims=1),
             helper.make_node("Mul", ["ref", "four"], ["r4"]),
             helper.make_node("Sub", ["r4", "two"], ["r2"]),
             helper.make_node("Add", ["r2", "a"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["output"])]
    inits = [("starts", np.array([3], np.int64)), ("ends", np.array([6], np.int64)), ("axes", np.array([1], np.int64)),
             ("four", np.array(4.0, np.float32)), ("two", np.array(2.0, np.float32))]
    return _save(path, nodes, [_io("source", [1, 1, 80, 16]), _io("target", [1, 6, 96, 96])],
                 [_io("output", [1, 3, 96, 96])], inits)
