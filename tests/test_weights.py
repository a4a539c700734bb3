"""Weights lookup (--weights-dir, $SYNTHFAKE_WEIGHTS, $XDG_CACHE_HOME/synthfake/weights), sha256 cache, published-value
check, and `gen backends` saying which model backends miss which file."""

from __future__ import annotations

import json
import os

import pytest
import tiny_models
from conftest import gen
from model_checks import model_env

from synthfake import weights
from synthfake.errors import BackendNotReady
from synthfake.files import sha256_file
from synthfake.weights import WeightSpec

SPEC = WeightSpec("model.onnx", "https://example.org/model.onnx")


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(weights.ENV_DIR, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return tmp_path / "home"


def _put(folder, name="model.onnx", data=b"\x08\x07\x12\x07weights"):  # as an ONNX file: ir_version, producer
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def test_places_are_searched_in_order(tmp_path, home, monkeypatch):
    flag, env, cache = tmp_path / "flag", tmp_path / "env", home / ".cache" / "synthfake" / "weights"
    monkeypatch.setenv(weights.ENV_DIR, str(env))
    _put(cache)
    assert weights.locate("model.onnx", flag) == cache / "model.onnx"
    _put(env)
    assert weights.locate("model.onnx", flag) == env / "model.onnx"
    _put(flag)
    assert weights.locate("model.onnx", flag) == flag / "model.onnx"


def test_the_cache_place_follows_xdg_cache_home(tmp_path, home, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    found = _put(tmp_path / "xdg" / "synthfake" / "weights")
    assert weights.locate("model.onnx", None) == found
    weights.sha256(found)
    assert weights.cache_file().parent == tmp_path / "xdg" / "synthfake" and weights.cache_file().exists()
    assert not (home / ".cache").exists()


def test_missing_file_is_one_line_with_every_place_and_the_source(tmp_path, home):
    with pytest.raises(BackendNotReady) as e:
        weights.require(SPEC, tmp_path / "flag")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("weights file model.onnx not found")
    assert f"--weights-dir: {tmp_path / 'flag' / 'model.onnx'}" in msg
    assert "$SYNTHFAKE_WEIGHTS: not set" in msg
    assert str(home / ".cache" / "synthfake" / "weights" / "model.onnx") in msg
    assert msg.endswith("get it from https://example.org/model.onnx, or run `gen weights download` (sha256 checked)")


def test_sha256_is_cached_by_size_and_mtime(tmp_path, home):
    p = _put(tmp_path, data=b"first")
    assert weights.sha256(p) == sha256_file(p)
    cache = json.loads(weights.cache_file().read_text())
    entry = cache[str(p.resolve())]
    entry["sha256"] = "f" * 64  # a cache hit returns the stored value without reading the file
    weights.cache_file().write_text(json.dumps(cache))
    assert weights.sha256(p) == "f" * 64
    p.write_bytes(b"second, longer")  # size and mtime change: hashed again
    assert weights.sha256(p) == sha256_file(p)


def test_published_sha256_is_enforced_unless_allowed(tmp_path, home, monkeypatch):
    p = _put(tmp_path / "w")
    good = WeightSpec("model.onnx", SPEC.url, sha256_file(p), "test")
    bad = WeightSpec("model.onnx", SPEC.url, "0" * 64, "a published list")
    assert weights.resolve(good, tmp_path / "w").verified is True
    assert weights.resolve(SPEC, tmp_path / "w").verified is None
    with pytest.raises(BackendNotReady, match="differs from the published 0000000000000000... \\(a published list\\)"):
        weights.resolve(bad, tmp_path / "w")
    r = weights.resolve(bad, tmp_path / "w", allow_unverified=True)  # gen run --allow-unverified
    assert r.verified is False and weights.record([r]) == ({"model.onnx": sha256_file(p)}, ["model.onnx"])


def test_a_pinned_file_that_cannot_be_its_kind_is_said_so_even_when_unverified_is_allowed(tmp_path, home):
    """An empty (or HTML, or cut short) inswapper_128.onnx was 'ready' with --allow-unverified, and the run wrote a
    dataset before failing; without the flag it read 'sha256 differs ... or pass --allow-unverified', the wrong
    fix. `gen weights download` called such a file already in place 'present' (7 Dec sweep)."""
    from synthfake.weights_fetch import FetchFailed, fetch_file

    pinned = WeightSpec("model.onnx", SPEC.url, "0" * 64, "a published list")
    _put(tmp_path / "w", data=b"")
    for allow in (False, True):
        with pytest.raises(BackendNotReady, match=r"model.onnx: is empty; get the file from"):
            weights.resolve(pinned, tmp_path / "w", allow_unverified=allow)
    with pytest.raises(FetchFailed, match=r"model.onnx: present, but it is empty; remove it and run again"):
        fetch_file(SPEC, tmp_path / "w", show=False)


def test_directory_files_are_the_weights_in_a_model_dir(tmp_path):
    for rel in ("unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors", "model_index.json",
                "tokenizer/vocab.json", "vae/diffusion_pytorch_model.bin"):
        _put(tmp_path / os.path.dirname(rel), os.path.basename(rel))
    got = [p.relative_to(tmp_path).as_posix() for p in weights.directory_files(tmp_path)]
    assert got == ["text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors",
                   "vae/diffusion_pytorch_model.bin"]


MODEL_BACKENDS = {"inswapper": "inswapper_128.onnx", "liveportrait": "live_portrait_feature_extractor.onnx",
                  "wav2lip": "wav2lip_gan_96.onnx", "diffusers_t2i": "FLUX.1-schnell/model_index.json"}


def _backends(tmp_path, weights_dir, *flags, **env):
    e = model_env(tmp_path / "home", COLUMNS="1000")
    e.pop("BFL_API_KEY", None)
    e.update(env)
    rows: dict[str, str] = {}
    for line in gen("backends", "--weights-dir", weights_dir, *flags, env=e).stdout.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 4 and cells[0]:
            rows[cells[0]] = f"{cells[2]} {cells[3]}".strip()  # default, status; a reason is printed whole below
        elif ": " in line and line.split(": ", 1)[0] in rows:
            name, why = line.split(": ", 1)
            rows[name] = f"{rows[name]} {why}"
    return rows


def test_backends_lists_all_and_names_missing_files(tmp_path):
    empty = tmp_path / "w"
    empty.mkdir()
    rows = _backends(tmp_path, empty)
    assert {"landmark_swap", "reencode", "morph", "landmark_reenact", "mouth_sync", *MODEL_BACKENDS,
            "http_t2i"} <= set(rows)
    for name, file in MODEL_BACKENDS.items():
        assert "not ready" in rows[name] and f"weights file {file} not found" in rows[name], rows[name]
        assert str(empty / file) in rows[name] and "get it from" in rows[name]
    assert "$BFL_API_KEY is not set" in rows["http_t2i"]
    defaults = {name for name, row in rows.items() if row.startswith("default ")}
    assert defaults == {"latent_decode_sharp", "aligned_swap", "crop_reenact", "crop_sync", "reencode"}, defaults


def test_backends_ready_with_models_and_refuses_unpublished_inswapper(tmp_path):
    w = tmp_path / "w"
    tiny_models.inswapper(w / "inswapper_128.onnx")
    tiny_models.arcface(w / "w600k_r50.onnx")
    tiny_models.live_portrait(w)
    tiny_models.wav2lip(w / "wav2lip_gan_96.onnx")
    rows = _backends(tmp_path, w)
    assert "ready" in rows["wav2lip"] and "not ready" not in rows["wav2lip"]  # no sha256 published for it
    assert "inswapper_128.onnx: sha256" in rows["inswapper"] and "differs from the published" in rows["inswapper"]
    assert "live_portrait_feature_extractor.onnx: sha256" in rows["liveportrait"]
    rows = _backends(tmp_path, w, "--allow-unverified")
    assert "not ready" not in rows["inswapper"] and "not ready" not in rows["liveportrait"]


def test_a_folder_where_a_weights_file_belongs_is_a_reason_not_a_crash(tmp_path, home):
    """`gen backends` printed only 'Is a directory (errno 21)' and no table when inswapper_128.onnx was a folder."""
    (tmp_path / "w" / "model.onnx").mkdir(parents=True)
    why = weights.problem([SPEC], tmp_path / "w")
    assert why.startswith(f"{tmp_path / 'w' / 'model.onnx'}: is a folder, not the weights file model.onnx"), why


def test_a_file_without_a_published_sha256_is_recorded_unverified(tmp_path, home):
    p = _put(tmp_path / "w")
    got = weights.resolve(SPEC, tmp_path / "w")
    assert got.verified is None and weights.record([got]) == ({"model.onnx": sha256_file(p)}, ["model.onnx"])


def test_an_unpinned_file_that_cannot_be_its_kind_is_not_ready(tmp_path, home):
    """A proxy's HTML page saved as wav2lip_gan_96.onnx, an empty file, a truncated safetensors: `gen backends`
    called each ready and the run stopped (exit 3) after writing a dataset. Now a reason names the file."""
    import numpy as np
    from safetensors.numpy import save_file

    w = tmp_path / "w"
    _put(w, data=b"<!DOCTYPE html><p>log in to the proxy</p>")
    assert "is a text page" in weights.problem([SPEC], w)
    _put(w, data=b"")
    assert "is empty" in weights.problem([SPEC], w)
    _put(w, data=b"\x08\x07\x12\x07pytorch")  # ir_version 7, producer: what an ONNX file begins with
    assert weights.problem([SPEC], w) is None
    st = weights.WeightSpec("m.safetensors", "https://example.org/m.safetensors")
    save_file({"x": np.zeros((64, 64), np.float32)}, str(w / "m.safetensors"))
    assert weights.problem([st], w) is None
    whole = (w / "m.safetensors").read_bytes()
    (w / "m.safetensors").write_bytes(whole[: len(whole) // 2])
    assert "truncated?" in weights.problem([st], w)


def test_an_unpinned_onnx_file_cut_short_is_not_ready(tmp_path, home):
    """wav2lip's ONNX files have no published sha256: one cut short by a failed copy was called ready and the run
    stopped at its first sample. Its protobuf fields are walked by their lengths: a cut file ends inside one."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    w = tmp_path / "w"
    weight = numpy_helper.from_array(np.ones((64, 64), np.float32), "W")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], [weight])
    whole = helper.make_model(graph, producer_name="test").SerializeToString()
    _put(w, data=whole)
    assert weights.problem([SPEC], w) is None
    for cut in (len(whole) - 1, len(whole) // 2, 3):
        _put(w, data=whole[:cut])
        assert "truncated?" in weights.problem([SPEC], w), cut
    _put(w, data=b"\x00\x00\x00garbage")
    assert "is not an ONNX file" in weights.problem([SPEC], w)
    assert onnx.load_from_string(whole).graph.name == "g"  # the bytes above are a real model
