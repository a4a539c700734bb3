"""The detector end to end through the CLI: train a tiny ViT on a generated dataset, predict a folder, evaluate,
and leave one generator out."""

from __future__ import annotations

import csv
import json
import re
import shutil

import pytest

from conftest import gen

pytest.importorskip("torch")
pytest.importorskip("transformers")

TINY = ("--image-size", 64, "--epochs", 2, "--frames", 4, "--score-frames", 8, "--batch-size", 8, "--workers", 0,
        "--quiet")


def gen_here(*args):
    """The CLI in this process (torch is imported once): (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from synthfake.cli import app

    r = CliRunner().invoke(app, [str(a) for a in args])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def det_dataset(data_dir, dataset_dir):
    """6 face swaps (landmark_swap) + 6 reals (images and 1 s clips) over train/val/test."""
    out = dataset_dir("det")
    gen("run", "--type", "face_swap", "--backend", "face_swap=landmark_swap", "--n", 6, "--reals", 6,
        "--clip-seconds", 1, "--sources", data_dir,
        "--out", out, "--workers", 1, "--quiet")
    return out


@pytest.fixture(scope="module")
def tiny_model(det_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "M"
    TRAIN_RUN.append(gen("detect", "train", det_dataset, "--out", out, *TINY))
    return out


TRAIN_RUN: list = []  # the fixture's `detect train --quiet` process, for its output


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_same_data_and_seed_train_the_same_weights(tiny_model, det_dataset, tmp_path):
    """A second training run gives the fixture's weights byte for byte (the new head is drawn after seeding)."""
    gen("detect", "train", det_dataset, "--out", tmp_path / "again", *TINY)
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == (tiny_model / "model.safetensors").read_bytes()
    again = json.loads((tmp_path / "again" / "detector.json").read_text())
    assert again["threshold"] == json.loads((tiny_model / "detector.json").read_text())["threshold"]


def test_train_writes_a_loadable_model_folder(tiny_model, det_dataset):
    quiet = TRAIN_RUN[0].stdout + TRAIN_RUN[0].stderr  # --quiet: no Trainer log dicts, no tqdm bars
    assert "'loss'" not in quiet and "train_runtime" not in quiet and "it/s]" not in quiet, quiet[-1500:]
    meta = json.loads((tiny_model / "detector.json").read_text())
    cfg = json.loads((tiny_model / "config.json").read_text())
    assert (tiny_model / "model.safetensors").is_file()
    mode = (tiny_model / "config.json").stat().st_mode & 0o777
    assert (tiny_model / "model.safetensors").stat().st_mode & 0o777 == mode  # readable as the rest (was 0600)
    assert cfg["id2label"][str(meta["fake_index"])] == "Fake"
    assert (meta["frames"], meta["margin"], meta["tta"], meta["image_size"]) == (8, 0.3, True, 64)
    assert 0.0 <= meta["threshold"] <= 1.0 and meta["train_crops"] > 0
    assert "people, pulled toward 0.5 by 2 more" in meta["threshold_rule"]
    from synthfake.plan import Plan  # what it was trained on, and how: the dataset's plan hash, options, seed

    assert meta["dataset_plan"] == Plan.from_file(det_dataset / "plan.json").hash and meta["seed"] == 0
    assert meta["training"]["frames"] == 4 and "cache_root" not in meta["training"]
    pre = json.loads((tiny_model / "preprocessor_config.json").read_text())
    assert pre["size"] == {"height": 64, "width": 64} and pre["image_mean"] == meta["mean"]
    crops = list((det_dataset / "cache" / "crops").rglob("*.npz"))
    assert crops, "training crops are cached in the dataset"


