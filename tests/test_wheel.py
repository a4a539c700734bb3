"""The package works installed from a built wheel, not only editable: the wheel is built from this checkout,
installed (not -e) into a fresh venv, and `gen --version`, `gen backends`, `gen run` (with a packaged recipe by
name), `gen export` and `gen detect --help` run from it; the packaged recipes and JSON Schemas are in it. The
fresh venv reaches the dependencies through a .pth line naming this venv's site-packages (no download; that
folder's own .pth files, the editable finder among them, are not processed), so `synthfake` itself can only come
from the wheel: the test checks where it was imported from."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd, cwd=None, timeout=300) -> str:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} exited {res.returncode}:\n{res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp / "dist", ROOT, timeout=600)
    wheel = next((tmp / "dist").glob("synthfake-*.whl"))
    venv = tmp / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    purelib = Path(_run(venv / "bin" / "python", "-c",
                        "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (purelib / "dev-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-index", wheel)
    return venv


def test_the_wheel_holds_every_package_and_its_commands_run(wheel_venv, data_dir, tmp_path):
    py, gen = wheel_venv / "bin" / "python", wheel_venv / "bin" / "gen"
    where = _run(py, "-c", "import synthfake, synthfake.export, synthfake.media, synthfake.audit, "
                           "synthfake.generators.common, synthfake.detector; print(synthfake.__file__)")
    assert str(wheel_venv) in where and str(ROOT) not in where, where
    assert "synthfake" in _run(gen, "--version")
    shipped = _run(py, "-c", "from synthfake.recipe import recipe_names; "
                             "from synthfake.schemas import packaged_schema; "
                             "print(recipe_names('data'), recipe_names('detector'), "
                             "packaged_schema('record')['title'])")
    assert "'all4'" in shipped and "'small_cnn_cpu'" in shipped and "Record" in shipped, shipped
    listing = _run(gen, "backends")
    assert "landmark_swap" in listing
    # the shipped autoencoders (package data) came with the wheel: no line saying why they are not ready
    assert not any(f"{name}:" in listing for name in ("latent_decode", "latent_decode_wide", "latent_decode_colour",
                                                      "latent_decode_sharp")), listing
    sources = tmp_path / "sources"
    sources.mkdir()
    for name in ("photo_s1.jpg", "photo_s42.jpg"):
        shutil.copy(data_dir / "faces" / name, sources / name)
    ds = tmp_path / "ds"
    _run(gen, "run", "--n", "1", "--reals", "1", "--recipe", "only_face_swap", "--sources", sources, "--out", ds,
         "--splits", "train=1,val=0,test=0", "--quiet")  # a packaged recipe, by name
    out = _run(gen, "export", ds, "--format", "ffpp", "--out", tmp_path / "ffpp")
    assert "2 record(s) as ffpp" in " ".join(out.split()), out
    assert "predict" in _run(gen, "detect", "--help")
