"""A model folder whose parts no longer fit together is refused in one line, never scored with quietly: a trained
folder without its detector.json (defaults would flip its labels), a model.onnx or model.int8.onnx copied in from
another training, an image_size edited to one the model was not built for, a deleted model.int8.onnx. A plain
Hugging Face checkpoint without detector.json, and folders exported before the ONNX files were stamped, still
score as before."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from synthfake.detector.meta import DetectorMeta, read_meta  # noqa: E402
from synthfake.detector.model import save_detector, scratch_config, tiny_config  # noqa: E402
from synthfake.detector.onnx_export import export_dir, export_onnx, onnx_scorer, sample_pixels  # noqa: E402
from synthfake.detector.predict import load_scorer  # noqa: E402
from synthfake.detector.quantize import int8_choice, quantize_file, require_check, save_int8  # noqa: E402
from synthfake.errors import SynthfakeError  # noqa: E402

SIZE = 64
CHECK = {"files": 20, "macro_f1_fp32": 0.8, "macro_f1_int8": 0.8, "max_prob_diff": 0.01}


def _quiet(_msg: str) -> None:
    pass


def _vit(seed: int):
    from transformers import ViTForImageClassification

    torch.manual_seed(seed)
    model = ViTForImageClassification(tiny_config(SIZE)).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(10)  # probabilities spread over (0, 1)
    return model


def _trained(root, name: str, seed: int):
    """A folder as `gen detect train` leaves it: checkpoint, detector.json (threshold 0.7, 10 frames), model.onnx
    and onnx.json."""
    d = root / name
    model = _vit(seed)
    meta = DetectorMeta(image_size=SIZE, frames=10, threshold=0.7)
    save_detector(model, meta, d)
    export_onnx(model, meta, d, log=_quiet)
    return d


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Two trained folders of the same recipe (ONNX files of one size) and their int8 copies."""
    root = tmp_path_factory.mktemp("integrity")
    out = []
    for name, seed in (("A", 1), ("B", 2)):
        d = _trained(root, name, seed)
        quantize_file(d / "model.onnx", d / ".q.tmp")
        save_int8(d, d / ".q.tmp", dict(CHECK))
        out.append(d)
    return out


def _copy(src, dst):
    shutil.copytree(src, dst, copy_function=shutil.copy2)  # file times kept: the stamps' size+mtime still hold
    return dst


def _pixels(meta):
    return sample_pixels(meta, n=4)


# ---------------------------------------------------------------- 1: detector.json deleted
def test_trained_folder_without_detector_json_is_refused(folders, tmp_path):
    d = _copy(folders[0], tmp_path / "A")
    assert read_meta(d).threshold == 0.7
    assert json.loads((d / "onnx.json").read_text())["detector_json"] is True
    (d / "detector.json").unlink()
    for call in (lambda: read_meta(d), lambda: load_scorer(d, "onnx"), lambda: load_scorer(d, "torch")):
        with pytest.raises(SynthfakeError) as e:
            call()
        msg = str(e.value)
        assert msg.startswith(f"{d / 'detector.json'}: missing") and "\n" not in msg
        assert "gen detect train" in msg and "copy detector.json back" in msg and "train again" in msg


def test_own_model_type_without_detector_json_is_refused_even_without_onnx(tmp_path):
    """The default recipe's residual_stats model: its model type alone says the folder was trained here."""
    from transformers import AutoModelForImageClassification

    d = tmp_path / "R"
    cfg = scratch_config({"type": "residual_stats", "clip": 3.0, "hidden": 0}, SIZE)
    save_detector(AutoModelForImageClassification.from_config(cfg), DetectorMeta(image_size=SIZE, frames=16), d)
    assert read_meta(d).frames == 16
    (d / "detector.json").unlink()
    with pytest.raises(SynthfakeError, match=r"detector.json: missing.*model_type 'residual_stats'"):
        read_meta(d)


def test_plain_checkpoint_without_detector_json_still_scores_with_defaults(tmp_path):
    """A Hugging Face checkpoint (save_pretrained only) has no detector.json: defaults, also once exported with
    `gen detect export` (whose onnx.json is then no sign of a trained folder), and an onnx.json from before the
    detector_json field says nothing either."""
    d = tmp_path / "HF"
    _vit(3).save_pretrained(str(d))
    meta = read_meta(d)
    assert (meta.threshold, meta.frames, meta.image_size) == (0.5, 40, SIZE)
    export_dir(d, log=_quiet)
    info = json.loads((d / "onnx.json").read_text())
    assert info["detector_json"] is False
    assert read_meta(d).threshold == 0.5
    scorer, meta = load_scorer(d, "onnx")
    assert len(scorer(_pixels(meta))) == 8
    (d / "onnx.json").write_text(json.dumps({k: v for k, v in info.items() if k != "detector_json"}))
    assert read_meta(d).frames == 40


