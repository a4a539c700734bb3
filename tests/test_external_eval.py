"""`gen detect eval --labels` and `gen audit --labels` on a small labelled folder: scores equal predict's,
missing files are recorded skips, bad labels and escaping paths are one-line errors; recipes apply under flags."""

from __future__ import annotations

import csv
import json
import re
import shutil

import numpy as np
import pytest

from conftest import gen

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from synthfake.detector.external import evaluate_external, report_external  # noqa: E402
from synthfake.detector.meta import DetectorMeta  # noqa: E402
from synthfake.detector.model import load_base  # noqa: E402
from synthfake.errors import SynthfakeError  # noqa: E402
from synthfake.labels import Labelled, present, read_labels  # noqa: E402
from tiny_models import RESNET as ARCH, random_detector  # noqa: E402

FILES = [("faces/photo_s1.jpg", 0), ("faces/photo_s12.jpg", 0), ("faces/still_talk_d3.jpg", 1),
         ("videos/talk_d9.mp4", 1), ("nonfaces/animal_s22.jpg", 0)]


def _write_labels(path, rows, header=("path", "label", "kind", "model", "note")):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture(scope="module")
def folder(data_dir, tmp_path_factory):
    """Real media under a labelled folder, plus a row whose file is missing."""
    d = tmp_path_factory.mktemp("labelled")
    for name, _ in FILES:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / name, d / name)
    rows = [(name, y, "face_swap" if y else "real", f"m{i % 2}" if y else "none", "x") for i, (name, y) in
            enumerate(FILES)]
    _write_labels(d / "labels.csv", rows + [("fakes/gone.mp4", 1, "lip_sync", "m9", "")])
    return d


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return random_detector(tmp_path_factory.mktemp("model") / "m", frames=3)


def test_scores_are_predicts_and_missing_is_skipped(folder, model_dir, tmp_path):
    notes = []
    rep = evaluate_external(model_dir, folder, folder / "labels.csv", workers=0, show=False, log=notes.append)
    assert rep.files == 5 and rep.fakes == 2
    assert rep.skipped == [{"path": "fakes/gone.mp4", "reason": "file not found"}]
    assert any("gone.mp4: file not found: skipped" in n for n in notes)
    assert rep.no_crops == 1  # the animal photo has no face: fallback label, counted
    gen("detect", "predict", model_dir, folder, "--out", tmp_path / "sub.csv", "--workers", "0", "--quiet")
    with open(tmp_path / "sub_probs.csv") as fh:
        direct = {r["filename"]: float(r["prob_fake"]) for r in csv.DictReader(fh) if r["prob_fake"]}
    assert rep.probs == pytest.approx(direct, abs=1e-7) and len(direct) == 4
    from sklearn.metrics import roc_auc_score

    y = [y for _, y in FILES]
    p = [rep.probs.get(n, 0.0) for n, _ in FILES]
    assert rep.roc_auc == pytest.approx(roc_auc_score(y, p))
    assert set(rep.recall_by_kind) == {"face_swap", "real"} and set(rep.recall_by_model) == {"m0", "m1", "none"}


def test_bootstrap_intervals_bracket_the_estimate():
    rows = [Labelled(f"f{i}", int(i % 2), "k" if i % 2 else "real", "m") for i in range(40)]
    rng = np.random.default_rng(0)
    probs = {r.path: float(np.clip(0.3 * r.label + rng.uniform(0, 0.7), 0, 1)) for r in rows}
    rep = report_external("x", rows, probs, DetectorMeta(threshold=0.5), [], boot=300)
    lo, hi = rep.roc_auc_ci
    assert lo <= rep.roc_auc <= hi and 0.5 < rep.roc_auc < 1 and hi - lo > 0.05
    assert rep.best_macro_f1 >= rep.macro_f1
    perfect = report_external("x", rows, {r.path: float(r.label) for r in rows}, DetectorMeta(), [], boot=100)
    assert perfect.roc_auc == 1.0 and perfect.roc_auc_ci == (1.0, 1.0) and perfect.macro_f1 == 1.0


