"""Issue 14 classes outside the runner: files that cannot be read, paths read from records that would lead
outside their roots, and what a person reading a job log or a terminal sees. (Secrets: test_http_t2i.py.)

One test per class: each asserts the exit code, the one line naming the file and the reason, and that nothing
already written changed and nothing was read or written where it should not be.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import gen

from synthfake.manifest import read_records

PHOTOS = ("photo_s1.jpg", "photo_s12.jpg", "photo_s42.jpg", "still_talk_d0.jpg", "still_talk_d3.jpg")


def _snapshot(folder: Path) -> dict[str, str]:
    """relative path -> sha256 (or 'dir' / 'link') of everything under a folder."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def hostile(data_dir, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(sources, dataset, outside): sources with good photos beside a broken symlink, a symlink out of the root,
    a symlinked folder, a FIFO named like a photo and a folder without permissions; a small run over them."""
    top = tmp_path_factory.mktemp("hostile")
    src, outside = top / "S", top / "outside"
    src.mkdir()
    outside.mkdir()
    for name in PHOTOS:
        shutil.copy(data_dir / "faces" / name, src / name)
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", outside / "elsewhere.jpg")
    os.symlink(top / "nowhere.jpg", src / "gone.jpg")
    os.symlink(outside / "elsewhere.jpg", src / "out.jpg")
    os.symlink(outside, src / "linked")
    os.symlink(src / "loop_b.jpg", src / "loop_a.jpg")  # a link loop: ELOOP, not a broken link
    os.symlink(src / "loop_a.jpg", src / "loop_b.jpg")
    os.mkfifo(src / "pipe.jpg")  # opening it to read would block: proves the scan never opens it
    (src / "locked").mkdir()
    shutil.copy(data_dir / "faces" / "still_talk_d12.jpg", src / "locked" / "hidden.jpg")  # no copy of a PHOTO
    os.chmod(src / "locked", 0)
    ds = top / "D"
    env = {**os.environ, "SYNTHFAKE_PROGRESS_INTERVAL": "0"}  # stderr is a pipe here: plain progress lines
    proc = gen("run", "--type", "face_swap", "--n", 4, "--reals", 2, "--sources", src, "--out", ds, timeout=300,
               env=env)
    scan = gen("sources", "scan", src, "--json", top / "index.json", timeout=300, env=env)
    yield src, ds, outside, proc, scan
    os.chmod(src / "locked", 0o755)


def test_unreadable_sources_and_corrupt_dataset_files_are_one_line(hostile, tmp_path):
    """Class: files that cannot be read (sources scan and run; plan.json, sources.json, a manifest part that is
    a folder in status, audit, preview and run)."""
    src, ds, _, run, scan = hostile
    expected = {"gone.jpg": "broken symlink", "out.jpg": "outside the sources root", "loop_a.jpg": "symlink loop",
                "linked": "symlinked folder, not followed", "pipe.jpg": "not a regular file"}
    if os.geteuid() != 0:  # root reads a folder without permissions anyway
        expected["locked"] = "unreadable folder"
    for name, why in expected.items():
        assert any(ln.startswith(f"excluded {name}: ") and why in ln for ln in scan.stdout.splitlines()), name
    index = json.loads((src.parent / "index.json").read_text())
    used = {it["path"] for it in index["items"] if it["excluded"] is None}
    assert used == set(PHOTOS) | ({"locked/hidden.jpg"} if os.geteuid() == 0 else set())
    for name, why in expected.items():  # `gen run` names them too, and made every sample
        if name != "linked":
            assert f"note: {name}: kept out of face roles: " in run.stderr and why in run.stderr
    assert len(read_records(ds)) == 6

    corrupt = {"plan": ("plan.json", "corrupt JSON at line"), "sources": ("sources.json", "not a valid SourceIndex"),
               "part": ("manifest/part-00001-of-00002.jsonl", "is a folder, expected a JSONL manifest part")}
    for case, (rel, why) in corrupt.items():
        d = tmp_path / case
        shutil.copytree(ds, d, symlinks=True)
        if case == "plan":
            (d / rel).write_bytes((d / rel).read_bytes()[:100])
        elif case == "sources":
            (d / rel).write_text('{"root": 3, "items": "x"}')
        else:
            (d / rel).mkdir()
        before = _snapshot(d)
        for args in (("status", d), ("audit", d, "--json", tmp_path / f"{case}.json"),
                     ("preview", d, "--out", tmp_path / f"{case}.png"),
                     ("run", "--type", "face_swap", "--n", 4, "--reals", 2, "--sources", src, "--out", d)):
            proc = gen(*args, check=False, timeout=300)
            if case == "part" and args[0] == "audit":  # a damaged dataset: the integrity check fails, exit 1
                assert proc.returncode == 1, proc.stderr[-2000:]
                report = json.loads((tmp_path / f"{case}.json").read_text())
                integrity = next(c for c in report["checks"] if c["name"] == "integrity")
                assert integrity["status"] == "FAIL" and why in json.dumps(integrity["details"]["examples"])
                continue
            assert proc.returncode == 2, (case, args[0], proc.stderr[-2000:])
            line = _error_line(proc)
            assert f"{d / rel}: " in line and why in line, (case, args[0], line)
            assert not (tmp_path / f"{case}.png").exists()
        assert _snapshot(d) == before, case  # nothing changed, nothing written


def test_detector_predict_names_a_broken_symlink_and_refuses_a_pickled_checkpoint(tmp_path, data_dir):
    """Class: files that cannot be read, in `gen detect predict`: a broken symlink among the inputs gets its
    row and a log line; a checkpoint that is a pickle with more than tensors is one line, not a traceback."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import pickle

    import torch
    from transformers import ViTForImageClassification

    from synthfake.detector.model import tiny_config

    model_dir = tmp_path / "M"
    model = ViTForImageClassification(tiny_config(32)).eval()
    model.save_pretrained(str(model_dir))
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(data_dir / "faces" / "photo_s1.jpg", inp / "a.jpg")
    os.symlink(tmp_path / "missing.jpg", inp / "b.jpg")
    out = tmp_path / "sub.csv"
    proc = gen("detect", "predict", model_dir, inp, "--out", out, "--runtime", "torch", check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = out.read_text().strip().splitlines()
    assert len(rows) == 3 and any(r.startswith("b.jpg,") for r in rows), rows
    assert any("b.jpg" in ln and "fallback" in ln for ln in proc.stderr.splitlines()), proc.stderr[-2000:]

    class Payload:  # anything beyond tensors: weights_only=True refuses to unpickle it
        def __reduce__(self):
            return (print, ("unpickled!",))

    (model_dir / "model.safetensors").unlink()
    torch.save({"state": Payload()}, model_dir / "pytorch_model.bin", pickle_protocol=pickle.DEFAULT_PROTOCOL)
    out.unlink()
    proc = gen("detect", "predict", model_dir, inp, "--out", out, "--runtime", "torch", check=False, timeout=300)
    assert proc.returncode == 2 and "unpickled!" not in proc.stdout + proc.stderr
    line = _error_line(proc)
    assert f"{model_dir / 'pytorch_model.bin'}: refused" in line and "safetensors" in line
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()


def test_a_corrupt_or_truncated_safetensors_is_one_line(tmp_path):
    """safetensors raises an Exception of its own (SafetensorError), which left predict, eval and export in a
    traceback on a half-copied model.safetensors."""
    pytest.importorskip("transformers")
    from transformers import ViTForImageClassification

    from synthfake.detector.model import from_pretrained, tiny_config
    from synthfake.errors import SynthfakeError

    model_dir = tmp_path / "M"
    ViTForImageClassification(tiny_config(32)).save_pretrained(str(model_dir))
    weights = model_dir / "model.safetensors"
    whole = weights.read_bytes()
    for broken in (b"junk", whole[:1000]):
        weights.write_bytes(broken)
        with pytest.raises(SynthfakeError, match=rf"^{re.escape(str(weights))}: cannot load the weights "
                                                 r"\(SafetensorError: "):
            from_pretrained(model_dir)


def test_paths_read_from_records_stay_inside_their_roots(hostile, tmp_path):
    """Class: reading outside the dataset. A source path with '..', a media file replaced by a symlink out of
    the dataset, a source replaced by a symlink out of the sources root: the audit fails integrity and neither
    its decoding checks nor `gen preview` (PNG and HTML) open them (each target is a FIFO: opening it blocks)."""
    src0, ds0, _, _, _ = hostile
    src, ds, outside = tmp_path / "S", tmp_path / "D", tmp_path / "outside"
    shutil.copytree(src0, src, symlinks=True, ignore=shutil.ignore_patterns("locked", "pipe.jpg"))
    shutil.copytree(ds0, ds)
    index = json.loads((ds / "sources.json").read_text())
    index["root"] = str(src)
    (ds / "sources.json").write_text(json.dumps(index))
    outside.mkdir()
    os.mkfifo(outside / "trap.png")
    os.mkfifo(outside / "trap.jpg")
    records = read_records(ds)
    fakes = [r for r in records if r.label == 1]
    media_victim, source_victim = fakes[0], fakes[1]
    (ds / media_victim.path).unlink()
    os.symlink(outside / "trap.png", ds / media_victim.path)  # (size/sha checks must not open it either)
    (src / source_victim.sources[0].path).unlink()
    os.symlink(outside / "trap.jpg", src / source_victim.sources[0].path)

    png, page = tmp_path / "sheet.png", tmp_path / "sheet.html"
    proc = gen("preview", ds, "--out", png, "--html", timeout=120)
    html = page.read_text()
    assert png.is_file() and html.count("not shown") >= 2
    assert not [s for s in re.findall(r'src="([^"]*)"', html) if "trap" in s or "outside" in s]
    report = tmp_path / "audit.json"
    proc = gen("audit", ds, "--json", report, "--workers", 0, check=False, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    integrity = next(c for c in json.loads(report.read_text())["checks"] if c["name"] == "integrity")
    victim = source_victim.sources[0].path
    escaping = {media_victim.id} | {r.id for r in records if any(s.path == victim for s in r.sources)}
    assert integrity["status"] == "FAIL" and integrity["details"]["counts"]["escaping_paths"] == len(escaping)

    # a record whose source path climbs out of the root: integrity names it; preview leaves it undrawn and says so
    part = next((ds / "manifest").glob("part-*.jsonl"))
    lines = part.read_text().splitlines()
    rec = json.loads(lines[-1])
    assert rec["sources"]
    rec["sources"][0]["path"] = "../outside/trap.jpg"
    lines[-1] = json.dumps(rec)
    part.write_text("\n".join(lines) + "\n")
    proc = gen("audit", ds, "--json", report, "--workers", 0, check=False, timeout=300)
    assert proc.returncode == 1
    integrity = next(c for c in json.loads(report.read_text())["checks"] if c["name"] == "integrity")
    assert integrity["details"]["counts"]["escaping_paths"] == len(escaping | {rec["id"]})
    assert any("sources.0.path" in e for e in integrity["details"]["examples"]["escaping_paths"])
    proc = gen("preview", ds, "--out", tmp_path / "again.png", check=False, timeout=120)
    said = [ln for ln in proc.stderr.splitlines() if "not drawn" in ln]
    assert proc.returncode == 0 and len(said) == 1 and "sources.0.path: Value error, path escapes" in said[0]
    assert (tmp_path / "again.png").is_file()


def test_job_logs_show_progress_and_rich_prints_dynamic_text_whole(hostile, tmp_path):
    """Class: what a person reading a job log or a terminal sees. With stderr a pipe, `gen run` and the sources
    scan write plain progress lines (done/total, rate, ETA); `gen backends` prints reasons verbatim (markup-like
    text kept, long URLs whole, nothing cut with an ellipsis) in a narrow terminal."""
    _, _, _, run, scan = hostile
    line = re.compile(r"^(shard 0/1|1 workers|indexing sources): (\d+)/(\d+) \(\d+%\), [\d.]+ (samples|files)/s, "
                      r"elapsed \d+:\d\d:\d\d, ETA (\d+:\d\d:\d\d|-)$")
    for proc, total in ((run, 6), (scan, len(PHOTOS) + 7)):  # 7: the entries the hostile fixture adds
        found = [m for ln in proc.stderr.splitlines() if (m := line.match(ln))]
        assert found and int(found[0][2]) == 0 and found[-1][2] == found[-1][3] == str(total), proc.stderr[-1500:]
        assert "\x1b[" not in proc.stderr and "━" not in proc.stderr  # no bar drawn into the log

    hint = tmp_path / "[bold]x[/bold] :smile: [/]"  # markup, an emoji code, a closing tag with no opening one
    env = {**os.environ, "COLUMNS": "50", "HOME": str(tmp_path)}
    proc = gen("backends", "--weights-dir", hint, env=env)
    assert f"--weights-dir: {hint / 'inswapper_128.onnx'}" in proc.stdout
    url = "https://github.com/facefusion/facefusion-assets/releases/download/models-3.0.0/inswapper_128.onnx"
    assert url in proc.stdout and "…" not in proc.stdout and str(tmp_path) in proc.stdout


def test_audio_without_speech_or_with_six_channels_is_excluded_by_name(data_dir, tmp_path):
    """Class: media the sources may hold (audio part). A silent WAV is not speech and a 6-channel WAV is not
    read as one: each is excluded with a reason naming the file; the speech file is kept; the scan exits 0."""
    import numpy as np
    import soundfile as sf

    src = tmp_path / "S"
    src.mkdir()
    shutil.copy(data_dir / "audio" / "RD_Radio31_000.wav", src / "speech.wav")
    sf.write(src / "silent.wav", np.zeros((32000, 1), np.float32), 16000)
    sf.write(src / "six.wav", np.random.default_rng(0).uniform(-0.3, 0.3, (16000, 6)).astype(np.float32), 16000)
    before = _snapshot(src)
    proc = gen("sources", "scan", src, "--json", tmp_path / "index.json", timeout=120)
    lines = proc.stdout.splitlines()
    assert any(ln.startswith("excluded silent.wav: no voice activity") for ln in lines), proc.stdout[-1500:]
    assert any(ln.startswith("excluded six.wav: unreadable: 6 audio channels") and "mono or stereo" in ln
               for ln in lines)
    items = {it["path"]: it for it in json.loads((tmp_path / "index.json").read_text())["items"]}
    assert items["speech.wav"]["excluded"] is None and items["speech.wav"]["duration"] > 1
    assert _snapshot(src) == before
