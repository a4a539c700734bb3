"""Recipes and schemas ship inside the package: a recipe is named without a path (`--recipe all4`,
`--recipe small_cnn_cpu`), a path still works, a typo names the nearest recipe; the shipped schemas are the
models' own. (tests/test_wheel.py checks the same from an installed wheel.)"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from conftest import ROOT
from synthfake.cli import app
from synthfake.cli_run import RUN_RECIPE_KEYS
from synthfake.recipe import read_recipe, recipe_names
from synthfake.schemas import export_schemas, packaged_schema


def test_every_recipe_in_the_repository_is_packaged_and_read_by_name():
    for kind in ("data", "detector"):
        files = sorted(p.stem for p in (ROOT / "recipes" / kind).glob("*.json"))
        assert recipe_names(kind) == files and files
    keys = set(RUN_RECIPE_KEYS)
    assert read_recipe("all4", keys, "data") == read_recipe(ROOT / "recipes" / "data" / "all4.json", keys, "data")


def test_detect_train_takes_a_recipe_by_name(tmp_path, monkeypatch):
    import synthfake.detector.train as train_mod

    seen = []
    monkeypatch.setattr(train_mod, "train", lambda ds, out, o, log: seen.append(o) or train_mod.DetectorMeta())
    (tmp_path / "ds").mkdir()
    r = CliRunner().invoke(app, ["detect", "train", str(tmp_path / "ds"), "--out", str(tmp_path / "m"), "--recipe",
                                 "small_cnn_cpu"])
    assert r.exit_code == 0, r.output
    shipped = json.loads((ROOT / "recipes" / "detector" / "small_cnn_cpu.json").read_text())
    assert seen[0].model == shipped["model"] and seen[0].epochs == shipped["epochs"]


def test_an_unknown_recipe_name_is_one_line_with_the_nearest(tmp_path):
    r = CliRunner().invoke(app, ["run", "--out", str(tmp_path / "d"), "--sources", str(tmp_path), "--recipe",
                                 "all_4"])
    assert r.exit_code == 2 and "did you mean 'all4'?" in r.output and "only_face_swap" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "d").exists()
    r = CliRunner().invoke(app, ["run", "--out", str(tmp_path / "d"), "--sources", str(tmp_path), "--recipe",
                                 str(tmp_path / "missing.json")])
    assert r.exit_code == 2 and "missing.json" in r.output


def test_an_unknown_detector_recipe_name_says_so_then_lists_the_shipped(tmp_path):
    """`gen detect train --recipe nosuch` printed the list of recipes as if it were the answer: the line says first
    that the name is neither a file nor a shipped recipe, then lists the shipped ones (a near typo keeps its
    'did you mean')."""
    shipped = ", ".join(recipe_names("detector"))
    (tmp_path / "ds").mkdir()
    train = ["detect", "train", str(tmp_path / "ds"), "--out", str(tmp_path / "m"), "--recipe"]
    r = CliRunner().invoke(app, [*train, "nosuch"])
    assert r.exit_code == 2 and not (tmp_path / "m").exists()
    assert r.output.strip() == f"error: recipe 'nosuch': no such recipe file or shipped name; shipped: {shipped}"
    r = CliRunner().invoke(app, [*train, "small_cn_cpu"])
    assert r.exit_code == 2 and r.output.strip() == (f"error: recipe 'small_cn_cpu': no such recipe file or shipped "
                                                     f"name (did you mean 'small_cnn_cpu'?); shipped: {shipped}")


def test_packaged_schemas_are_the_models_own(tmp_path):
    for fresh in export_schemas(tmp_path):
        name = fresh.name.removesuffix(".schema.json")
        assert packaged_schema(name) == json.loads(fresh.read_text()), name


def test_a_backend_flag_replaces_its_type_only(tmp_path, monkeypatch, data_dir):
    """`--recipe all4_social --backend face_swap=self_blend` keeps the recipe's backends for the other types (the
    flag replaced the recipe's whole list, so three types fell back to the defaults without a word)."""
    import synthfake.cli as cli_mod

    seen = []
    monkeypatch.setattr(cli_mod, "_launch", lambda config, launcher: seen.append(config) or 0)
    r = CliRunner().invoke(app, ["run", "--n", "2", "--sources", str(data_dir), "--out", str(tmp_path / "d"),
                                 "--recipe", "all4_social", "--backend", "face_swap=self_blend"])
    assert r.exit_code == 0, r.output
    assert seen[0].plan_fields["backends"] == {"generation": "morph", "face_swap": "self_blend",
                                               "reenactment": "landmark_reenact", "lip_sync": "mouth_sync",
                                               "real": "reencode"}


def test_a_recipe_naming_a_key_twice_is_refused_in_one_line(tmp_path):
    """json keeps the last of two values without a word: a recipe edited by hand (epochs added at the end while
    the copied one stayed above) trained with whichever came last."""
    import pytest

    from synthfake.errors import SynthfakeError

    twice = tmp_path / "twice.json"
    twice.write_text('{"epochs": 10, "lr": 0.01, "epochs": 2}')
    with pytest.raises(SynthfakeError, match=r"twice.json: key 'epochs' is given twice; keep one"):
        read_recipe(twice, {"epochs", "lr"}, "detector")
    nested = tmp_path / "nested.json"
    nested.write_text('{"augment": {"p_blur": 0.1, "p_blur": 0.5}}')
    with pytest.raises(SynthfakeError, match="key 'p_blur' is given twice"):
        read_recipe(nested, {"augment"}, "detector")
    spelt = tmp_path / "spelt.json"
    spelt.write_text('{"score-frames": 16, "score_frames": 40}')
    with pytest.raises(SynthfakeError, match="key 'score_frames' names option score_frames again"):
        read_recipe(spelt, {"score_frames"}, "detector")
    r = CliRunner().invoke(app, ["detect", "train", str(tmp_path), "--out", str(tmp_path / "m"), "--recipe",
                                 str(twice)])
    assert r.exit_code != 0 and "key 'epochs' is given twice" in r.output and "Traceback" not in r.output