def test_predict_folder_follows_sample_submission(tiny_model, det_dataset, data_dir, tmp_path):
    from synthfake.manifest import read_records, resolve

    inp = tmp_path / "in"
    (inp / "videos").mkdir(parents=True)
    recs = read_records(det_dataset)
    media = [resolve(det_dataset, r) for r in recs if r.split == "test"]
    media += [resolve(det_dataset, r) for r in recs if r.media.kind == "video"][:2]
    for p in media:
        shutil.copy(p, inp / ("videos" if p.suffix == ".mp4" else "") / p.name)
    shutil.copy(data_dir / "nonfaces" / "animal_s22.jpg", inp / "animal.jpg")
    (inp / "corrupt.png").write_bytes(b"not a png")
    (inp / "videos" / "cut.mp4").write_bytes(media[-1].read_bytes()[:4000])
    files = sorted(p.relative_to(inp).as_posix() for p in inp.rglob("*") if p.is_file())
    keys = [f.rsplit("/", 1)[-1].rsplit(".", 1)[0] for f in reversed(files)] + ["not_there"]  # stems, reversed
    sample = tmp_path / "sample_submission.csv"
    sample.write_text("id,label,extra\n" + "".join(f"{k},0,x\n" for k in keys))

    proc = gen("detect", "predict", tiny_model, inp, "--out", tmp_path / "sub.csv", "--sample-submission", sample,
               "--batch-size", 5, "--quiet")
    sub = _rows(tmp_path / "sub.csv")
    assert [r["id"] for r in sub] == keys and list(sub[0]) == ["id", "label", "extra"]
    probs = {r["filename"]: r for r in _rows(tmp_path / "sub_probs.csv")}
    assert sorted(probs) == sorted(files + ["not_there"])  # the sheet's row with no file too, with why
    assert probs["not_there"]["reason"] == f"listed in {sample} but not found under {inp}", probs["not_there"]
    assert probs["not_there"]["label"] == "0" and probs["not_there"]["prob_fake"] == ""
    thr = json.loads((tiny_model / "detector.json").read_text())["threshold"]
    for f in ("animal.jpg", "corrupt.png", "videos/cut.mp4"):
        assert probs[f]["prob_fake"] == "" and probs[f]["label"] == "0" and probs[f]["reason"]
        assert f in proc.stderr, "each fallback is logged on one line"
    assert "no face" in probs["animal.jpg"]["reason"] and "unreadable" in probs["corrupt.png"]["reason"]
    scored = [r for r in probs.values() if r["prob_fake"]]
    assert len(scored) == len(media)
    by_stem = {k: r["label"] for k, r in zip(keys, sub)}
    for f, r in probs.items():
        if r["prob_fake"]:
            assert 0 <= float(r["prob_fake"]) <= 1 and r["label"] == str(int(float(r["prob_fake"]) >= thr))
            assert by_stem[f.rsplit("/", 1)[-1].rsplit(".", 1)[0]] == r["label"]
    assert next(r for r in sub if r["id"] == "not_there")["label"] == "0"
    vid = [r for f, r in probs.items() if f.startswith("videos/") and r["prob_fake"]]
    assert vid and all(int(r["crops"]) == 8 for r in vid), "8 face crops per 25-frame clip"

    code, _, err = gen_here("detect", "predict", tiny_model, inp, "--out", tmp_path / "plain.csv", "--quiet",
                            "--workers", 0)
    assert code == 0, err
    plain = _rows(tmp_path / "plain.csv")
    assert [r["filename"] for r in plain] == files and list(plain[0]) == ["filename", "label"]


def test_eval_reports_every_metric(tiny_model, det_dataset, tmp_path):
    from synthfake.manifest import read_records

    proc = gen("detect", "eval", tiny_model, det_dataset, "--split", "train", "--json", tmp_path / "r.json", "--quiet",
               "--workers", 0)
    rep = json.loads((tmp_path / "r.json").read_text())
    n = sum(r.split == "train" for r in read_records(det_dataset))
    assert rep["files"] == n and sum(map(sum, rep["confusion"])) == n
    (tn, fp), (fn, tp) = rep["confusion"]
    f1_fake = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    f1_real = 2 * tn / (2 * tn + fn + fp) if tn + fn + fp else 0.0
    assert rep["f1_fake"] == pytest.approx(f1_fake) and rep["f1_real"] == pytest.approx(f1_real)
    assert rep["macro_f1"] == pytest.approx((f1_fake + f1_real) / 2)
    assert set(rep["recall_by_type"]) == {"face_swap", "real"}
    assert set(rep["recall_by_backend"]) == {"landmark_swap", "reencode"}
    assert rep["recall_by_type"]["face_swap"] == pytest.approx(tp / (tp + fn))
    assert rep["roc_auc"] is not None and 0 <= rep["roc_auc"] <= 1
    assert "macro F1" in proc.stdout and "confusion" in proc.stdout


