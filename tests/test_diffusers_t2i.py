"""diffusers_t2i through `gen run` with a tiny FluxPipeline built from configs and saved with save_pretrained."""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pytest
from conftest import gen
from model_checks import audit_integrity, check_records, model_env, sources

from synthfake.errors import BackendNotReady
from synthfake.generators import diffusers_t2i as t2i
from synthfake.generators import prompts


def build_tiny_flux(root: Path) -> Path:
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
    (root / t2i.OPTIONS_FILE).write_text(json.dumps({"height": 32, "width": 32, "steps": 2,
                                                     "max_sequence_length": 32}))
    return root


@pytest.fixture(scope="module")
def t2i_run(data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diffusers")
    w = tmp / "weights"
    root = build_tiny_flux(w / "FLUX.1-schnell")
    ds = tmp / "D"
    gen("run", "--type", "generation", "--backend", "generation=diffusers_t2i", "--weights-dir", w, "--n", 2,
        "--reals", 1, "--splits", "train=1,val=0,test=0", "--sources", sources(tmp, ["photo_s1.jpg"]), "--out", ds,
        "--quiet", env=model_env(tmp / "home"))
    return tmp, ds, root


def test_records_hold_prompt_settings_and_every_weights_file(t2i_run):
    tmp, ds, root = t2i_run
    files = {f"FLUX.1-schnell/{p.relative_to(root).as_posix()}": p for p in sorted(root.rglob("*.safetensors"))}
    assert len(files) == 4  # transformer, vae, both text encoders
    fakes = [r for r in check_records(ds, files) if r.label == 1]
    assert len(fakes) == 2
    for r in fakes:
        assert r.sources == [] and r.backend == "diffusers_t2i"
        assert (r.media.kind, r.media.width, r.media.height) == ("image", 32, 32)
        assert r.params["prompt"] == prompts.sample(r.seed).text
        assert (r.params["family"], r.params["steps"], r.params["guidance"]) == ("flux-schnell", 2, 0.0)
        assert r.params["pipeline"] == "FluxPipeline" and r.params["max_sequence_length"] == 32
    assert fakes[0].params["prompt"] != fakes[1].params["prompt"]
    audit_integrity(ds, tmp)


def test_one_seed_one_image_and_batches_match(t2i_run):
    _, _, root = t2i_run
    loaded = t2i._load(str(root), "cpu")
    a, b = prompts.sample(1).text, prompts.sample(2).text
    first, again, other = t2i.render(loaded, [a], [11])[0], t2i.render(loaded, [a], [11])[0], t2i.render(loaded, [a], [12])[0]
    assert np.array_equal(first, again)
    assert np.abs(first.astype(int) - other).mean() > 1
    batch = t2i.render(loaded, [a, b], [11, 12])
    assert np.abs(batch[0].astype(int) - first).max() <= 2  # a batch gives each image its own seeded generator


def test_family_defaults_and_options_file(tmp_path):
    root = tmp_path / "m"
    (root / "transformer").mkdir(parents=True)
    (root / "transformer" / "config.json").write_text(json.dumps({"guidance_embeds": True}))
    assert t2i._family(root, {"_class_name": "FluxPipeline"}) == "flux-dev"
    opts = t2i._options(root, "flux-dev", "cuda")
    assert (opts["steps"], opts["guidance"], opts["dtype"], opts["max_sequence_length"]) == (50, 3.5, "bfloat16", 512)
    (root / t2i.OPTIONS_FILE).write_text(json.dumps({"stepz": 3}))
    with pytest.raises(BackendNotReady, match="unknown option.*stepz"):
        t2i._options(root, "flux-dev", "cpu")
