"""diffusers_t2i through `gen run` with a tiny FluxPipeline built from configs and saved with save_pretrained."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import gen
from model_checks import audit_integrity, check_records, model_env, sources
from tiny_models import build_tiny_flux, tiny_flux_options

from synthfake.errors import BackendNotReady
from synthfake.generators import diffusers_t2i as t2i
from synthfake.generators.common import prompts

OPTS = [a for k, v in tiny_flux_options(32).items() for a in ("--backend-opt", f"diffusers_t2i.{k}={v}")]
GIVEN = tuple(sorted({**{k: o.default for k, o in t2i.OPTIONS.items()}, **tiny_flux_options(32)}.items()))


@pytest.fixture(scope="module")
def t2i_run(data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diffusers")
    w = tmp / "weights"
    root = build_tiny_flux(w / "FLUX.1-schnell", size=32)
    ds = tmp / "D"
    gen("run", "--type", "generation", "--backend", "generation=diffusers_t2i", *OPTS, "--weights-dir", w, "--n", 2,
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


def test_one_seed_one_image_and_batches_match(t2i_run, tmp_path, monkeypatch):
    _, _, root = t2i_run
    monkeypatch.setenv("HOME", str(tmp_path))  # the sha256 cache goes under a temporary home
    loaded = t2i._load(str(root), "cpu", GIVEN)
    a, b = prompts.sample(1).text, prompts.sample(2).text
    first, again, other = (t2i.render(loaded, [a], [seed])[0] for seed in (11, 11, 12))
    assert np.array_equal(first, again)
    assert np.abs(first.astype(int) - other).mean() > 1
    batch = t2i.render(loaded, [a, b], [11, 12])
    assert np.abs(batch[0].astype(int) - first).max() <= 2  # a batch gives each image its own seeded generator


def test_family_defaults_backend_options_and_no_options_file(tmp_path):
    root = tmp_path / "m"
    (root / "transformer").mkdir(parents=True)
    (root / "transformer" / "config.json").write_text(json.dumps({"guidance_embeds": True}))
    assert t2i._family(root, {"_class_name": "FluxPipeline"}) == "flux-dev"
    opts = t2i._options(root, "flux-dev", "cuda", {"steps": None, "model": "x"})
    assert (opts["steps"], opts["guidance"], opts["dtype"], opts["max_sequence_length"]) == (50, 3.5, "bfloat16", 512)
    assert t2i._options(root, "flux-dev", "cpu", {"steps": 8})["steps"] == 8  # the plan's option wins
    (root / t2i.OLD_OPTIONS_FILE).write_text(json.dumps({"steps": 3}))
    with pytest.raises(BackendNotReady, match="no longer read.*--backend-opt diffusers_t2i"):
        t2i._options(root, "flux-dev", "cpu", {})


def test_recorded_weights_are_the_loaded_safetensors(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    root = tmp_path / "FLUX.1-dev"
    for rel in ("transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
                "transformer/diffusion_pytorch_model-00002-of-00002.safetensors", "vae/diffusion_pytorch_model.bin",
                "vae/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.fp16.safetensors"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())
    assert sorted(t2i.used_files(root)) == ["FLUX.1-dev/transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
                                            "FLUX.1-dev/transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
                                            "FLUX.1-dev/vae/diffusion_pytorch_model.safetensors"]


def _copy_plan(ds, to):
    to.mkdir()
    for f in ("plan.json", "sources.json"):
        (to / f).write_bytes((ds / f).read_bytes())
    return to


def test_batched_and_unbatched_runs_give_identical_bytes_and_per_sample_failures(t2i_run, tmp_path, monkeypatch):
    from synthfake.manifest import read_failures, read_records
    from synthfake.run_config import RunSettings
    from synthfake.runner import Shard

    _, _, root = t2i_run
    w = root.parent
    three = tmp_path / "three"  # `gen run` in batches of 3 (then 1)
    gen("run", "--type", "generation", "--backend", "generation=diffusers_t2i", *OPTS, "--weights-dir", w, "--n", 4,
        "--reals", 0, "--splits", "train=1,val=0,test=0", "--sources", sources(tmp_path, ["photo_s1.jpg"]),
        "--out", three, "--quiet", "--backend-opt", "diffusers_t2i.batch=3", env=model_env(tmp_path / "home"))
    assert "batch" not in json.loads((three / "plan.json").read_text())["backend_opts"].get("diffusers_t2i", {})
    for k, v in model_env(tmp_path / "home2").items():
        monkeypatch.setenv(k, v)
    one = _copy_plan(three, tmp_path / "one")  # the same plan, one sample at a time (a run option: no plan change)
    by = {"diffusers_t2i": {"batch": 1}}
    assert Shard(one, RunSettings(weights_dir=w, show_progress=False, backend_opts=by), 0, 1).run().done == 4
    by_one = {r.index: r for r in read_records(one)}
    by_three = {r.index: r for r in read_records(three)}
    assert sorted(by_one) == sorted(by_three) == [0, 1, 2, 3]
    for i, r in by_one.items():
        assert (by_three[i].sha256, by_three[i].seed, by_three[i].params) == (r.sha256, r.seed, r.params)
        assert (three / by_three[i].path).read_bytes() == (one / r.path).read_bytes()
    # a failure inside a batch is that sample's alone: the others are written and recorded
    real, calls = t2i.generate_batch, []

    def flaky(samples, sources_list, stems, ctx):
        calls.append([s.index for s in samples])
        out = real(samples, sources_list, stems, ctx)
        if len(out) > 1:
            out[1] = RuntimeError("out of memory on this one")
        return out

    monkeypatch.setattr(t2i, "generate_batch", flaky)
    again = _copy_plan(three, tmp_path / "again")
    by = {"diffusers_t2i": {"batch": 3}}
    res = Shard(again, RunSettings(weights_dir=w, show_progress=False, backend_opts=by), 0, 1).run()
    assert calls == [[0, 1, 2], [3]] and (res.done, res.failed) == (3, 1)
    fails = {f.index: f.reason for f in read_failures(again)}
    assert list(fails) == [1] and "out of memory on this one" in fails[1]
    assert {r.index: r.sha256 for r in read_records(again)} == {i: by_three[i].sha256 for i in (0, 2, 3)}