def test_leave_one_generator_out(det_dataset, tiny_model, tmp_path):
    """A second fake backend is made by relabelling records; training drops it, eval scores reals + it."""
    from synthfake.manifest import read_records

    ds = tmp_path / "D"
    shutil.copytree(det_dataset, ds)
    recs = read_records(ds)
    train_fakes = [r.id for r in recs if r.split == "train" and r.label == 1]
    alt = {r.id for r in recs if r.split in ("test", "val") and r.label == 1} | {train_fakes[0]}
    for part in (ds / "manifest").glob("part-*.jsonl"):
        lines = [json.loads(x) for x in part.read_text().splitlines() if x.strip()]
        part.write_text("".join(json.dumps({**d, "backend": "alt_swap"} if d["id"] in alt else d) + "\n"
                                for d in lines))
    model = tmp_path / "M"
    code, _, err = gen_here("detect", "train", ds, "--out", model, "--leave-out", "alt_swap", *TINY)
    assert code == 0, err
    meta = json.loads((model / "detector.json").read_text())
    assert meta["leave_out"] == "alt_swap"
    assert 0 < meta["train_crops"] < json.loads((tiny_model / "detector.json").read_text())["train_crops"]
    code, out, err = gen_here("detect", "eval", model, ds, "--leave-out", "alt_swap", "--json", tmp_path / "r.json",
                              "--workers", 0, "--quiet")
    assert code == 0, err
    rep = json.loads((tmp_path / "r.json").read_text())
    test = [r for r in read_records(ds) if r.split == "test"]
    assert rep["count_by_backend"] == {"alt_swap": sum(r.id in alt for r in test),
                                       "reencode": sum(r.label == 0 for r in test)}
    assert "alt_swap" in out and "macro F1" in out

    code, _, err = gen_here("detect", "eval", tiny_model, ds, "--leave-out", "alt_swap", "--quiet")
    assert code == 2 and "trained with leave_out=None" in err and len(err.strip().splitlines()) == 1
    code, _, err = gen_here("detect", "train", det_dataset, "--out", tmp_path / "X", "--leave-out", "face_swap", *TINY)
    assert code == 2 and "needs both real and fake" in err
    code, _, err = gen_here("detect", "train", det_dataset, "--out", tmp_path / "X", "--leave-out", "lip_sync", *TINY)
    assert code == 2 and "names no fake type or backend" in err


def test_model_threads_follow_the_model_size(tmp_path):
    """A small model leaves the cores to the decoders (one thread); a large one is the work and takes them all."""
    from synthfake.detector.predict import SMALL_MODEL_BYTES, model_threads

    (tmp_path / "model.onnx").write_bytes(b"x" * 1000)
    assert model_threads(tmp_path, workers=2) == 1
    assert model_threads(tmp_path, workers=0) == 0  # no decoding processes: the model has every core anyway
    with open(tmp_path / "model.safetensors", "wb") as fh:  # sparse: no disk used
        fh.truncate(SMALL_MODEL_BYTES + 1)
    assert model_threads(tmp_path, workers=2) == 0


def test_export_int8_checks_the_copy_on_val_and_predict_follows_the_check(tiny_model, det_dataset, tmp_path):
    """`gen detect export --int8 --dataset D` writes the int8 copy and its val check (both models' macro F1, the
    largest probability change, the weights and ONNX it was made from); `predict` takes the copy by default
    exactly when the check passed, and a retrain makes it stale."""
    from synthfake.detector.quantize import F1_TOLERANCE
    from synthfake.manifest import read_records

    model = tmp_path / "M"
    shutil.copytree(tiny_model, model)
    code, out, err = gen_here("detect", "export", model, "--int8", "--dataset", det_dataset, "--workers", 0)
    assert code == 0, err
    check = json.loads((model / "model.int8.json").read_text())
    val = [r for r in read_records(det_dataset) if r.split == "val"]
    assert 0 < check["files"] <= len(val) and check["split"] == "val" and "model.int8.onnx" in out
    assert check["passed"] == (abs(check["macro_f1_int8"] - check["macro_f1_fp32"]) <= F1_TOLERANCE)
    assert 0 <= check["max_prob_diff"] < 0.5 and check["weights"]["file"] == "model.safetensors"
    code, _, err = gen_here("detect", "predict", model, det_dataset / "media", "--out", tmp_path / "s.csv", "--quiet",
                            "--workers", 0)
    assert code == 0 and ("scoring with model.int8.onnx" in err) == check["passed"], err
    code, _, err = gen_here("detect", "predict", model, det_dataset / "media", "--out", tmp_path / "s.csv", "--quiet",
                            "--workers", 0, "--fp32")
    assert code == 0 and "int8" not in err, err
    weights = bytearray((model / "model.safetensors").read_bytes())  # retrained (and exported again, as training
    weights[-1] ^= 1  # does): the last weight's lowest byte changed
    (model / "model.safetensors").write_bytes(bytes(weights))
    code, _, err = gen_here("detect", "export", model)
    assert code == 0, err
    code, _, err = gen_here("detect", "predict", model, det_dataset / "media", "--out", tmp_path / "s.csv", "--quiet",
                            "--workers", 0)
    assert code == 0 and "scoring with model.onnx (fp32): model.int8.onnx made from other weights" in err, err


