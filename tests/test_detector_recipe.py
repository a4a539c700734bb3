"""The CPU detector recipe: what `gen detect train` uses without --base, and its self-blended pseudo-fakes made
from real crops during training."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from conftest import ROOT  # noqa: E402
from synthfake.detector.meta import DetectorMeta  # noqa: E402
from synthfake.detector.train import DEFAULT_RECIPE  # noqa: E402
from synthfake.detector.train_examples import with_pseudo_fakes  # noqa: E402


def test_default_recipe_is_the_shipped_file_and_applies_without_base(tmp_path, monkeypatch):
    import synthfake.detector.train as train_mod
    from typer.testing import CliRunner

    from synthfake.cli import app

    shipped = json.loads(DEFAULT_RECIPE.read_text())
    assert DEFAULT_RECIPE.resolve().parent == (ROOT / "recipes" / "detector").resolve()  # one file, not a copy
    seen = []
    monkeypatch.setattr(train_mod, "train", lambda ds, out, o, log: seen.append(o) or DetectorMeta())
    (tmp_path / "ds").mkdir()
    run = lambda *a: CliRunner().invoke(app, ["detect", "train", str(tmp_path / "ds"),  # noqa: E731
                                              "--out", str(tmp_path / "m"), *a])
    r = run("--epochs", "2", "--quiet")
    assert r.exit_code == 0, r.output
    o = seen[-1]
    assert (o.model, o.augment, o.self_blend, o.image_size, o.frames) == (
        shipped["model"], shipped.get("augment"), shipped.get("self_blend", 0.0), shipped["image_size"],
        shipped["frames"])
    assert o.model["type"] == "residual_stats" and o.schedule == shipped["schedule"]
    assert (o.balance_files, o.l2) == (shipped.get("balance_files", False), shipped.get("l2", 0.0))
    assert o.epochs == 2  # a flag given wins over the recipe
    base = tmp_path / "base"
    base.mkdir()
    r = run("--base", str(base), "--quiet")
    assert r.exit_code == 0, r.output
    assert (seen[-1].model, seen[-1].self_blend, seen[-1].image_size) == (None, 0.0, 224)  # a checkpoint: no recipe
    r = run("--recipe", str(ROOT / "recipes" / "detector" / "tiny_vit_smoke.json"), "--quiet")
    assert r.exit_code == 0 and seen[-1].model is None and seen[-1].self_blend == 0.0  # the tiny ViT, on request
    # ... and said so: a recipe of one changed value had trained it without a word (sweep)
    assert "tiny_vit_smoke.json names no 'model': training the tiny ViT meant for smoke runs" in r.output
    assert "WARN" not in run("--epochs", "2", "--quiet").output


def test_pseudo_fakes_are_added_per_real_crop():
    items = [("r", j, 0, j % 2 == 1) for j in range(10)] + [("f", j, 1, False) for j in range(4)]
    out = with_pseudo_fakes(items, 1.5, fake_index=1, seed=0)
    pseudo = out[len(items):]
    assert out[:len(items)] == items and len(pseudo) == 15 and all(p[4] is True and p[2] == 0 for p in pseudo)
    assert all(p[3] == (p[1] % 2 == 1) for p in pseudo)  # a pseudo-fake keeps its real's media kind
    assert len({p[1] for p in pseudo}) == 10 and with_pseudo_fakes(items, 1.5, 1, 0) == out
    assert with_pseudo_fakes(items, 0.0, 1, 0) == items


def test_pseudo_fake_blends_inside_the_face_only(data_dir):
    from synthfake.detector.crops import CropSettings, file_crops
    from synthfake.detector.pseudo_fakes import crop_box, pseudo_fake
    from synthfake.detector.train import augment_settings
    from synthfake.detector.train_examples import CropDataset

    crop = file_crops(data_dir / "faces" / "photo_s42.jpg", CropSettings(frames=1, size=112)).crops[0]
    assert crop_box(112, 0.3) == (21, 21, 91, 91)
    fakes = [pseudo_fake(crop, np.random.default_rng(s), 0.3) for s in range(6)]
    assert all(f is not None and f.shape == crop.shape and f.dtype == np.uint8 for f in fakes)
    for f in fakes:
        diff = np.abs(f.astype(int) - crop).max(2)
        ring = np.ones(diff.shape, bool)
        ring[21:91, 21:91] = False
        assert (diff > 24).mean() >= 0.001  # visibly changed (the self_blend backend's gate), in the face box
        assert diff[21:91, 21:91].mean() > 2 * diff[ring].mean()
        assert diff[:8, :8].max() == 0 and diff[:8, -8:].max() == 0  # the corners are the real's, bit for bit
    assert not all(np.array_equal(fakes[0], f) for f in fakes[1:])  # a new blend at each draw
    # through the training dataset: a pseudo item is the real crop blended and labelled fake, drawn anew per epoch
    tmp = DetectorMeta(image_size=112, margin=0.3)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        np.savez(Path(d) / "c.npz", crops=crop[None])
        ds = CropDataset([(str(Path(d) / "c.npz"), 0, 0, False), (str(Path(d) / "c.npz"), 0, 0, False, True)], tmp, 0,
                         augment_settings({"p_flip": 0, "p_resize": 0, "p_blur": 0, "p_color": 0, "p_jpeg": 0}))
        real, fake, again = ds[0], ds[1], ds[1]
    assert (real["labels"], fake["labels"]) == (0, 1)
    assert not np.allclose(real["pixel_values"].numpy(), fake["pixel_values"].numpy())
    assert not np.allclose(fake["pixel_values"].numpy(), again["pixel_values"].numpy())


def test_files_weigh_alike_and_the_head_pays_its_l2_in_the_loss(tmp_path):
    """balance_files: a clip's 16 crops weigh together what a photo's one crop weighs (mean weight 1); l2: the
    loss is the weighted cross-entropy plus l2 times the head's squared weights, biases free."""
    import torch
    from transformers import Trainer, TrainingArguments
    from transformers.modeling_outputs import ImageClassifierOutput

    from synthfake.detector.train import penalised_trainer
    from synthfake.detector.train_examples import file_weights

    items = [("clip.npz", j, 0, True) for j in range(16)] + [("photo.npz", 0, 1, False), ("photo2.npz", 0, 1, False)]
    w = file_weights(items)
    assert w.mean() == pytest.approx(1.0) and w[:16].sum() == pytest.approx(w[16]) == pytest.approx(w[17])

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)

        def forward(self, pixel_values, labels=None):
            return ImageClassifierOutput(logits=self.fc(pixel_values))

    torch.manual_seed(0)
    model = Head()
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    trainer = penalised_trainer(Trainer, 0.5)(model=model, args=args)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])
    weights = torch.tensor([0.25, 0.25, 0.5, 3.0])
    with torch.no_grad():
        got = trainer.compute_loss(model, {"pixel_values": x, "labels": y, "weights": weights})
        ce = torch.nn.functional.cross_entropy(model.fc(x), y, reduction="none")
        want = (ce * weights).sum() / weights.sum() + 0.5 * (model.fc.weight ** 2).sum()
    assert float(got) == pytest.approx(float(want), rel=1e-6)
    assert float(got) != pytest.approx(float(ce.mean() + 0.5 * (model.fc.weight.detach() ** 2).sum()), rel=1e-3)


