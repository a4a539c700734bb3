"""`gen detect eval --labels --equalise` compares the detector over the same files both ways (the files the
equaliser skipped are left out of both and named), keeping the report of every file as found; `eval --labels`
reads the model's settings as `predict` does, so a folder without its torch weights (model.onnx only) is evaluated;
a cache folder holding the user's labels CSV is refused before anything is scored."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from conftest import gen

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from synthfake.detector.equalise import EqualiseSettings  # noqa: E402
from synthfake.detector.equalised_eval import SAME, comparison_table, evaluate_equalised  # noqa: E402
from synthfake.detector.external import evaluate_external  # noqa: E402
from tiny_models import random_detector  # noqa: E402

S = EqualiseSettings(image_side=96, jpeg_quality=85, video_side=64, max_seconds=1.0, crf=30)
ROWS = [("faces/photo_s1.jpg", 0), ("nonfaces/animal_s22.jpg", 0), ("faces/photo_s12.jpg", 1),
        ("faces/still_talk_d3.jpg", 1), ("bad/broken.mp4", 1), ("bad/zero.jpg", 0)]


@pytest.fixture(scope="module")
def folder(data_dir, tmp_path_factory):
    """Four pictures and two files nothing decodes (a fake video, an empty real image)."""
    d = tmp_path_factory.mktemp("same") / "set"
    for name, _ in ROWS[:4]:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / name, d / name)
    (d / "bad").mkdir()
    (d / "bad" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video at all" * 40)
    (d / "bad" / "zero.jpg").write_bytes(b"")
    with open(d.parent / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "kind", "model"])
        w.writerows([n, y, "swap" if y else "real", "m" if y else "r"] for n, y in ROWS)
    return d


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return random_detector(tmp_path_factory.mktemp("model") / "m", frames=2)


def test_found_and_equalised_are_compared_over_the_same_files(folder, model_dir, tmp_path):
    from sklearn.metrics import roc_auc_score

    notes = []
    reps = evaluate_equalised(model_dir, folder, folder.parent / "labels.csv", S, tmp_path / "eq", workers=0,
                              show=False, log=notes.append)
    found, same, eq = reps["found"], reps[SAME], reps["equalised"]
    assert found.files == 6 and found.skipped == []  # the full report as found: the undecodable at the fallback
    assert same.files == eq.files == 4 and same.fakes == eq.fakes == 2
    skipped = {"bad/broken.mp4", "bad/zero.jpg"}
    assert {s["path"] for s in same.skipped} == {s["path"] for s in eq.skipped} == skipped
    assert all(s["reason"].startswith("not equalised: ") for s in same.skipped)
    y = [y for _, y in ROWS[:4]]
    assert same.roc_auc == pytest.approx(roc_auc_score(y, [found.probs.get(n, 0.0) for n, _ in ROWS[:4]]))
    assert set(same.probs) <= {n for n, _ in ROWS[:4]} and set(eq.probs) <= {n for n, _ in ROWS[:4]}
    note = ("found and equalised: the same 4 file(s) both ways; 2 the equaliser skipped (listed with their reason) "
            "are left out of both; 'found, every file' scores them as found too (2 of them without crops, at the "
            "fallback label 0 as probability)")
    assert f"comparison: {note}" in notes
    from rich.console import Console

    console = Console(width=300, record=True, file=open("/dev/null", "w"))
    console.print(comparison_table(reps, "t"))
    text = console.export_text()
    cells = [[c.strip() for c in ln.split("│")[1:3]] for ln in text.splitlines() if ln.startswith("│ ")]
    assert cells == [["found", "4 (2)"], ["equalised", "4 (2)"], ["found, every file", "6 (3)"]]
    assert note in " ".join(text.split())


def test_eval_labels_scores_a_model_folder_without_its_torch_weights(folder, model_dir, tmp_path):
    full = evaluate_external(model_dir, folder, folder.parent / "labels.csv", workers=0, show=False,
                             log=lambda m: None)
    onnx_only = tmp_path / "m"
    shutil.copytree(model_dir, onnx_only)
    (onnx_only / "model.safetensors").unlink()
    p = gen("detect", "predict", onnx_only, folder, "--out", tmp_path / "sub.csv", "--workers", "0", "--quiet")
    assert p.returncode == 0  # predict scores it (onnxruntime)
    rep = evaluate_external(onnx_only, folder, folder.parent / "labels.csv", workers=0, show=False,
                            log=lambda m: None)
    assert rep.probs == pytest.approx(full.probs, abs=1e-7) and rep.roc_auc == full.roc_auc and rep.files == 6


def test_cli_refuses_a_cache_holding_the_labels_before_scoring(folder, model_dir, tmp_path):
    mylab = tmp_path / "mylab"
    mylab.mkdir()
    shutil.copy(folder.parent / "labels.csv", mylab / "labels.csv")
    before = (mylab / "labels.csv").read_bytes()
    p = gen("detect", "eval", model_dir, folder, "--labels", mylab / "labels.csv", "--equalise", "--equalise-cache",
            mylab, "--workers", "0", check=False)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [f"error: {mylab / 'labels.csv'}: is the --labels file; the equalised "
                                             f"cache writes its own labels.csv there and would overwrite it: give "
                                             f"--equalise-cache another folder"]
    assert (mylab / "labels.csv").read_bytes() == before and [x.name for x in mylab.iterdir()] == ["labels.csv"]
    p = gen("detect", "eval", model_dir, folder, "--labels", folder.parent / "labels.csv", "--equalise",
            "--equalise-cache", tmp_path / "eq", "--json", tmp_path / "r.json", "--workers", "0", "--quiet")
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["found"]["files"] == 6 and rep[SAME]["files"] == rep["equalised"]["files"] == 4
    rows = [ln for ln in p.stdout.splitlines() if ln.startswith("│ found") or ln.startswith("│ equalised")]
    assert [r.split("│")[1].strip() for r in rows][:2] == ["found", "equalised"]