def test_labels_written_by_pandas_as_floats_are_read(folder, tmp_path):
    _write_labels(tmp_path / "labels.csv", [("faces/photo_s1.jpg", "0.0"), ("faces/still_talk_d3.jpg", "1.0")],
                  ("path", "label"))
    assert [r.label for r in read_labels(tmp_path / "labels.csv", folder)] == [0, 1]


@pytest.mark.parametrize("row,msg", [(("a.jpg", "yes"), "labels.csv:3: label 'yes' for a.jpg: expected 1"),
                                     (("../a.jpg", "1"), "labels.csv:3: path '../a.jpg' must be relative"),
                                     (("faces/photo_s1.jpg", "0"),
                                      "labels.csv:3: faces/photo_s1.jpg is listed twice (first on line 2)")])
def test_bad_rows_are_one_line_errors(folder, tmp_path, model_dir, row, msg):
    _write_labels(tmp_path / "labels.csv", [("faces/photo_s1.jpg", "0"), row], ("path", "label"))
    with pytest.raises(SynthfakeError, match=re.escape(msg)):
        read_labels(tmp_path / "labels.csv", folder)
    if row[1] != "yes":
        return  # the command line is checked once
    p = gen("detect", "eval", model_dir, folder, "--labels", tmp_path / "labels.csv", check=False)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and msg in p.stderr
    _write_labels(tmp_path / "nolabel.csv", [("a.jpg",)], ("file",))
    p = gen("audit", folder, "--labels", tmp_path / "nolabel.csv", check=False)
    assert p.returncode == 2 and "needs 'label' column, got ['file']" in p.stderr
    _write_labels(tmp_path / "nopath.csv", [("a.jpg", "1")], ("file", "label"))
    with pytest.raises(SynthfakeError, match="needs a 'path' or 'filename' column, got \\['file', 'label'\\]"):
        read_labels(tmp_path / "nopath.csv", folder)


def test_a_competition_answer_sheet_reads_as_labels(folder, tmp_path):
    """`filename,label` with Real / Fake (any case), as a competition's answer sheet has it, reads as 0 / 1."""
    _write_labels(tmp_path / "answers.csv", [("faces/photo_s1.jpg", "Real"), ("faces/photo_s12.jpg", "FAKE"),
                                             ("faces/photo_s42.jpg", "fake")], ("filename", "label"))
    rows = read_labels(tmp_path / "answers.csv", folder)
    assert [(r.path, r.label, r.kind) for r in rows] == [("faces/photo_s1.jpg", 0, "real"),
                                                          ("faces/photo_s12.jpg", 1, "fake"),
                                                          ("faces/photo_s42.jpg", 1, "fake")]


def test_cli_json_and_audit(folder, model_dir, tmp_path):
    p = gen("detect", "eval", model_dir, folder, "--labels", folder / "labels.csv", "--json", tmp_path / "r.json",
            "--workers", "0", "--quiet")
    assert "ROC AUC" in p.stdout and "recall per kind" in p.stdout
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["files"] == 5 and rep["skipped"][0]["path"] == "fakes/gone.mp4"
    p = gen("audit", folder, "--labels", folder / "labels.csv", "--json", tmp_path / "a.json", check=False)
    assert p.returncode in (0, 1) and "AUC alone" in p.stdout and "gone.mp4: file not found" in p.stderr
    a = json.loads((tmp_path / "a.json").read_text())
    kind = next(r for r in a["properties"] if r["property"] == "kind")
    assert (kind["n_real"], kind["n_fake"]) == (3, 2)  # 1 video fake among 4 images


def test_recipes_apply_under_command_line_flags(tmp_path, monkeypatch):
    import synthfake.detector.train as train_mod
    from typer.testing import CliRunner

    from synthfake.cli import app

    seen = []
    monkeypatch.setattr(train_mod, "train", lambda ds, out, o, log: seen.append(o) or DetectorMeta())
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"description": "x", "model": ARCH, "epochs": 7, "image_size": 64, "lr": 0.01}))
    r = CliRunner().invoke(app, ["detect", "train", str(tmp_path / "D"), "--out", str(tmp_path / "m"), "--recipe",
                                 str(recipe), "--epochs", "2"])  # (a model never goes inside its dataset)
    assert r.exit_code == 0, r.output
    o = seen[0]
    assert (o.epochs, o.image_size, o.lr, o.model) == (2, 64, 0.01, ARCH)  # the flag wins, the recipe fills the rest
    recipe.write_text(json.dumps({"epoch": 3}))
    r = CliRunner().invoke(app, ["detect", "train", str(tmp_path / "D"), "--out", str(tmp_path / "m"), "--recipe",
                                 str(recipe)])
    assert r.exit_code == 2 and "unknown recipe key(s) epoch" in r.output