def test_media_weights_balance_fakes_and_reals_within_each_media_kind():
    """balance_media: clips 3 fakes to 1 real, photos 1 fake to 3 reals (what a plan's pairing leaves, less
    extreme): within each kind the two classes weigh the same, each kind keeps its share, mean weight 1."""
    from synthfake.detector.train_examples import media_weights

    items = ([(f"v{k}", 0, 1, True) for k in range(3)] + [("v3", 0, 0, True)] + [("p0", 0, 1, False)]
             + [(f"p{k}", 0, 0, False) for k in range(1, 4)])
    w = media_weights(items)
    assert w.mean() == pytest.approx(1.0)
    assert w[:3].sum() == pytest.approx(w[3]) and w[4] == pytest.approx(w[5:].sum())  # fakes = reals, per kind
    assert w[:4].sum() == pytest.approx(w[4:].sum())  # each kind keeps its crops' share (4 and 4)


@pytest.mark.parametrize("setting,want", [
    ({"epochs": None}, "epochs: expected a value, got null"),
    ({"schedule": "cosin"}, "schedule: expected one of linear, cosine"),
    ({"warmup": "abc"}, "warmup: expected a share of the steps from 0 to 1, got 'abc'"),
    ({"l2": "big"}, "l2: expected a number >= 0"),
    ({"threshold_prior_people": -1}, "threshold_prior_people: expected a number of people >= 0, got -1"),
    ({"self_blend": -3}, "self_blend: expected a share from 0 to 1, got -3"),
    ({"augment": {"p_jpeg": 1.5}}, "augment: p_jpeg 1.5: expected a probability from 0 to 1"),
    ({"augment": {"quality": [95, 30]}}, "augment: quality (95, 30): expected [lo, hi] within 1..100"),
    ({"augment": {"crf": [40, 20]}}, "augment: crf (40, 20): expected [lo, hi] within 0..51"),
    ({"augment": {"sharpen": [0.5, 11]}}, "augment: sharpen (0.5, 11): expected [lo, hi] within 0..10"),
    ({"augment": {"noise": [6, 2]}}, "augment: noise (6, 2): expected [lo, hi] within 0..50"),
    ({"model": {"type": "residual_stats", "clipp": 3.0}}, "model residual_stats: unknown key 'clipp' (did you mean "
                                                          "'clip'?); known: clip, hidden,"),
    ({"model": {"type": "resnet", "hiden_sizes": [8]}}, "model resnet: unknown key 'hiden_sizes' (did you mean "
                                                        "'hidden_sizes'?); known: ")])
