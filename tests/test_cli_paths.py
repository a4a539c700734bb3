"""Paths as the CLI says them back: the `next:` line after `gen run` pastes into a shell (paths shell-quoted where
they need it), a --weights-dir that is a file is one line before any download, and `gen backends` says once
that a --weights-dir (or $SYNTHFAKE_WEIGHTS) folder does not exist while it still lists every backend."""

from __future__ import annotations

import io
import shlex
from pathlib import Path

from rich.console import Console

from synthfake.cli_common import next_steps

from conftest import gen
from model_checks import model_env


def _next_line(stderr: str) -> list[list[str]]:
    line = next(ln for ln in stderr.splitlines() if ln.startswith("next: "))
    return [shlex.split(c) for c in line.removeprefix("next: ").split("  ·  ")]


def test_next_line_after_run_pastes_into_a_shell(tmp_path):
    from synthetic_dataset import plan_dataset, write_records, write_sources

    src, out = tmp_path / "src it's", tmp_path / "odd out ü"  # a space, a quote, a non-ASCII letter
    write_records(plan_dataset(out, src, write_sources(src, files=24, people=8), 6, 2))  # done: nothing to do
    proc = gen("run", "--sources", src, "--out", out, "--n", 6, "--reals", 2)
    print("\n" + proc.stderr.strip().splitlines()[-1])
    assert _next_line(proc.stderr) == [["gen", "audit", str(out)], ["gen", "preview", str(out), "--out", "sheet.png"],
                                       ["gen", "status", str(out)]]


def test_next_steps_quotes_only_what_needs_it():
    buf = io.StringIO()
    console = Console(file=buf, soft_wrap=True, width=80)
    next_steps(console, False, ["gen", "audit", Path("/data/D1")], ["gen", "status", "a b"], "gen backends")
    assert buf.getvalue() == "next: gen audit /data/D1  ·  gen status 'a b'  ·  gen backends\n"
    next_steps(console, True, ["gen", "audit", "x"])
    assert buf.getvalue().count("next:") == 1


def test_weights_dir_that_is_a_file_is_one_line_before_any_download(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x\n")
    env = model_env(tmp_path / "home")
    for where, why in ((afile, "is a file, not a folder"), (afile / "sub", f"{afile} is a file, not a folder")):
        proc = gen("weights", "download", "wav2lip", "--weights-dir", where, "--mirror", "http://127.0.0.1:9",
                   env=env, check=False)
        assert proc.returncode == 2 and proc.stderr == f"error: --weights-dir {where}: {why}\n", proc.stderr
    assert afile.read_text() == "x\n"
    proc = gen("weights", "download", "wav2lip", env={**env, "SYNTHFAKE_WEIGHTS": str(afile)}, check=False)
    assert proc.returncode == 2 and proc.stderr == f"error: $SYNTHFAKE_WEIGHTS {afile}: is a file, not a folder\n"


def test_backends_says_once_that_the_weights_folder_is_missing(tmp_path):
    env = model_env(tmp_path / "home", COLUMNS="1000")
    nowhere = tmp_path / "nonexistent"
    proc = gen("backends", "--weights-dir", nowhere, env=env)
    warns = [ln for ln in proc.stderr.splitlines() if ln.startswith("WARN")]
    assert warns == [f"WARN: --weights-dir {nowhere}: no such folder; no weights file is found there"]
    assert "reencode" in proc.stdout and f"--weights-dir: {nowhere / 'inswapper_128.onnx'}" in proc.stdout
    (tmp_path / "w").mkdir()
    proc = gen("backends", "--weights-dir", tmp_path / "w", env=env)  # a folder there: nothing said
    assert "WARN" not in proc.stderr and "reencode" in proc.stdout
    proc = gen("backends", env={**env, "SYNTHFAKE_WEIGHTS": str(nowhere)})
    assert f"WARN: $SYNTHFAKE_WEIGHTS {nowhere}: no such folder" in proc.stderr
