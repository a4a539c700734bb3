"""Issue 30 classes 2 (values), 5 (accepting nonsense, printing user text) and issue 28's early checks: every
number is finite and in range, every table a user writes is read as Excel saves it and checked, user text is
printed as typed, and each refusal is one line naming the option or file, exit 2, with nothing written.

In-process (typer's CliRunner): each refusal comes before any scan, so the whole file takes seconds.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthfake.cli import app

RUN = ("run", "--type", "face_swap", "--n", "2", "--reals", "0", "--quiet")


def _gen(*args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.fixture()
def src(tmp_path, data_dir) -> Path:
    d = tmp_path / "S"
    d.mkdir()
    for name in ("photo_s1.jpg", "photo_s12.jpg", "photo_s42.jpg"):
        shutil.copy(data_dir / "faces" / name, d / name)
    return d


def _refused(res, *wants: str) -> str:
    """Exit 2 with the option named; a `gen` one-liner or typer's own box for a flag out of its range."""
    text = res.output
    assert res.exit_code == 2, text[-1500:]
    assert "Traceback" not in text and res.exception is None or isinstance(res.exception, SystemExit), text
    for w in wants:
        assert w in " ".join(text.split()), (w, text[-1500:])
    return text


def test_numbers_are_finite_and_in_range_before_anything_is_written(src, tmp_path):
    """Class: values. inf, nan and out-of-range numbers from flags, mixes, backend options, splits, recipes and a
    Slurm script's `gen run` options are refused at once; a plan.json holding Infinity is one line too."""
    out = tmp_path / "D"
    cases = [
        (("--clip-seconds", "inf"), "--clip-seconds inf: not a finite number"),
        (("--seed", "-5"), "--seed"),
        (("--identity-threshold", "nan"), "--identity-threshold"),
        (("--identity-threshold", "-1"), "--identity-threshold"),
        (("--splits", "train=nan,val=0.5,test=0.5"), "--splits train nan: not a finite number"),
        (("--backend", "face_swap=landmark_swap:inf,self_blend:1"), "weight of 'landmark_swap' inf"),
        (("--degrade", ";;"), "--degrade ';;': an empty step"),
        (("--backend", "face_swap=inswaper"), "did you mean 'inswapper'?"),  # issue 28: the nearest name
    ]
    for extra, want in cases:
        _refused(_gen(*RUN, "--sources", src, "--out", out, *extra), want)
        assert not out.exists(), extra
    http = ("--type", "generation", "--backend", "generation=http_t2i", "--backend-opt")
    _refused(_gen(*RUN, "--sources", src, "--out", out, *http, "http_t2i.timeout=inf"),
             "--backend-opt http_t2i.timeout inf: not a finite number")
    for recipe, want in (({"clip_seconds": float("inf")}, "clip_seconds inf: not a finite number"),
                         ({"clip_seconds": "ten"}, "clip_seconds"), ({"clip_seconds": True}, "expected a number"),
                         ({"splits": {"train": 1}}, "splits: expected one value"),
                         ({"backend_opts": [{"a": 1}]}, "backend_opts: expected a list of values")):
        (tmp_path / "r.json").write_text(json.dumps(recipe))
        _refused(_gen(*RUN, "--sources", src, "--out", out, "--recipe", tmp_path / "r.json"), "r.json: ", want)
        assert not out.exists(), recipe
    for args, want in ((("--epochs", "inf"), "--epochs inf"), (("--lr", "0"), "--lr 0.0: must be > 0")):
        _refused(_gen("detect", "train", tmp_path / "none", "--out", tmp_path / "M", *args), want)
    _refused(_gen("export", tmp_path / "none", "--format", "hf", "--out", out, "--shard-size", "inf"), "--shard-size")
    script = tmp_path / "job.sbatch"
    for args, want in ((("--n", "-5"), "--n"), (("--clip-seconds", "nan"), "--clip-seconds"),
                       (("--n", "0"), "nothing to make"), (("--splits", "train=2"), "--splits")):
        res = _gen("slurm-script", "--tasks", 2, "--script", script, "--", "--out", out, "--sources", src, *args)
        _refused(res, want)
        assert not script.exists(), args
    bad = tmp_path / "old"  # a plan.json an earlier version wrote with Infinity: every rerun is one line
    bad.mkdir()
    plan = {"n": 1, "reals": 0, "backends": {"face_swap": "landmark_swap", "real": "reencode"},
            "ratios": {"face_swap": 1.0}, "clip_seconds": float("inf"), "sources_digest": "x"}
    (bad / "plan.json").write_text(json.dumps(plan))
    _refused(_gen("status", bad), "plan.json: not a valid Plan (clip_seconds")
    assert _files(tmp_path) == sorted(["S", *[f"S/{n}" for n in os.listdir(src)], "old", "old/plan.json", "r.json"])