# ---------------------------------------------------------------- 2: model.onnx / model.int8.onnx copied in
@pytest.mark.parametrize("copy", [shutil.copy2, shutil.copyfile], ids=["times-kept", "new-mtime"])
def test_onnx_copied_in_from_another_training_is_refused(folders, tmp_path, copy):
    a, b = folders
    d = _copy(a, tmp_path / "A")
    meta = read_meta(d)
    own = onnx_scorer(d, meta)(_pixels(meta))
    assert (d / "model.onnx").stat().st_size == (b / "model.onnx").stat().st_size, "same recipe, same size"
    copy(b / "model.onnx", d / "model.onnx")
    for call in (lambda: onnx_scorer(d, meta), lambda: load_scorer(d, "onnx")):
        with pytest.raises(SynthfakeError) as e:
            call()
        msg = str(e.value)
        assert msg.startswith(f"{d / 'model.onnx'}: not the file onnx.json was written for") and "\n" not in msg
        assert f"gen detect export {d}" in msg
    with pytest.raises(SynthfakeError, match="model.onnx: not the file onnx.json"):  # int8 falls back to fp32: also
        load_scorer(d, "onnx", int8=None, log=_quiet)
    shutil.copyfile(a / "model.onnx", d / "model.onnx")  # its own bytes back, a new mtime: settled by sha256
    assert np.array_equal(onnx_scorer(d, meta)(_pixels(meta)), own)


def test_onnx_check_hashes_a_copied_folder_once(folders, tmp_path, monkeypatch):
    """A folder copied without its file times: each file is hashed once, later scorers use the sha256 cache."""
    import synthfake.weights as weights

    d = tmp_path / "A"
    shutil.copytree(folders[0], d)  # shutil.copytree keeps times: move them like cp -r would
    for p in d.iterdir():
        st = p.stat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
    meta = read_meta(d)
    hashed = []
    real = weights.sha256_file
    monkeypatch.setattr(weights, "sha256_file", lambda p, *a: hashed.append(os.path.basename(p)) or real(p, *a))
    onnx_scorer(d, meta)
    assert sorted(hashed) == ["model.onnx", "model.safetensors"]
    onnx_scorer(d, meta)
    assert len(hashed) == 2


def test_onnx_json_without_the_onnx_stamp_scores_as_before(folders, tmp_path):
    """onnx.json written before model.onnx was stamped: only the weights are checked, as then."""
    a, b = folders
    d = _copy(a, tmp_path / "A")
    info = json.loads((d / "onnx.json").read_text())
    (d / "onnx.json").write_text(json.dumps({k: v for k, v in info.items() if k not in ("onnx", "detector_json")}))
    shutil.copy2(b / "model.onnx", d / "model.onnx")
    meta = read_meta(d)
    assert len(onnx_scorer(d, meta)(_pixels(meta))) == 8


def test_int8_copied_in_from_another_training_is_refused(folders, tmp_path):
    a, b = folders
    d = _copy(a, tmp_path / "A")
    check = json.loads((d / "model.int8.json").read_text())
    assert check["int8"]["file"] == "model.int8.onnx" and len(check["int8"]["sha256"]) == 64
    assert int8_choice(d)[0]
    assert (d / "model.int8.onnx").stat().st_size == (b / "model.int8.onnx").stat().st_size
    shutil.copyfile(b / "model.int8.onnx", d / "model.int8.onnx")
    use, why = int8_choice(d)
    assert not use and why.startswith("scoring with model.onnx (fp32): model.int8.onnx differs from the file "
                                      "model.int8.json checked")
    with pytest.raises(SynthfakeError, match=r"model.int8.onnx: differs from the file model.int8.json checked"):
        require_check(d)
    with pytest.raises(SynthfakeError, match="differs from the file model.int8.json"):
        load_scorer(d, "onnx", int8=True)
    notes = []
    load_scorer(d, "onnx", int8=None, log=notes.append)  # the fp32 model, said why
    assert len(notes) == 1 and "differs from the file model.int8.json" in notes[0]
    (d / "model.int8.json").write_text(json.dumps({k: v for k, v in check.items() if k != "int8"}))
    assert int8_choice(d)[0], "a check from before the int8 stamp: as before"