def test_split_all_scores_every_file_of_a_dataset_the_model_never_trained_on(tiny_model, det_dataset, tmp_path):
    """`--split all` on the model's own dataset is refused (it would score the train split); on a dataset from
    other people (here: the same folder once the model no longer names its plan) it scores every record."""
    import shutil

    from synthfake.manifest import read_records

    p = gen("detect", "eval", tiny_model, det_dataset, "--split", "all", "--quiet", check=False)
    assert p.returncode == 2 and "would score its train split too" in p.stderr and p.stderr.count("\n") == 1
    other = tmp_path / "M"
    shutil.copytree(tiny_model, other)
    meta = json.loads((other / "detector.json").read_text())
    meta["dataset_plan"] = "0" * 16  # as a model trained on another dataset records it
    (other / "detector.json").write_text(json.dumps(meta))
    gen("detect", "eval", other, det_dataset, "--split", "all", "--json", tmp_path / "r.json", "--quiet",
        "--workers", 0)
    assert json.loads((tmp_path / "r.json").read_text())["files"] == len(read_records(det_dataset))


def test_a_sheet_names_its_files_as_people_write_them(data_dir, tmp_path):
    """The key column found by name (a `label,filename` sheet), keys like './a.jpg', 'sub\\b.mp4' or another case
    find their file; a sheet naming none of the files, or with no rows, is one line before anything is scored
    (before 6 Dec: every row a silent fallback, exit 0)."""
    from synthfake.detector.inputs import find_listed, index_files, read_sample
    from synthfake.detector.predict import predict
    from synthfake.errors import SynthfakeError

    inp = tmp_path / "in"
    (inp / "sub").mkdir(parents=True)
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", inp / "Photo One.JPG")
    shutil.copy(data_dir / "faces" / "photo_s42.jpg", inp / "sub" / "b.jpg")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("label,filename\n0,./photo one.jpg\n0,sub\\b.jpg\n0,Photo One\n")
    sub = read_sample(sheet)
    assert (sub.key, sub.label) == ("filename", "label")
    index = index_files([inp / "Photo One.JPG", inp / "sub" / "b.jpg"], inp)
    got = [find_listed(index, r[sub.key]) for r in sub.rows]
    assert got == [inp / "Photo One.JPG", inp / "sub" / "b.jpg", inp / "Photo One.JPG"]
    sheet.write_text("filename,label\nnot_here.jpg,0\n")
    with pytest.raises(SynthfakeError, match="none of its 1 rows names a file under"):
        predict(tmp_path / "no_model", inp, tmp_path / "s.csv", sheet, show=False)
    sheet.write_text("filename,label\n")
    with pytest.raises(SynthfakeError, match="has no rows"):
        predict(tmp_path / "no_model", inp, tmp_path / "s.csv", sheet, show=False)
    assert not (tmp_path / "s.csv").exists()
    from synthfake.labels import read_labels

    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n./sub/b.jpg,1\nPhoto One.JPG,0\n")
    assert [r.path for r in read_labels(labels, inp)] == ["sub/b.jpg", "Photo One.JPG"]
    labels.write_text("path,label\n./sub/b.jpg,1\nsub/b.jpg,1\n")
    with pytest.raises(SynthfakeError, match="sub/b.jpg is listed twice"):
        read_labels(labels, inp)