def test_checks_that_need_no_scan_come_before_it(src, tmp_path, monkeypatch):
    """Issue 28: a backend typo (with the nearest name), missing weights and `--executor ray` without Ray are
    refused before the sources are scanned, and leave nothing; a variable earlier versions read is named with
    what replaced it."""
    out = tmp_path / "D"
    empty = tmp_path / "weights"
    empty.mkdir()
    monkeypatch.setenv("SYNTHFAKE_HTTP_TIMEOUT", "5")
    cases = [(("--backend", "face_swap=inswaper"), "backend 'inswaper': unknown (did you mean 'inswapper'?"),
             (("--backend", "face_swap=inswapper", "--weights-dir", empty),
              "weights file inswapper_128.onnx not found"),
             (("--executor", "ray", "--rank", "7", "--world-size", "2"),
              "--rank 7: --executor ray runs all --world-size shards as Ray tasks"),  # it ran both, silently
             (("--executor", "Ray"), "--executor Ray: expected local or ray"),  # it named --device too (sweep)
             (("--device", "gpu"), "--device gpu: expected cpu or cuda")]
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        cases.append((("--executor", "ray"), "--executor ray: Ray is not installed; pip install 'synthfake[ray]'"))
    for extra, want in cases:
        res = _gen(*RUN, "--sources", src, "--out", out, *extra)
        text = _refused(res, want)
        assert "indexing" not in text and not out.exists(), (extra, text)
        assert "WARN: $SYNTHFAKE_HTTP_TIMEOUT is no longer read; use --backend-opt http_t2i.timeout=" in text


def test_user_text_is_printed_as_typed(src, tmp_path):
    """Class: user text through rich. Emoji codes, markup and an unbalanced closing tag in paths and values come
    out literally in error lines, and never crash the printer."""
    res = _gen(*RUN, "--sources", "no:smile:dir", "--out", tmp_path / "D")
    assert _refused(res).strip() == "error: --sources no:smile:dir: not a folder"
    res = _gen(*RUN, "--sources", src, "--out", tmp_path / "D", "--backend", "face_swap=landmark_swap:abc")
    assert "--backend face_swap=landmark_swap:abc: weight 'abc'" in _refused(res)
    odd = tmp_path / "a[/]b [red]c[/red] :thumbs_up:"
    res = _gen("status", odd)
    assert _refused(res).strip() == f"error: {odd / 'plan.json'}: no plan here; is {odd} a dataset made by `gen run`?"
    res = _gen(*RUN, "--sources", src, "--out", odd / "x", "--degrade", "[bold]:smile:")
    assert "--degrade '[bold]:smile:'" in _refused(res)