# ---------------------------------------------------------------- 3: image_size edited
def test_image_size_edited_to_another_than_the_model_takes_is_one_line(folders, tmp_path):
    d = _copy(folders[0], tmp_path / "A")
    meta = json.loads((d / "detector.json").read_text())
    (d / "detector.json").write_text(json.dumps({**meta, "image_size": 32}))
    for call in (lambda: read_meta(d), lambda: load_scorer(d, "onnx"), lambda: load_scorer(d, "torch")):
        with pytest.raises(SynthfakeError) as e:
            call()
        msg = str(e.value)
        assert msg.startswith(f"{d / 'detector.json'}: image_size 32") and "64" in msg and "\n" not in msg


def test_image_size_of_a_resnet_is_checked_against_the_onnx_input(tmp_path):
    """A ResNet takes any size in torch (config.json has no image_size), but its ONNX graph has a fixed one."""
    from transformers import AutoModelForImageClassification

    d = tmp_path / "N"
    torch.manual_seed(0)
    arch = {"type": "resnet", "embedding_size": 8, "hidden_sizes": [8, 16], "depths": [1, 1], "layer_type": "basic"}
    model = AutoModelForImageClassification.from_config(scratch_config(arch, SIZE)).eval()
    meta = DetectorMeta(image_size=SIZE, frames=10)
    save_detector(model, meta, d)
    export_onnx(model, meta, d, log=_quiet)
    assert len(load_scorer(d, "onnx")[0](_pixels(meta))) == 8
    (d / "detector.json").write_text(json.dumps({**json.loads((d / "detector.json").read_text()), "image_size": 96}))
    assert read_meta(d).image_size == 96  # torch scores a ResNet at any size
    with pytest.raises(SynthfakeError) as e:
        load_scorer(d, "onnx")
    msg = str(e.value)
    assert msg.startswith(f"{d / 'detector.json'}: image_size 96, but model.onnx takes 64x64 crops")
    assert "\n" not in msg


# ---------------------------------------------------------------- 4: model.int8.onnx deleted
def test_deleted_int8_copy_with_its_check_kept_is_said(folders, tmp_path):
    d = _copy(folders[0], tmp_path / "A")
    (d / "model.int8.onnx").unlink()
    use, why = int8_choice(d)
    assert not use and why.startswith("scoring with model.onnx (fp32): model.int8.onnx is missing though its "
                                      "check model.int8.json is there")
    notes = []
    load_scorer(d, "onnx", int8=None, log=notes.append)
    assert notes == [why]
    (d / "model.int8.json").unlink()
    assert int8_choice(d) == (False, "")  # no int8 copy at all: nothing to say


@pytest.mark.parametrize("text,said", [("{bad json", "not a readable JSON config (JSONDecodeError"),
                                       ("[]", "no model_type"),
                                       ('{"model_type":"vit","num_labels":"x"}', "not a valid vit config (TypeError"),
                                       ('{"model_type":"nope"}', "not a valid nope config (ValueError")])
def test_a_base_with_a_malformed_config_is_one_line_naming_it(tmp_path, text, said):
    """`--base` with a config.json that is not JSON said only 'OSError'; one without model_type, or with a field
    of the wrong type, ended in transformers' traceback (7 Dec sweep)."""
    from synthfake.detector.model import load_base

    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.json").write_text(text)
    with pytest.raises(SynthfakeError) as e:
        load_base(tmp_path / "b")
    assert str(e.value).startswith(f"{tmp_path / 'b' / 'config.json'}: {said}"), str(e.value)


def test_a_corrupt_int8_check_is_one_line_saying_how_to_make_it_again(tmp_path):
    """model.int8.json cut short (a full disk) or a folder in its place: one line naming the file, what is wrong
    and the command that writes it again, read by the project's one JSON reader."""
    from synthfake.detector.quantize import read_check

    assert read_check(tmp_path) is None  # no check at all: nothing to read
    (tmp_path / "model.int8.json").write_text('{"macro_f1_int8": 0.7')
    with pytest.raises(SynthfakeError, match=r"model.int8.json: corrupt JSON at line 1 .*; run `gen detect export "):
        read_check(tmp_path)
