"""Issue 30 classes 2 (filesystem) and 3 (writing where the user did not say), and issue 28's detector lines:
every output path is checked (parent a folder, writable, not inside an input) before any work; a temporary file
sits beside its target and is gone when the write fails; a full disk, a read-only file system or a damaged
dataset file is one line (exit 3 or 2), never a traceback, and nothing is left half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import gen
from typer.testing import CliRunner

from synthfake.cli import app
from synthfake.manifest import read_records

SMALL = ("--type", "face_swap", "--n", "2", "--reals", "1", "--splits", "train=1,val=0,test=0", "--quiet")


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))}


def _one_line(proc) -> str:
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


@pytest.fixture(scope="module")
def made(data_dir, tmp_path_factory) -> tuple[Path, Path]:
    """(sources, finished dataset): two swaps and a real from four photos, made once."""
    top = tmp_path_factory.mktemp("paths")
    src = top / "S"
    src.mkdir()
    for name in ("photo_s1.jpg", "photo_s12.jpg", "photo_s42.jpg", "still_talk_d3.jpg"):
        shutil.copy(data_dir / "faces" / name, src / name)
    gen("run", *SMALL, "--sources", src, "--out", top / "D", timeout=300)
    return src, top / "D"


def test_output_paths_are_refused_before_any_work(made, tmp_path):
    """Class: output paths. A parent that is a file, an output inside its input, a file where a folder belongs
    and a folder where a file belongs: one line naming the option, exit 2, nothing written anywhere, and no
    model loaded or file scored first (none of the models or inputs named here even exists)."""
    src, ds = made
    afile = tmp_path / "afile"
    afile.write_text("keep")
    folder = tmp_path / "folder"
    folder.mkdir()
    before, dataset = _snapshot(tmp_path), _snapshot(ds)
    cases = [
        (("run", *SMALL, "--sources", src, "--out", afile / "sub"), f"--out {afile / 'sub'}: {afile} is a file"),
        (("run", *SMALL, "--sources", src, "--out", src / "D"), f"--out {src / 'D'}: is inside --sources {src}"),
        (("run", *SMALL, "--sources", src, "--out", src), f"--out {src}: is --sources {src}"),
        (("preview", ds, "--out", afile / "x.png"), f"{afile} is a file, not a folder"),
        (("audit", ds, "--json", folder), f"--json {folder}: is a folder"),
        (("sources", "scan", src, "--json", afile / "i.json"), "is a file, not a folder"),
        (("export", ds, "--format", "webdataset", "--out", ds / "w"), f"--out {ds / 'w'}: is inside DATASET {ds}"),
        (("detect", "train", ds, "--out", afile), f"--out {afile}: is a file, not a folder"),
        (("detect", "train", ds, "--out", ds), f"--out {ds}: is DATASET {ds}"),
        (("detect", "train", ds, "--out", ds / "model"), f"--out {ds / 'model'}: is inside DATASET {ds}"),
        (("detect", "predict", tmp_path / "M", src, "--out", folder), f"--out {folder}: is a folder"),
        (("detect", "eval", tmp_path / "M", ds, "--json", folder), f"--json {folder}: is a folder"),
        (("slurm-script", "--tasks", 2, "--script", folder, "--", "--out", "D", "--sources", src), "is a folder"),
    ]
    for args, want in cases:
        res = CliRunner().invoke(app, [str(a) for a in args])
        errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
        assert res.exit_code == 2 and len(errors) == 1 and want in errors[0], (args, res.output[-1500:])
    assert _snapshot(tmp_path) == before and _snapshot(ds) == dataset  # no temporary file left anywhere


def test_temporary_files_go_beside_their_target_and_go_away_on_failure(made, tmp_path):
    """Class: temporary files. A write whose target is a folder fails with the target named and leaves no
    `.NAME.PID.tmp`; a disk that fills (a file-size limit, EFBIG) while sources.json is written is one line
    naming it, exit 3, and leaves no dataset folder."""
    from synthfake.files import write_json_atomic

    target = tmp_path / "report.json"
    target.mkdir()
    with pytest.raises(IsADirectoryError):
        write_json_atomic(target, {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"] and not any(target.iterdir())

    src, _ = made

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # sources.json of four photos is ~20 kB

    ds = tmp_path / "full" / "D"
    proc = subprocess.run([sys.executable, "-m", "synthfake", "run", *SMALL, "--sources", str(src), "--out",
                           str(ds)], capture_output=True, text=True, timeout=300, preexec_fn=small_files)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert f"{ds / 'sources.json'}: File too large (errno 27)" in _one_line(proc)
    assert not (tmp_path / "full").exists()


def _read_only(folder: Path, *args) -> subprocess.CompletedProcess:
    """`gen ARGS` with `folder` bind-mounted read-only in a private mount namespace (needs unshare and root)."""
    cmd = f'mount --bind -o ro "{folder}" "{folder}" && exec "{sys.executable}" -m synthfake "$@"'
    return subprocess.run(["unshare", "-m", "sh", "-c", cmd, "sh", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_read_only_file_system_is_one_line_before_the_scan(made, tmp_path):
    """Class: filesystem. --out on a read-only file system, a new dataset or a finished one rerun without
    --workers: one line naming --out and the reason, exit 2, before the sources are scanned."""
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if shutil.which("unshare") is None or probe.returncode != 0:
        pytest.skip("needs `unshare -m` (root or user namespaces) to mount a folder read-only")
    src, ds = made
    ro = tmp_path / "ro"
    shutil.copytree(ds, ro / "D")
    before = _snapshot(ro)
    for out in (ro / "new", ro / "D"):
        proc = _read_only(ro, "run", *SMALL, "--sources", src, "--out", out)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert f"--out {out}: cannot write in " in _one_line(proc) and "read-only file system" in proc.stderr
        assert "indexing" not in proc.stderr
    assert _snapshot(ro) == before


def test_damaged_dataset_files_are_one_line_and_the_audit_still_reports(made, tmp_path):
    """Class: files of a dataset that cannot serve. manifest/claim.json a folder: a rerun is one line naming it
    (exit 2) and changes nothing. A record whose path names a folder: `gen audit` writes its report, integrity
    FAILs and no other check breaks (exit 1)."""
    src, ds0 = made
    ds = tmp_path / "D"
    shutil.copytree(ds0, ds)
    (ds / "manifest" / "claim.json").unlink(missing_ok=True)
    (ds / "manifest" / "claim.json").mkdir()
    before = _snapshot(ds)
    proc = gen("run", *SMALL, "--sources", src, "--out", ds, "--retry-failed", check=False, timeout=300)
    assert proc.returncode == 2 and str(ds / "manifest" / "claim.json") in _one_line(proc), proc.stderr[-2000:]
    assert _snapshot(ds) == before

    ds2 = tmp_path / "D2"
    shutil.copytree(ds0, ds2)
    part = next((ds2 / "manifest").glob("part-*.jsonl"))
    lines = part.read_text().splitlines()
    rec = json.loads(lines[0])
    rec["path"] = "media/train"  # a folder inside the dataset
    lines[0] = json.dumps(rec)
    part.write_text("\n".join(lines) + "\n")
    report = tmp_path / "audit.json"
    proc = gen("audit", ds2, "--json", report, "--workers", 0, "--quiet", check=False, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    checks = {c["name"]: c for c in json.loads(report.read_text())["checks"]}
    assert checks["integrity"]["status"] == "FAIL" and "not a regular file" in json.dumps(checks["integrity"])
    assert not [c for c in checks.values() if c["summary"].startswith("could not run")], checks
    assert len(read_records(ds2)) == 3


def test_detector_inputs_say_what_is_wrong(made, tmp_path):
    """Issue 28: `gen detect predict MODEL EMPTY_DIR` says so and exits 2, writing nothing; `gen detect eval MODEL
    FOLDER` without --labels names --labels. Neither needs the model to say it."""
    src, _ = made
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no media here")
    for args, want in ((("predict", tmp_path / "M", empty, "--out", tmp_path / "sub.csv"),
                        f"error: {empty}: no image or video file in it (nothing to score)"),
                       (("eval", tmp_path / "M", src), f"error: {src}: not a dataset made by `gen run` (no plan.json, "
                                                       f"no manifest/) nor a webdataset/hf export of one; to "
                                                       f"evaluate a labelled folder, give --labels")):
        res = CliRunner().invoke(app, ["detect", *map(str, args)])
        assert res.exit_code == 2 and res.output.startswith(want) and len(res.output.splitlines()) == 1, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


BLOCKER = '''import os, sys
BLOCK = set(os.environ["SYNTHFAKE_TEST_BLOCK"].split(","))
class Hide:
    def __init__(self, inner): self.inner = inner
    def find_spec(self, name, path=None, target=None):
        return None if name.split(".")[0] in BLOCK else self.inner.find_spec(name, path, target)
    def __getattr__(self, a): return getattr(self.inner, a)
sys.meta_path[:] = [Hide(f) for f in sys.meta_path]
'''
EXTRAS = "torch,transformers,accelerate,onnx,onnxruntime,safetensors,diffusers,requests,librosa,pyarrow,datasets," \
         "webdataset,huggingface_hub,ray"


def test_a_missing_extra_is_one_line_with_the_pip_command(made, tmp_path):
    """Issue 28: in a core-only install (the extras' modules made unimportable), every `gen detect` command and
    `gen export --format hf` ends in one line with the `pip install 'synthfake[...]'` command, exit 3."""
    pytest.importorskip("onnx")
    pytest.importorskip("transformers")
    from transformers import ViTForImageClassification

    from synthfake.detector.model import tiny_config
    from synthfake.detector.onnx_export import export_dir

    src, ds = made
    model = tmp_path / "M"  # with the extras, here: a model and its model.onnx for the commands below to read
    ViTForImageClassification(tiny_config(32)).eval().save_pretrained(str(model))
    export_dir(model, log=lambda m: None)
    (tmp_path / "block").mkdir()
    (tmp_path / "block" / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "block"), "SYNTHFAKE_TEST_BLOCK": EXTRAS}
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\nphoto_s1.jpg,0\nphoto_s12.jpg,1\n")
    for args, extra in ((("detect", "train", ds, "--out", tmp_path / "M2"), "detector"),
                        (("detect", "predict", model, src, "--out", tmp_path / "s.csv"), "detector"),
                        (("detect", "predict", model, src, "--out", tmp_path / "s.csv", "--runtime", "torch"),
                         "detector"),
                        (("detect", "eval", model, ds), "detector"),
                        (("detect", "eval", model, src, "--labels", labels), "detector"),
                        (("detect", "export", model), "detector"),
                        (("export", ds, "--format", "hf", "--out", tmp_path / "hf"), "export")):
        proc = gen(*args, env=env, check=False, timeout=120)
        assert proc.returncode == 3, (args, proc.stderr[-2000:])
        line = _one_line(proc)
        assert f"pip install 'synthfake[{extra}]'" in line, (args, line)
        assert len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
    assert not (tmp_path / "M2").exists() and not (tmp_path / "s.csv").exists() and not (tmp_path / "hf").exists()


def test_an_output_file_never_replaces_an_input(data_dir, tmp_path):
    """`--json` or `--out` naming an input file (a labels CSV, a sample submission) or a path inside an input folder
    (a dataset's plan.json, a manifest part, the sources) is one line, exit 2, and the input is unchanged (before 6
    Dec `gen audit --json DATASET/plan.json` replaced the plan and the dataset could no longer be opened)."""
    from synthfake import checks
    from synthfake.errors import SynthfakeError

    folder = tmp_path / "L"
    folder.mkdir()
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", folder / "real.jpg")
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\nreal.jpg,0\n")
    res = CliRunner().invoke(app, ["audit", str(folder), "--labels", str(labels), "--json", str(labels)])
    assert res.exit_code == 2 and f"is --labels {labels}, which it would change" in res.output
    assert labels.read_text() == "path,label\nreal.jpg,0\n"
    res = CliRunner().invoke(app, ["sources", "scan", str(folder), "--json", str(folder / "index.json")])
    assert res.exit_code == 2 and f"is inside FOLDER {folder}" in res.output and not (folder / "index.json").exists()
    with pytest.raises(SynthfakeError, match="is inside DATASET"):
        checks.output_file(folder / "plan.json", "--json", {"DATASET": folder})
    checks.output_file(tmp_path / "report.json", "--json", {"DATASET": folder, "--labels": labels})  # beside: fine