def test_a_file_name_that_is_not_utf8_is_written_as_it_is_on_disk(tmp_path):
    """os.listdir gives such a name with surrogates; the submission holds its bytes (was a UnicodeEncodeError after
    every file had been scored)."""
    import os

    from synthfake.detector.predict import _write_csv

    name = os.fsdecode(b"caf\xe9.jpg")
    _write_csv(tmp_path / "s.csv", ["filename", "label"], [{"filename": name, "label": 0}])
    assert (tmp_path / "s.csv").read_bytes() == b"filename,label\r\ncaf\xe9.jpg,0\r\n"


def test_a_hand_edited_detector_json_is_checked_before_scoring(tiny_model, tmp_path):
    """A threshold written as a string, out of [0, 1] or NaN, frames 0 or a list for the whole file: one line naming
    the file and field (before 6 Dec: a traceback after scoring, or every label 0 at threshold nan)."""
    from synthfake.detector.meta import read_meta
    from synthfake.errors import SynthfakeError

    d = tmp_path / "M"
    shutil.copytree(tiny_model, d)
    meta = json.loads((d / "detector.json").read_text())
    for field_, value, want in (("threshold", "0.3", "threshold '0.3'"), ("threshold", 1.5, "threshold 1.5"),
                                ("threshold", float("nan"), "threshold nan"), ("frames", 0, "frames 0"),
                                ("std", [0.5, 0, 0.5], "std [0.5, 0, 0.5]")):
        (d / "detector.json").write_text(json.dumps({**meta, field_: value}))
        with pytest.raises(SynthfakeError, match=f"detector.json: {re.escape(want)}: expected"):
            read_meta(d)
    (d / "detector.json").write_text("[1, 2]")
    with pytest.raises(SynthfakeError, match="expected a JSON object"):
        read_meta(d)
    (d / "detector.json").write_text(json.dumps({**meta, "threshold": 0.25}))
    assert read_meta(d).threshold == 0.25  # a sound edit is taken


def test_a_sheet_of_probability_placeholders_gets_probabilities(tmp_path):
    """DFDC's sample submission holds label 0.5 in every row and is scored by log loss: it gets each file's
    probability, not a hard 0 / 1; a sheet of 0 / 1 labels still gets labels; --device is checked on every runtime."""
    from synthfake.detector.inputs import read_sample
    from synthfake.detector.predict import load_scorer
    from synthfake.errors import SynthfakeError

    sheet = tmp_path / "sample_submission.csv"
    sheet.write_text("filename,label\na.mp4,0.5\nb.mp4,0.5\n")
    sub = read_sample(sheet)
    assert (sub.label, sub.prob) == (None, "label")
    sheet.write_text("filename,label\na.mp4,0\nb.mp4,1\n")
    assert (read_sample(sheet).label, read_sample(sheet).prob) == ("label", None)
    sheet.write_text("filename,label\na.mp4,0.0\nb.mp4,1.0\nc.mp4,0.00\n")  # a pandas float column: labels too
    assert (read_sample(sheet).label, read_sample(sheet).prob) == ("label", None)  # (was: probabilities, silently)
    with pytest.raises(SynthfakeError, match="--device gpu: expected cpu, cuda or cuda:N"):
        load_scorer(tmp_path, "onnx", device="gpu")