def test_tables_users_write_are_read_as_saved_and_checked(src, tmp_path, data_dir):
    """Class: CSV tables. A labels CSV saved by Excel (UTF-8 with BOM) is read; an identities.csv without a path
    column or listing a path twice is one line naming the file, before any file is indexed; a labelled path
    that is a symlink out of its folder is skipped, never opened."""
    from synthfake.errors import SynthfakeError
    from synthfake.labels import present, read_labels

    folder = tmp_path / "L"
    folder.mkdir()
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", folder / "real.jpg")
    shutil.copy(data_dir / "faces" / "photo_s12.jpg", tmp_path / "outside.jpg")
    os.symlink(tmp_path / "outside.jpg", folder / "fake.jpg")
    labels = tmp_path / "labels.csv"
    labels.write_bytes("path,label\r\nreal.jpg,0\r\nfake.jpg,1\r\n".encode("utf-8-sig"))  # Excel's CSV UTF-8
    rows = read_labels(labels, folder)
    assert [(r.path, r.label) for r in rows] == [("real.jpg", 0), ("fake.jpg", 1)]
    keep, skipped = present(rows, folder)
    assert [r.path for r in keep] == ["real.jpg"]
    assert skipped[0]["path"] == "fake.jpg" and "leads outside" in skipped[0]["reason"]
    # macOS zip leftovers listed by a glob: `predict` passes them over, so they were scored as fallbacks (prob 0)
    (folder / "__MACOSX").mkdir()
    for name in ("._real.jpg", "__MACOSX/real.jpg"):
        shutil.copy(data_dir / "faces" / "photo_s1.jpg", folder / name)
    mac = read_labels(_write(tmp_path / "mac.csv", "path,label\nreal.jpg,0\n._real.jpg,1\n__MACOSX/real.jpg,1\n"),
                      folder)
    keep, skipped = present(mac, folder)
    assert [r.path for r in keep] == ["real.jpg"]
    assert [s["path"] for s in skipped] == ["._real.jpg", "__MACOSX/real.jpg"]
    assert all(s["reason"].startswith("a macOS zip leftover") for s in skipped)
    # Excel's empty ",," rows below a table are no rows, and a message names the file's own line after a blank one
    assert [r.path for r in read_labels(_write(tmp_path / "xl.csv", "path,label\nreal.jpg,0\n,\n,,\n"), folder)] == [
        "real.jpg"]  # (was: "path '' must be relative to ...")
    with pytest.raises(SynthfakeError, match=r"blank.csv:4: label '2' for fake.jpg"):  # (was: blank.csv:3)
        read_labels(_write(tmp_path / "blank.csv", "path,label\nreal.jpg,0\n\nfake.jpg,2\n"), folder)
    # a name that differs only in case or Unicode form is named in the reason (it was "file not found", sweep)
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", folder / "cafe\u0301.jpg")  # decomposed on disk
    near = read_labels(_write(tmp_path / "near.csv", "path,label\nREAL.JPG,0\ncaf\u00e9.jpg,1\nnone.jpg,1\n"), folder)
    assert [s["reason"] for s in present(near, folder)[1]] == [
        "file not found ('real.jpg' beside it differs only in letter case or Unicode form)",
        "file not found ('cafe\u0301.jpg' beside it differs only in letter case or Unicode form)", "file not found"]
    res = _gen("audit", folder, "--labels", labels)
    assert res.exit_code in (0, 1) and "fake.jpg" in res.output and "leads outside" in res.output, res.output

    out = tmp_path / "D"
    table = src / "identities.csv"
    for text, want in (("file,who\nphoto_s1.jpg,a\n",
                        "an identities table needs 'path' and 'identity' columns, got ['file', 'who']"),
                       ("\ufeffpath,identity\nphoto_s1.jpg,a\nphoto_s12.jpg,b\nphoto_s1.jpg,c\n",
                        "identities.csv:4: path 'photo_s1.jpg' is listed twice (first on line 2)"),
                       ("path,identity\nphoto_s1.jpg,\n", "identities.csv:2: a row needs both a path and an identity")):
        table.write_text(text)
        res = _gen(*RUN, "--sources", src, "--out", out)
        assert _refused(res).strip() == f"error: {table}: {want}" or f"{table}" in res.output and want in res.output
        assert not out.exists() and "indexing" not in res.output
    table.write_text("\ufeffpath,identity\nphoto_s1.jpg,ann\n")  # with Excel's BOM: read
    from synthfake.identities import read_identities

    assert read_identities(src) == {"photo_s1.jpg": "ann"}


