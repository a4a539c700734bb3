"""ONNX scoring: the exported model gives torch's probabilities within 1e-5, scoring on onnxruntime imports
neither torch, transformers nor scikit-learn, a stale or missing export is a clear error, and the scorer's
memory does not grow with the number of frames."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from synthfake.detector.crops import CropSettings, FileCrops, file_crops  # noqa: E402
from synthfake.detector.meta import DetectorMeta, read_meta  # noqa: E402
from synthfake.detector.model import save_detector, tiny_config  # noqa: E402
from synthfake.detector.onnx_export import export_onnx, onnx_scorer, sample_pixels  # noqa: E402
from synthfake.detector.predict import load_scorer  # noqa: E402
from synthfake.detector.score import score_stream  # noqa: E402
from synthfake.errors import SynthfakeError  # noqa: E402

SIZE = 64


@pytest.fixture(scope="module")
def crops(data_dir):
    s = CropSettings(frames=10, size=SIZE)
    return [file_crops(data_dir / "videos" / "talk_d3.mp4", s), file_crops(data_dir / "faces" / "photo_s1.jpg", s),
            file_crops(data_dir / "nonfaces" / "animal_s31.jpg", s)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, crops):
    """A tiny random ViT whose head is scaled so that probabilities spread over (0, 1), saved and exported."""
    from transformers import ViTForImageClassification

    torch.manual_seed(1)
    model = ViTForImageClassification(tiny_config(SIZE)).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(10)
    d = tmp_path_factory.mktemp("onnx") / "M"
    meta = DetectorMeta(image_size=SIZE, frames=10)
    save_detector(model, meta, d)
    diff = export_onnx(model, meta, d, crops[0].crops[:4], log=lambda m: None)
    return d, diff


def test_onnx_and_torch_probabilities_agree(exported, crops):
    d, diff = exported
    assert diff <= 1e-5 and json.loads((d / "onnx.json").read_text())["max_prob_diff_vs_torch"] == diff
    onnx, meta = load_scorer(d, "onnx")
    torch_model, _ = load_scorer(d, "torch")
    a = list(score_stream(onnx, crops, meta, 7))
    b = list(score_stream(torch_model, crops, meta, 16))
    probs = [(x.prob, y.prob) for x, y in zip(a, b) if x.prob is not None]
    assert len(probs) == 2 and [x.prob for x in a][2] is None  # the animal photo has no face
    assert max(abs(x - y) for x, y in probs) <= 1e-5
    assert np.ptp([x for x, _ in probs]) > 1e-3, "the model must tell the files apart for the check to mean much"


def test_stale_or_missing_export_is_a_clear_error(exported, tmp_path):
    d, _ = exported
    copy = tmp_path / "M"
    shutil.copytree(d, copy)
    meta = read_meta(copy)
    w = copy / "model.safetensors"
    st = w.stat()  # a folder copied without its times (cp -r, scp, an unzip): the same weights, a new mtime
    os.utime(w, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
    onnx_scorer(copy, meta)  # settled by the content's sha256
    data = bytearray(w.read_bytes())  # a retrain rewrites the weights: other bytes, the same size
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    with pytest.raises(SynthfakeError, match="retrained since"):
        onnx_scorer(copy, meta)
    (copy / "onnx.json").unlink()
    with pytest.raises(SynthfakeError, match="onnx.json: missing"):
        onnx_scorer(copy, meta)
    (copy / "model.onnx").unlink()
    with pytest.raises(SynthfakeError, match="gen detect export"):
        load_scorer(copy, "onnx")
    with pytest.raises(SynthfakeError, match="int8"):
        load_scorer(d, "onnx", int8=True)


def test_scoring_imports_no_torch_transformers_or_sklearn(exported, data_dir, tmp_path):
    d, _ = exported
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(data_dir / "videos" / "talk_d3.mp4", inp)
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", inp)
    code = textwrap.dedent(f"""
        import sys
        from synthfake.detector.predict import predict
        predict({str(d)!r}, {str(inp)!r}, {str(tmp_path / 'sub.csv')!r}, workers=1, show=False, log=lambda m: None)
        print(sorted(m for m in ("torch", "transformers", "sklearn") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
    rows = (tmp_path / "sub_probs.csv").read_text().splitlines()
    assert len(rows) == 3 and all(r.split(",")[1] for r in rows[1:])


def test_scorer_memory_is_flat_in_frames(exported):
    """Peak traced memory of scoring 40 and 400 crops of one file (parts of 8) differ by far less than the
    extra crops would take if held."""
    import tracemalloc

    d, _ = exported
    model, meta = load_scorer(d, "onnx")
    rng = np.random.default_rng(0)
    part = rng.integers(0, 255, (8, SIZE, SIZE, 3), np.uint8)

    def peak(n_parts: int) -> int:
        parts = ((0, FileCrops("v.mp4", part, [0] * 8, 8, last=i == n_parts - 1)) for i in range(n_parts))
        from synthfake.detector.score import score_parts

        tracemalloc.start()
        list(score_parts(model, parts, meta, 16))
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p

    small, large = peak(5), peak(50)
    held = 45 * part.nbytes * 2  # crops and flips of the extra frames
    assert large - small < held / 10, (small, large)


def test_int8_check_counts_f1_flips_and_tolerance():
    from synthfake.detector.quantize import F1_TOLERANCE, int8_check

    labels, fp32 = [1, 1, 0, 0, 1], [0.9, 0.6, 0.4, 0.1, None]  # the last file had no face: left out
    c = int8_check(labels, fp32, [0.9, 0.45, 0.4, 0.1, None], 0.5)
    assert (c["files"], c["macro_f1_fp32"], c["labels_changed"], c["passed"]) == (4, 1.0, 1, False)
    assert c["macro_f1_int8"] == pytest.approx((2 / 3 + 0.8) / 2) and c["max_prob_diff"] == pytest.approx(0.15)
    c = int8_check(labels, fp32, [0.88, 0.52, 0.43, 0.1, None], 0.5)
    assert c["passed"] and c["macro_f1_change"] == 0 and c["max_prob_diff"] == pytest.approx(0.08)
    assert c["f1_tolerance"] == F1_TOLERANCE == 0.005
    with pytest.raises(SynthfakeError, match="no scored file"):
        int8_check([1], [None], [None], 0.5)


def _probs(scorer, crops, meta):
    return np.array([s.prob for s in score_stream(scorer, crops, meta, 16) if s.prob is not None])


def test_int8_copy_is_used_by_default_only_when_checked_and_current(exported, crops, data_dir, tmp_path):
    """No int8 copy: fp32, nothing said. A checked, current copy: used by default and said so; `--fp32` keeps
    fp32 exactly. A failed check, a later export or a check without stamps: fp32 by default, with the reason;
    `--int8` still takes a failed-check copy but refuses a stale one."""
    from synthfake.detector.quantize import int8_choice, quantize_file, save_int8

    d = tmp_path / "M"
    shutil.copytree(exported[0], d)
    notes: list[str] = []
    fp32, meta = load_scorer(d, "onnx")
    ref = _probs(fp32, crops, meta)
    auto, _ = load_scorer(d, "onnx", int8=None, log=notes.append)
    assert notes == [] and np.array_equal(_probs(auto, crops, meta), ref)

    quantize_file(d / "model.onnx", d / ".q.tmp")
    ok = {"files": 20, "macro_f1_fp32": 0.8, "macro_f1_int8": 0.797, "max_prob_diff": 0.01}
    save_int8(d, d / ".q.tmp", ok)
    assert int8_choice(d)[0] and (d / "model.int8.onnx").is_file() and not (d / ".q.tmp").exists()
    auto, _ = load_scorer(d, "onnx", int8=None, log=notes.append)
    assert len(notes) == 1 and notes[0].startswith("scoring with model.int8.onnx (val macro F1 0.7970")
    got = _probs(auto, crops, meta)
    assert not np.array_equal(got, ref) and np.abs(got - ref).max() < 0.05, "the int8 copy scored, close to fp32"
    pixels = sample_pixels(meta, np.stack([c for fc in crops for c in fc.crops]))
    alone = np.concatenate([auto(pixels[i:i + 1]) for i in range(len(pixels))])
    assert np.array_equal(auto(pixels), alone), "an int8 probability must not depend on what shares its batch"
    assert np.array_equal(_probs(load_scorer(d, "onnx", int8=False)[0], crops, meta), ref)
    assert load_scorer(d, "torch", int8=None, log=notes.append)[0] is not None and len(notes) == 1
    code = textwrap.dedent(f"""
        import sys
        from synthfake.detector.predict import predict
        predict({str(d)!r}, {str(data_dir / 'faces')!r}, {str(tmp_path / 'sub.csv')!r}, workers=1, show=False)
        print(sorted(m for m in ("torch", "transformers", "sklearn") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines()[0].startswith("scoring with model.int8.onnx") and out.stdout.splitlines()[-1] == "[]"

    check = json.loads((d / "model.int8.json").read_text())
    assert check["quantization"]["per_channel"] and check["onnx"]["file"] == "model.onnx"
    (d / "model.int8.json").write_text(json.dumps({**check, "macro_f1_int8": 0.79}))
    use, why = int8_choice(d)
    assert not use and "moves val macro F1 by more than 0.005" in why
    assert np.array_equal(_probs(load_scorer(d, "onnx", int8=True)[0], crops, meta), got)
    (d / "model.int8.json").write_text(json.dumps({k: v for k, v in check.items() if k != "onnx"}))
    assert "predates" in int8_choice(d)[1]
    (d / "model.int8.json").write_text(json.dumps(check))
    st = (d / "model.onnx").stat()
    os.utime(d / "model.onnx", ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))  # copied: its bytes are the same
    assert int8_choice(d)[0]
    onnx = bytearray((d / "model.onnx").read_bytes())  # exported again: other bytes
    onnx[-1] ^= 1
    (d / "model.onnx").write_bytes(bytes(onnx))
    use, why = int8_choice(d)
    assert not use and "exported again" in why
    with pytest.raises(SynthfakeError, match="exported again"):
        load_scorer(d, "onnx", int8=True)


def _media_dataset(root, data_dir, splits=("val",)):
    """A synthetic dataset (tests/synthetic_dataset.py, no generation) whose records of `splits` point at real
    photos, so that those splits score."""
    import hashlib
    import io

    from PIL import Image
    from synthetic_dataset import plan_dataset, write_records, write_sources

    index = write_sources(root / "src", files=40, people=20)
    ds = plan_dataset(root / "D", root / "src", index, 12, 12)  # val: 1 real, 1 fake; test: 2 and 2
    write_records(ds)
    photos = sorted((data_dir / "faces").glob("*.jpg"))
    k = 0
    for part in sorted((root / "D" / "manifest").glob("part-*.jsonl")):
        lines = [json.loads(x) for x in part.read_text().splitlines() if x.strip()]
        for rec in (r for r in lines if r["split"] in splits):
            buf = io.BytesIO()
            Image.open(photos[k % len(photos)]).convert("RGB").save(buf, "PNG")
            k += 1
            body = buf.getvalue()
            (root / "D" / rec["path"]).write_bytes(body)
            rec.update(sha256=hashlib.sha256(body).hexdigest(), bytes=len(body))
        part.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert {r["split"] for p in (root / "D" / "manifest").glob("*.jsonl")
            for r in map(json.loads, p.read_text().splitlines())} >= set(splits)
    return root / "D"


def _exported_media_dataset(root, data_dir, fmt, splits=("val",)):
    """`_media_dataset` and its `gen export --format fmt` (webdataset or hf, which `gen detect train` reads):
    (dataset, export folder)."""
    from typer.testing import CliRunner

    from synthfake.cli import app

    ds = _media_dataset(root, data_dir, splits)
    r = CliRunner().invoke(app, ["export", str(ds), "--format", fmt, "--out", str(root / fmt), "--quiet"])
    assert r.exit_code == 0, r.output
    return ds, root / fmt


@pytest.mark.parametrize("fmt", ["webdataset", "hf"])
def test_export_int8_takes_an_export_of_a_dataset_as_detect_train_does(exported, data_dir, tmp_path, fmt):
    """`gen detect export M --int8 --dataset EXPORT`, EXPORT a webdataset or hf export made by `gen export` (which
    `gen detect train` reads): refused as 'no records in manifest/' before; now its val split checks the copy."""
    from typer.testing import CliRunner

    from synthfake.cli import app

    ds, _ = _exported_media_dataset(tmp_path, data_dir, fmt)
    d = tmp_path / "M"
    shutil.copytree(exported[0], d)
    r = CliRunner().invoke(app, ["detect", "export", str(d), "--int8", "--dataset", str(tmp_path / fmt),
                                 "--workers", "0"])
    assert r.exit_code == 0, r.output
    check = json.loads((d / "model.int8.json").read_text())
    val = sum(r["split"] == "val" for p in (ds / "manifest").glob("*.jsonl")
              for r in map(json.loads, p.read_text().splitlines()))
    assert check["dataset"] == str(tmp_path / fmt) and check["split"] == "val" and 0 < check["files"] <= val
    assert (d / "model.int8.onnx").is_file() and "model.int8.onnx" in r.output
    r = CliRunner().invoke(app, ["detect", "export", str(d), "--dataset", str(tmp_path / fmt)])  # was ignored
    assert r.exit_code == 2 and "--dataset: checks the int8 copy only; add --int8 or drop it" in r.output


@pytest.mark.parametrize("fmt", ["webdataset", "hf"])
def test_eval_takes_an_export_of_a_dataset_as_detect_train_does(exported, data_dir, tmp_path, fmt):
    """`gen detect eval M EXPORT [--split S] [--leave-out T]`, EXPORT a webdataset or hf export made by `gen export`
    (which `gen detect train` reads): refused as 'not a dataset made by `gen run`' before; now it scores the same
    records as the dataset itself, to the same per-file probabilities and AUC, with crops cached where `train`
    caches them for that export (EXPORT/.dataset/cache/crops)."""
    from typer.testing import CliRunner

    from synthfake.cli import app
    from synthfake.detector.evaluate import evaluate, plan_hash

    ds, ex = _exported_media_dataset(tmp_path, data_dir, fmt, splits=("val", "test"))
    m = tmp_path / "M"
    shutil.copytree(exported[0], m)
    held = tmp_path / "M-held"  # as if trained with --leave-out face_swap
    shutil.copytree(exported[0], held)
    meta = json.loads((held / "detector.json").read_text())
    (held / "detector.json").write_text(json.dumps({**meta, "leave_out": "face_swap"}))

    def cli(model, data, *flags):
        out = tmp_path / f"r{len(list(tmp_path.glob('r*.json')))}.json"
        r = CliRunner().invoke(app, ["detect", "eval", str(model), str(data), *flags, "--json", str(out), "--quiet",
                                     "--workers", "0"])
        assert r.exit_code == 0, r.output
        return json.loads(out.read_text())

    for model, flags in ((m, ()), (m, ("--split", "val")), (held, ("--split", "all", "--leave-out", "face_swap"))):
        want, got = cli(model, ds, *flags), cli(model, ex, *flags)
        assert got == want and got["files"] > 0
    assert want["roc_auc"] is not None and 0 < want["files"] < 24  # all: reals + only face_swap's fakes
    assert (ex / ".dataset" / "cache" / "crops").is_dir()  # where `gen detect train EXPORT` caches them
    from synthfake.export.reader import as_dataset

    assert plan_hash(as_dataset(ex)) == plan_hash(ds) != ""  # what a model trained on the export records
    own = tmp_path / "M-own"  # as if trained on D: --split all would score its train split, on D or its export
    shutil.copytree(exported[0], own)
    (own / "detector.json").write_text(json.dumps({**meta, "dataset_plan": plan_hash(ds)}))
    for data in (ds, ex):
        r = CliRunner().invoke(app, ["detect", "eval", str(own), str(data), "--split", "all", "--quiet"])
        assert r.exit_code == 2 and "would score its train split" in r.output, r.output

    rep0, recs0, scores0 = evaluate(m, ds, "test", workers=0, show=False, log=lambda s: None)
    rep1, recs1, scores1 = evaluate(m, ex, "test", workers=0, show=False, log=lambda s: None)
    assert [(r.id, r.path, r.label) for r in recs1] == [(r.id, r.path, r.label) for r in recs0] and len(recs0) == 4
    assert [s.prob for s in scores1] == [s.prob for s in scores0] and all(s.prob is not None for s in scores0)
    assert rep1.roc_auc == rep0.roc_auc is not None