def test_a_recipe_s_own_keys_are_checked_before_training(tmp_path, setting, want):
    """The keys no flag checks went straight to the Trainer (a traceback after the data was read, or a negative
    prior taken): one line naming the recipe and the key, exit 2, before anything is trained."""
    from typer.testing import CliRunner

    from synthfake.cli import app

    (tmp_path / "ds").mkdir()
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(setting))
    r = CliRunner().invoke(app, ["detect", "train", str(tmp_path / "ds"), "--out", str(tmp_path / "m"), "--recipe",
                                 str(recipe)])
    assert r.exit_code == 2 and f"{recipe}: {want}" in " ".join(r.output.split()), r.output
    assert not (tmp_path / "m").exists()


def test_a_recipe_model_with_base_is_refused(tmp_path):
    """--base brings its own model: a recipe's `model` section beside it was recorded in detector.json as what was
    trained while a ViT was trained."""
    from typer.testing import CliRunner

    from synthfake.cli import app

    (tmp_path / "ds").mkdir()
    (tmp_path / "base").mkdir()
    r = CliRunner().invoke(app, ["detect", "train", str(tmp_path / "ds"), "--out", str(tmp_path / "m"), "--base",
                                 str(tmp_path / "base"), "--recipe", "small_cnn_cpu"])
    assert r.exit_code == 2 and "brings its own model" in " ".join(r.output.split()), r.output


def test_out_over_the_base_checkpoint_is_refused(tmp_path):
    """`--out CKPT --base CKPT` replaced the user's checkpoint with the fine-tuned one without a word (7 Dec sweep)."""
    from typer.testing import CliRunner

    from synthfake.cli import app

    (tmp_path / "ds").mkdir()
    (tmp_path / "base").mkdir()
    r = CliRunner().invoke(app, ["detect", "train", str(tmp_path / "ds"), "--out", str(tmp_path / "base"), "--base",
                                 str(tmp_path / "base")])
    assert r.exit_code == 2 and f"--out {tmp_path / 'base'}: is --base" in " ".join(r.output.split()), r.output


