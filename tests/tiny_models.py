"""Tiny models with the real models' formats, for tests and benchmarks: ONNX graphs with the documented
input/output names, shapes and initializer layout (built with onnx.helper), and a FluxPipeline directory.

The graphs are a few ops each (pooling, 1x1 convolutions, small matmuls) so that outputs depend on every
input and a run takes milliseconds.
"""

from __future__ import annotations

import string
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


def tiny_flux_options(size: int = 32) -> dict:
    """The diffusers_t2i backend options a tiny FLUX runs with (`--backend-opt diffusers_t2i.KEY=VALUE`)."""
    return {"height": size, "width": size, "steps": 2, "max_sequence_length": 32}


def build_tiny_flux(root: Path, size: int = 32) -> Path:
    """FLUX.1's components at toy size (tokenizers from in-memory vocabularies), saved as a pipeline dir."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel, T5Tokenizer

    torch.manual_seed(0)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in string.ascii_lowercase:
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    clip_tok = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    t5_tok = T5Tokenizer(vocab=[("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
                         + [(c, -3.0) for c in string.ascii_lowercase], extra_ids=0, model_max_length=32)
    clip = CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=37,
                                        num_attention_heads=4, num_hidden_layers=2, projection_dim=32,
                                        bos_token_id=0, eos_token_id=1, pad_token_id=1))
    t5 = T5EncoderModel(T5Config(vocab_size=len(t5_tok), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                 pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=4, num_layers=1, num_single_layers=1,
                                         attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=32, axes_dims_rope=[4, 4, 8])
    vae = AutoencoderKL(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(4,), layers_per_block=1,
                        latent_channels=1, norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False,
                        shift_factor=0.0609, scaling_factor=1.5035)
    for m in (clip, t5, transformer, vae):
        m.eval()  # dropout off, or one seed gives two images
    FluxPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=clip, tokenizer=clip_tok,
                 text_encoder_2=t5, tokenizer_2=t5_tok, transformer=transformer).save_pretrained(root)
    return root


RESNET = {"type": "resnet", "embedding_size": 8, "hidden_sizes": [8, 16], "depths": [1, 1], "layer_type": "basic"}


def random_detector(folder: Path, frames: int, seed: int = 0) -> Path:
    """A random small ResNet detector (a from-scratch recipe's architecture, 48 px) saved as training saves it:
    the torch weights, detector.json and the ONNX graph scoring runs on."""
    import torch

    from synthfake.detector.meta import DetectorMeta
    from synthfake.detector.model import load_base, save_detector
    from synthfake.detector.onnx_export import export_onnx

    torch.manual_seed(seed)
    model, _ = load_base(None, 48, print, RESNET)
    meta = DetectorMeta(image_size=48, frames=frames, threshold=0.5)
    save_detector(model.eval(), meta, folder)
    export_onnx(model.eval(), meta, folder, log=print)
    return folder