def test_a_probability_sheet_gets_0_5_for_a_file_without_crops(data_dir, tmp_path):
    """A DFDC-style sheet (0.5 in every row: probabilities, scored by log loss): a file with no face, or listed and
    missing, was written as the fallback label (1.0 here), the most confident answer possible and the most costly
    one when wrong. It gets 0.5 now, and the log and the report line say so; a label sheet still gets the label."""
    from transformers import ViTForImageClassification
    from typer.testing import CliRunner

    from synthfake.cli import app
    from synthfake.detector.meta import DetectorMeta
    from synthfake.detector.model import save_detector, tiny_config

    model = tmp_path / "M"
    save_detector(ViTForImageClassification(tiny_config(32)).eval(), DetectorMeta(image_size=32, frames=2,
                                                                                  fallback_label=1), model)
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", inp / "face.jpg")
    shutil.copy(data_dir / "nonfaces" / "animal_s22.jpg", inp / "animal.jpg")
    sheet = tmp_path / "sample_submission.csv"
    args = ["detect", "predict", str(model), str(inp), "--out", str(tmp_path / "sub.csv"), "--sample-submission",
            str(sheet), "--runtime", "torch", "--workers", "0", "--quiet"]
    sheet.write_text("filename,label\nface.jpg,0.5\nanimal.jpg,0.5\ngone.mp4,0.5\n")
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    sub = {row["filename"]: row["label"] for row in _rows(tmp_path / "sub.csv")}
    assert sub["animal.jpg"] == "0.5" and sub["gone.mp4"] == "0.5", sub
    assert 0 <= float(sub["face.jpg"]) <= 1 and len(sub["face.jpg"]) == 8  # its probability, 6 decimals
    assert "animal.jpg: no face" in r.stderr and "-> fallback probability 0.5" in r.stderr, r.stderr
    assert "(written as fallback probability 0.5)" in r.stdout, r.stdout
    sheet.write_text("filename,label\nface.jpg,0\nanimal.jpg,0\ngone.mp4,0\n")  # labels: the fallback label
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    sub = {row["filename"]: row["label"] for row in _rows(tmp_path / "sub.csv")}
    assert sub["animal.jpg"] == "1" and sub["gone.mp4"] == "1" and sub["face.jpg"] in ("0", "1"), sub
    assert "-> fallback label 1" in r.stderr and "(written as fallback label 1)" in r.stdout, r.output


def test_predict_lists_files_in_linked_folders_once(data_dir, tmp_path):
    """A symlinked subfolder is followed (its files were skipped without a word); a link back to the folder
    itself ends there."""
    import os

    from synthfake.detector.inputs import list_inputs

    inp, other = tmp_path / "in", tmp_path / "other"
    inp.mkdir()
    other.mkdir()
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", other / "x.jpg")
    shutil.copy(data_dir / "faces" / "photo_s42.jpg", inp / "y.jpg")
    os.symlink(other, inp / "linked")
    os.symlink(inp, inp / "loop")
    assert [p.relative_to(inp).as_posix() for p in list_inputs(inp)] == ["linked/x.jpg", "y.jpg"]


def test_training_says_when_the_dataset_is_unfinished(det_dataset, tmp_path):
    """A dataset with shards still to run trained without a word; now one line says how many of the plan's samples
    it holds (training goes on with them, as `gen export --partial` would)."""
    from synthfake.detector.train import _say_if_unfinished

    lines = []
    _say_if_unfinished(det_dataset, lines.append)
    assert lines == []
    d = tmp_path / "D"
    shutil.copytree(det_dataset, d)
    part = sorted((d / "manifest").glob("part-*.jsonl"))[0]
    kept = part.read_text().splitlines()[:3]
    part.write_text("\n".join(kept) + "\n")
    for other in sorted((d / "manifest").glob("part-*.jsonl"))[1:]:
        other.unlink()
    _say_if_unfinished(d, lines.append)
    assert len(lines) == 1 and "holds 3 of its" in lines[0] and "gen status" in lines[0], lines


def test_a_missing_media_file_is_said_by_train_and_not_scored_by_eval(tiny_model, det_dataset, tmp_path):
    """A val file whose media was deleted was dropped from the threshold's choice without a word, and `eval
    --split` scored a missing file as its fallback label, where `--labels` skips it (7 Dec sweep): train says it,
    eval skips it with a line, both count what they used."""
    from synthfake.manifest import read_records

    ds = tmp_path / "D"
    shutil.copytree(det_dataset, ds, ignore=shutil.ignore_patterns("crops"))
    val = next(r for r in read_records(ds) if r.split == "val")
    (ds / val.path).unlink()
    proc = gen("detect", "train", ds, "--out", tmp_path / "M", *TINY)
    assert f"{val.path}: unreadable: file not found: not used for choosing the threshold" in proc.stdout + proc.stderr
    n = sum(r.split == "val" for r in read_records(ds))
    assert json.loads((tmp_path / "M" / "detector.json").read_text())["val_files"] <= n - 1
    proc = gen("detect", "eval", tiny_model, ds, "--split", "val", "--json", tmp_path / "r.json", "--workers", 0)
    assert f"{val.path}: media file missing: not scored" in proc.stdout + proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["files"] == n - 1