def test_train_help_names_the_default_recipe_s_values():
    """`gen detect train --help` shows the --base defaults; its text names what the recipe sets without --base."""
    from synthfake.detector.cli import detect_train

    r = json.loads(DEFAULT_RECIPE.read_text())
    want = f"({r['epochs']:g}, {r['lr']:g}, {r['frames']}, {r['score_frames']})"
    assert DEFAULT_RECIPE.resolve().stem in detect_train.__doc__ and want in " ".join(detect_train.__doc__.split())


def test_a_model_section_key_the_config_does_not_know_is_refused():
    """A transformers config stores any key: `"clipp": 3.0` or `"hiden": 8` in a recipe's model section was kept
    and never read. Every shipped recipe's model section still builds; an unknown key is one line naming it (the
    nearest known key when one is close) and listing the known ones, read from the config class itself."""
    import inspect

    from transformers import ResNetConfig, ViTConfig

    from synthfake.detector.model import scratch_config
    from synthfake.detector.residual_stats import ResidualStatsConfig
    from synthfake.errors import SynthfakeError

    shipped = sorted((ROOT / "recipes" / "detector").glob("*.json"))
    models = {p.stem: json.loads(p.read_text()).get("model") for p in shipped}
    assert any(m and m.get("type") == "residual_stats" for m in models.values())
    assert any(m and m.get("type") == "resnet" for m in models.values())
    for name, model in models.items():
        if model is not None:
            cfg = scratch_config(model, 64)
            assert all(getattr(cfg, k) == v for k, v in model.items() if k != "type"), name
    for model, want in (({"type": "residual_stats", "clipp": 3.0}, "unknown key 'clipp' (did you mean 'clip'?)"),
                        ({"type": "residual_stats", "hiden": 8}, "unknown key 'hiden' (did you mean 'hidden'?)"),
                        ({"type": "vit", "hiden_size": 8, "zzz": 1},
                         "unknown keys 'hiden_size' (did you mean 'hidden_size'?), 'zzz';"),
                        ({"type": "resnet", "id2label": {0: "a", 1: "b"}}, "id2label: set by training")):
        with pytest.raises(SynthfakeError) as e:
            scratch_config(model, 64)
        assert want in str(e.value) and "\n" not in str(e.value), str(e.value)
    with pytest.raises(SynthfakeError) as e:
        scratch_config({"type": "residual_stats", "nope": 1}, 64)
    params = [k for k in inspect.signature(ResidualStatsConfig.__init__).parameters if k not in ("self", "kwargs")]
    assert str(e.value).endswith(f"known: {', '.join(sorted(params))}")  # the class's own parameters, as it grows
    for kind, cls in (("vit", ViTConfig), ("resnet", ResNetConfig)):
        with pytest.raises(SynthfakeError) as e:
            scratch_config({"type": kind, "nope": 1}, 64)
        known = str(e.value).split("known: ")[1].split(", ")
        assert set(known) <= set(cls().to_dict()) and "hidden_act" in known and "label2id" not in known


def test_batch_size_one_is_refused_for_a_network_that_normalises_over_the_batch():
    """`--batch-size 1` with the default recipe ended in BatchNorm's traceback from inside the Trainer."""
    from synthfake.detector.model import load_base
    from synthfake.detector.train import _check_batch_size
    from synthfake.errors import SynthfakeError

    model, _ = load_base(None, 224, lambda *a: None, {"type": "residual_stats", "clip": 3.0, "hidden": 0})
    with pytest.raises(SynthfakeError, match="--batch-size 1: the residual_stats network normalises over the batch"):
        _check_batch_size(model, 1)
    _check_batch_size(model, 2)
    vit, _ = load_base(None, 32, lambda *a: None)  # the tiny ViT has no BatchNorm: one crop at a time is fine
    _check_batch_size(vit, 1)