def test_shipped_recipes_are_valid_and_gen_run_rejects_unknown_keys(tmp_path):
    from typer.testing import CliRunner

    from conftest import ROOT
    from synthfake.cli import app
    from synthfake.cli_run import RUN_RECIPE_KEYS
    from synthfake.shared_types import DEFAULT_RATIOS
    from synthfake.recipe import read_recipe

    for f in sorted((ROOT / "recipes" / "data").glob("*.json")):
        r = read_recipe(f, set(RUN_RECIPE_KEYS))
        assert set(r.get("types", [])) <= set(DEFAULT_RATIOS), f
    det = read_recipe(ROOT / "recipes" / "detector" / "small_cnn_cpu.json",
                      {"image_size", "epochs", "batch_size", "lr", "frames", "score_frames", "margin", "seed", "model"})
    model, _ = load_base(None, det["image_size"], print, det["model"])
    assert model.config.model_type == "resnet" and sum(p.numel() for p in model.parameters()) < 2_000_000
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": ["face_swap"]}))
    r = CliRunner().invoke(app, ["run", "--out", str(tmp_path / "d"), "--sources", str(tmp_path), "--recipe", str(bad)])
    assert r.exit_code == 2 and "unknown recipe key(s) type" in r.output
    assert not (tmp_path / "d").exists()


def test_bootstrap_intervals_are_scipys():
    """The intervals are scipy.stats.bootstrap's percentile intervals (paired resampling of the files), not a
    hand-written resampler: the same seed gives the same numbers from scipy directly."""
    from scipy.stats import bootstrap
    from sklearn.metrics import roc_auc_score

    rows = [Labelled(f"f{i}", int(i % 2), "k" if i % 2 else "real", "m") for i in range(30)]
    rng = np.random.default_rng(1)
    probs = {r.path: float(np.clip(0.3 * r.label + rng.uniform(0, 0.7), 0, 1)) for r in rows}
    rep = report_external("x", rows, probs, DetectorMeta(threshold=0.5), [], boot=200, seed=3)
    y = np.asarray([r.label for r in rows])
    p = np.asarray([probs[r.path] for r in rows])
    ci = bootstrap((y, p), lambda a, b: roc_auc_score(a, b) if 0 < a.sum() < len(a) else np.nan, paired=True,
                   vectorized=False, n_resamples=200, method="percentile", rng=np.random.default_rng(3))
    assert rep.roc_auc_ci == pytest.approx((ci.confidence_interval.low, ci.confidence_interval.high))
    hit = (y[y == 1] == (p[y == 1] >= 0.5)).astype(float)
    ci = bootstrap((hit,), np.mean, vectorized=False, n_resamples=200, method="percentile",
                   rng=np.random.default_rng(3))
    assert rep.recall_by_kind["k"]["ci"] == pytest.approx((ci.confidence_interval.low, ci.confidence_interval.high))