def test_training_from_a_base_records_what_it_ran(det_dataset, tmp_path):
    """detector.json's `training` recorded the --image-size flag (224 by default) where the base's 64 was used,
    lr null where 5e-5 was used, and the base by the relative path it was given (7 Dec sweep)."""
    from transformers import ViTForImageClassification

    from synthfake.detector.model import tiny_config

    cfg = tiny_config(64)
    cfg.id2label, cfg.label2id = {0: "Real", 1: "Fake"}, {"Real": 0, "Fake": 1}
    ViTForImageClassification(cfg).save_pretrained(tmp_path / "base")
    gen("detect", "train", det_dataset, "--out", tmp_path / "M", "--base", tmp_path / "base", "--epochs", 0.2,
        "--frames", 2, "--score-frames", 4, "--workers", 0, "--quiet")
    meta = json.loads((tmp_path / "M" / "detector.json").read_text())
    assert (meta["image_size"], meta["training"]["image_size"], meta["training"]["lr"]) == (64, 64, 5e-5)
    assert meta["base"] == str((tmp_path / "base").resolve())


def test_unseen_leaves_out_what_the_model_saw_in_training(tiny_model, det_dataset, data_dir, tmp_path):
    """detector.json keeps the sha256 of every picture and clip behind the train and val splits; `eval --unseen`
    leaves out a dataset's records made from one, and a labelled folder's files that are one byte for byte (a
    "held-out" set holding a training source scored it as new; without --unseen it is said in one line)."""
    import shutil

    from synthfake.detector.evaluate import split_records

    meta = json.loads((tiny_model / "detector.json").read_text())
    trained = split_records(det_dataset, "train") + split_records(det_dataset, "val")
    seen = {s.sha256[:16] for r in trained for s in r.sources if not s.path.endswith(".wav")}
    assert meta["seen_sources"] == sorted(seen) and seen
    other = tmp_path / "M"
    shutil.copytree(tiny_model, other)
    meta["dataset_plan"] = "0" * 16  # as a model trained on another dataset (of these people) records it
    (other / "detector.json").write_text(json.dumps(meta))
    p = gen("detect", "eval", other, det_dataset, "--split", "all", "--json", tmp_path / "all.json", "--quiet",
            "--workers", 0)
    assert f"{len(trained)} of " in p.stderr and "--unseen leaves them out" in p.stderr
    p = gen("detect", "eval", other, det_dataset, "--split", "all", "--unseen", "--json", tmp_path / "new.json",
            "--quiet", "--workers", 0)
    assert "left out (--unseen)" in p.stderr
    test = split_records(det_dataset, "test")
    assert json.loads((tmp_path / "new.json").read_text())["files"] == len(test)
    meta["seen_sources"] = []  # a model trained before they were recorded: --unseen cannot tell, and says so
    (other / "detector.json").write_text(json.dumps(meta))
    p = gen("detect", "eval", other, det_dataset, "--split", "all", "--unseen", "--quiet", check=False)
    assert p.returncode == 2 and "lists no seen_sources" in p.stderr and p.stderr.count("\n") == 1
    # a labelled folder: one source the model trained on, copied under a new name, beside a file it never saw
    src = next(s for r in trained for s in r.sources if s.path.endswith(".jpg"))
    new = next(f for f in sorted((data_dir / "faces").glob("*.jpg")) if sha256_of(f)[:16] not in seen)
    folder = tmp_path / "labelled"
    folder.mkdir()
    shutil.copy(data_dir / src.path, folder / "a.jpg")
    shutil.copy(new, folder / "b.jpg")
    (folder / "labels.csv").write_text("path,label\na.jpg,0\nb.jpg,1\n")
    gen("detect", "eval", tiny_model, folder, "--labels", folder / "labels.csv", "--unseen", "--json",
        tmp_path / "l.json", "--quiet", "--workers", 0)
    rep = json.loads((tmp_path / "l.json").read_text())
    assert rep["files"] == 1 and rep["skipped"] == [{"path": "a.jpg", "reason": "byte for byte a picture or clip "
                                                                                "the model saw in training (--unseen)"}]


def sha256_of(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