def test_split_names_sources_inside_out_and_names_not_utf8(src, tmp_path):
    """`--splits train=.5,../../escape=.5` wrote media outside the dataset (the name is a folder); a repeated split
    kept the last; `--sources D/media --out D` wrote fakes among the sources and then refused to resume; a source
    named in other bytes than UTF-8 ended `gen run` in a traceback. Each is now refused or excluded in one line."""
    from synthfake.sources import scan

    out = tmp_path / "D"
    _refused(_gen(*RUN, "--sources", src, "--out", out, "--splits", "train=.5,../../escape=.5"),
             "unknown split '../../escape' (the splits are train, val, test)")
    _refused(_gen(*RUN, "--sources", src, "--out", out, "--splits", "train=.5,train=.5"), "--splits train: given twice")
    assert not out.exists() and not (tmp_path / "escape").exists()
    nest = tmp_path / "N"
    shutil.copytree(src, nest / "media")
    before = _files(nest)
    _refused(_gen(*RUN, "--sources", nest / "media", "--out", nest), f"--out {nest}: holds --sources {nest / 'media'}")
    assert _files(nest) == before
    home = tmp_path / "home"  # a folder of other things: the dataset had been written among them (sweep)
    (home / "photos").mkdir(parents=True)
    (home / "notes.txt").write_text("mine")
    (home / ".hidden").write_text("")
    before = _files(home)
    _refused(_gen(*RUN, "--sources", src, "--out", home), f"--out {home}: holds no dataset but 2 other entries "
                                                           "(notes.txt, photos), among which")
    assert _files(home) == before
    odd = os.fsdecode(b"caf\xe9.jpg")
    shutil.copy(src / "photo_s1.jpg", src / odd)
    index = scan(src)
    bad = next(it for it in index.items if it.path.startswith("caf"))
    assert bad.path == "caf\ufffd.jpg" and "file name is not UTF-8" in (bad.excluded or ""), bad
    index.model_dump_json()  # the index can be written


@pytest.mark.parametrize("args, where, what", [
    (("run", "--seed", "-1"), "gen run", "--seed"),
    (("run", "--no-such-flag"), "gen run", "--no-such-flag"),
    (("detect", "predict"), "gen detect predict", "model_dir"),
    (("no-such-command",), "gen", "no-such-command"),
    (("detect", "eval", "--batch-size", "x", "m", "d"), "gen detect eval", "--batch-size"),
])
def test_a_usage_error_is_one_line_naming_the_command_exit_2(args, where, what):
    """Typer's own checks (a value out of range, an unknown flag, a missing argument) are one line, as every other
    refusal is, not typer's five-line box; `--version` and `--help` still exit 0."""
    from conftest import gen

    p = gen(*args, check=False, timeout=120)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{where}: ") and what in lines[0], p.stderr
    assert f"(see {where} --help)" in lines[0] and p.stdout == ""
    assert gen("--version", timeout=120).stdout.startswith("synthfake ")
    assert "Usage: gen detect eval" in gen("detect", "eval", "--help", timeout=120).stdout


def test_gen_backends_checks_a_backend_as_backend_opts_would_load_it(tmp_path, monkeypatch):
    """`gen backends --backend-opt` checks the file a run with that option loads (wav2lip_96, not the default
    wav2lip_gan_96) and the key a provider reads; a wrong option is refused in one line, as gen run refuses it."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    empty = tmp_path / "w"
    empty.mkdir()
    res = _gen("backends", "--weights-dir", empty, "--backend-opt", "wav2lip.model=wav2lip_96",
               "--backend-opt", "http_t2i.provider=openai")
    assert res.exit_code == 0, res.output
    assert "wav2lip_96.onnx not found" in res.output and "wav2lip_gan_96" not in res.output
    assert "$OPENAI_API_KEY is not set" in res.output
    bad = _gen("backends", "--backend-opt", "wav2lip.model=nope")
    assert bad.exit_code == 2 and "wav2lip.model" in bad.output


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