def test_auc_per_kind_and_per_media_say_where_a_mixed_set_fails():
    """Every real clip scored above every fake photo: the AUC over all files hides it, the per-media AUCs show it
    (photos' fakes against real photos perfect, clips' fakes against real clips at chance); per kind is that kind's
    fakes against every real, as scikit-learn computes it, inside its interval; the report prints both."""
    from rich.console import Console
    from sklearn.metrics import roc_auc_score

    from synthfake.detector.external import external_tables

    def rows_of(kind, label, ext, probs):
        return [(Labelled(f"{kind}{i}.{ext}", label, kind, "m"), q) for i, q in enumerate(probs)]
    scored = (rows_of("real", 0, "jpg", [0.1, 0.15, 0.2, 0.25, 0.3]) + rows_of("gen", 1, "png", [0.4, 0.45, 0.5, 0.55])
              + rows_of("real", 0, "mp4", [0.7, 0.75, 0.8, 0.85, 0.9]) + rows_of("lips", 1, "mp4", [0.72, 0.8, 0.88]))
    rows, probs = [r for r, _ in scored], {r.path: q for r, q in scored}
    rep = report_external("x", rows, probs, DetectorMeta(threshold=0.5), [], boot=300)
    assert set(rep.auc_by_media) == {"image", "video"}
    assert rep.auc_by_media["image"]["auc"] == 1.0 and rep.auc_by_media["image"]["reals"] == 5
    clips = [0.7, 0.75, 0.8, 0.85, 0.9, 0.72, 0.8, 0.88]
    assert rep.auc_by_media["video"]["auc"] == pytest.approx(roc_auc_score([0] * 5 + [1] * 3, clips))
    assert rep.roc_auc < rep.auc_by_media["image"]["auc"]
    reals = [q for r, q in scored if r.label == 0]
    gen = rep.auc_by_kind["gen"]
    assert gen["auc"] == pytest.approx(roc_auc_score([0] * 10 + [1] * 4, reals + [0.4, 0.45, 0.5, 0.55]))
    assert gen["ci"][0] <= gen["auc"] <= gen["ci"][1] and (gen["fakes"], gen["reals"]) == (4, 10)
    console = Console(width=160, record=True)
    for t in external_tables(rep, "x"):
        console.print(t)
    text = console.export_text()
    assert "media video" in text and "kind lips" in text and "3 / 5" in text


def test_vectorised_metrics_equal_scikit_learns_row_by_row():
    """The bootstrap's row-wise AUC and macro F1 give scikit-learn's values (ties counted half), nan for an AUC
    over one class."""
    from sklearn.metrics import roc_auc_score

    from synthfake.detector.metrics import macro_f1, macro_f1_rows, roc_auc_rows

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (200, 12))
    y[0] = 1  # one class: no AUC
    p = np.round(rng.random((200, 12)), 1)  # many ties
    q = rng.integers(0, 2, (200, 12))
    want = [roc_auc_score(a, b) if 0 < a.sum() < len(a) else np.nan for a, b in zip(y, p)]
    assert np.allclose(roc_auc_rows(y, p), want, rtol=0, atol=1e-12, equal_nan=True) and np.isnan(want[0])
    assert np.allclose(roc_auc_rows(y.T, p.T, axis=0), want, rtol=0, atol=1e-12, equal_nan=True)
    assert np.allclose(macro_f1_rows(y, q), [macro_f1(a, b) for a, b in zip(y, q)], rtol=0, atol=1e-12)


def test_a_shifted_folder_is_labelled_at_the_share_it_is_told_not_at_the_saved_threshold(folder, model_dir,
                                                                                          tmp_path):
    """Every score of a new folder below the saved threshold: the saved one calls all real (macro F1 1/3 on a half
    fake set), the share rule calls half fake and ranks them right (macro F1 1); predict --fake-share labels the
    files it scored at that rule, and refuses a threshold beside it."""
    from synthfake.detector.score import share_threshold

    assert share_threshold([0.9, 0.1, 0.8, 0.2], 0.5) == pytest.approx(0.5)
    assert share_threshold([0.3, 0.1, 0.2], 0.0) == pytest.approx(0.25)  # at least one file each way
    assert share_threshold([0.3, 0.1, 0.2], 1.0) == pytest.approx(0.15)
    rows = [Labelled(f"f{i}.jpg", int(i % 2), "k" if i % 2 else "real", "m") for i in range(20)]
    probs = {r.path: 0.05 + 0.1 * r.label + 0.001 * i for i, r in enumerate(rows)}  # fakes just above their reals
    rep = report_external("x", rows, probs, DetectorMeta(threshold=0.5), [], boot=100)
    assert rep.macro_f1 == pytest.approx(1 / 3) and rep.share_macro_f1 == 1.0
    assert sum(q >= rep.share_threshold for q in probs.values()) == 10
    from synthfake.detector.external import external_tables
    from rich.console import Console

    console = Console(width=400)

    with console.capture() as cap:
        for t in external_tables(rep, "x"):
            console.print(t)
    assert "10 of 20 scored called fake" in cap.get()
    one = report_external("x", rows[1:2], {rows[1].path: 0.2}, DetectorMeta(threshold=0.5), [], boot=10)
    assert one.share_threshold == 0.5 and one.share_macro_f1 == one.macro_f1  # one file: the saved threshold
    with console.capture() as cap:
        for t in external_tables(one, "x"):
            console.print(t)
    assert "0 of 1 scored called fake (too few to rank" in cap.get()

    p = gen("detect", "predict", model_dir, folder, "--out", tmp_path / "s.csv", "--workers", "0", "--fake-share",
            "0.5")
    assert "threshold" in p.stdout
    with open(tmp_path / "s_probs.csv") as fh:
        got = [r for r in csv.DictReader(fh)]
    scored = sorted((float(r["prob_fake"]), int(r["label"])) for r in got if r["prob_fake"])
    assert [y for _, y in scored] == [0, 0, 1, 1]  # 4 scored files: the two highest called fake
    p = gen("detect", "predict", model_dir, folder, "--out", tmp_path / "t.csv", "--threshold", "0.4",
            "--fake-share", "0.5", check=False)
    assert p.returncode == 2 and "--threshold and --fake-share both set" in p.stderr
    assert p.stderr.strip().count("\n") == 0 and not (tmp_path / "t.csv").exists()


def test_a_one_class_set_says_what_its_macro_f1_counts():
    """Only reals, 3 of 5 called real: macro F1 0.375 (the absent fake class's F1 counts as 0, as scikit-learn has
    it), which had read as a poor detector without a word (sweep)."""
    from rich.console import Console

    from synthfake.detector.external import external_tables
    from synthfake.detector.metrics import ONE_CLASS

    rows = [Labelled(f"r{i}.jpg", 0, "real", "m") for i in range(5)]
    rep = report_external("x", rows, dict(zip((r.path for r in rows), [0.1, 0.2, 0.3, 0.7, 0.8])),
                          DetectorMeta(threshold=0.5), [], boot=50)
    console = Console(width=200, record=True)
    for t in external_tables(rep, "x"):
        console.print(t)
    text = console.export_text()
    assert rep.macro_f1 == pytest.approx(0.375) and "0.375" in text and ONE_CLASS.strip() in text
    mixed = report_external("x", [*rows, Labelled("f.jpg", 1, "gen", "m")], {**rep.probs, "f.jpg": 0.9},
                            DetectorMeta(threshold=0.5), [], boot=50)
    console = Console(width=200, record=True)
    for t in external_tables(mixed, "x"):
        console.print(t)
    assert ONE_CLASS.strip() not in console.export_text()


def test_windows_separators_and_absolute_paths_under_the_folder_are_read(folder, tmp_path):
    """A labels CSV written on Windows (`fakes\\a.jpg`) or by a script that listed absolute paths names the same
    files; an absolute path elsewhere, or a drive letter, is still refused with its line (they were all refused)."""
    _write_labels(tmp_path / "win.csv", [("faces\\photo_s1.jpg", "0"), (f"{folder.resolve()}/faces/photo_s12.jpg", "1"),
                                         (f"{folder.absolute()}/faces/still_talk_d3.jpg", "1")], ("path", "label"))
    rows = read_labels(tmp_path / "win.csv", folder)
    assert [r.path for r in rows] == ["faces/photo_s1.jpg", "faces/photo_s12.jpg", "faces/still_talk_d3.jpg"]
    assert present(rows, folder)[1] == []  # every one found
    for bad in (f"{tmp_path}/elsewhere.jpg", "C:\\data\\a.jpg"):
        _write_labels(tmp_path / "bad.csv", [("faces/photo_s1.jpg", "0"), (bad, "1")], ("path", "label"))
        with pytest.raises(SynthfakeError, match="bad.csv:3: path .* must be relative to"):
            read_labels(tmp_path / "bad.csv", folder)
