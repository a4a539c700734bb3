"""Issue 14 classes of the runner: failures that are not the sample's fault, validation before anything is
written, one set of writers per dataset (claim, launcher kills, stale temporary files).

One test per class: each asserts the exit code, the one line, and that nothing was lost or written where it
should not be. Photos only, a handful of samples: each `gen run` here takes seconds.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clips import h264_clip
from conftest import alive, gen, wait_until

from synthfake.dataset import Dataset
from synthfake.manifest import read_failures, read_records

SWAP = ("--type", "face_swap", "--reals", "0", "--splits", "train=1,val=0,test=0")


@pytest.fixture(scope="module")
def faces(data_dir, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("faces") / "S"
    shutil.copytree(data_dir / "faces", d)
    return d


def _error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return lines[0]


def _ids(ds: Path) -> tuple[list[str], list[str]]:
    return [r.id for r in read_records(ds)], [f.id for f in read_failures(ds)]


def test_a_broken_environment_stops_the_shard_records_nothing_and_a_rerun_resumes(faces, tmp_path):
    """Class: failures that are not the sample's fault. Weights that do not load and a file-size limit hit
    (EFBIG, as a full disk) stop the shard with one line and exit 3, nothing recorded as failed; the rerun
    after the fix resumes without --retry-failed. A bug is recorded with its traceback in the worker's log;
    a run that ends with failed samples exits 1."""
    weights = tmp_path / "w"
    weights.mkdir()
    for name in ("inswapper_128.onnx", "w600k_r50.onnx"):
        (weights / name).write_bytes(b"\x08\x07\x12\x07pytorch")  # an ONNX file's first fields, and no graph
    ds = tmp_path / "D"
    proc = gen("run", *SWAP, "--n", 3, "--backend", "face_swap=inswapper", "--weights-dir", weights,
               "--sources", faces, "--out", ds, "--allow-unverified", check=False, timeout=300,
               env={**os.environ, "SYNTHFAKE_PROGRESS_INTERVAL": "0"})  # past the sha256 check, to the loader
    assert proc.returncode == 3, proc.stderr[-2000:]
    line = _error_line(proc)
    assert "shard 0/1 stopped" in line and "inswapper_128.onnx" in line and "not a loadable ONNX" in line
    assert _ids(ds) == ([], [])  # nothing recorded: the samples are still to do
    counts = [ln.split(": ", 1)[1].split(" ", 1)[0] for ln in proc.stderr.splitlines() if ln.startswith("shard 0/1: ")]
    assert counts and counts[-1] == "0/3", counts  # the sample the shard stopped at is not counted as made

    # disk full (here: the file-size limit, EFBIG) while writing media: same class, same outcome
    ds2 = tmp_path / "D2"
    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    cmd = [sys.executable, "-m", "synthfake.cli", "run", *SWAP, "--n", "3", "--sources", str(faces), "--out",
           str(ds2), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, preexec_fn=small_files)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "File too large (errno 27)" in _error_line(proc)
    assert _ids(ds2) == ([], [])
    assert not list((ds2 / "media").rglob(".*tmp*"))  # the cut temporary file is gone
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # the fix: no limit; no --retry-failed
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(_ids(ds2)[0]) == 3 and _ids(ds2)[1] == []

    # a bug (an unexpected exception) and a bad sample: both recorded, the bug's traceback in logs/
    from synthfake import generators as registry
    from synthfake.errors import SampleFailed
    from synthfake.run_config import RunSettings
    from synthfake.runner import Shard

    ds3 = tmp_path / "D3"
    gen("run", *SWAP, "--n", 4, "--sources", faces, "--out", ds3, "--quiet", "--rank", 0, "--world-size", 2)
    real_get = registry.get

    class Broken:
        VERSION, TYPE = "0", "face_swap"

        def generate(self, spec, sources, stem, ctx):
            if spec.index == 1:
                raise SampleFailed("no face found in the target")
            return {}["bug"]

    registry.get = lambda name: Broken()
    try:
        res = Shard(ds3, RunSettings(show_progress=False), 1, 2).run()
    finally:
        registry.get = real_get
    assert res.failed == 2 and res.done == 0
    bad, reason = [f.reason for f in sorted(read_failures(ds3), key=lambda f: f.index)]
    assert bad == "no face found in the target"
    log = Dataset.open(ds3).worker_log(1, 2)
    assert reason.startswith("KeyError: 'bug' (unexpected: traceback in ") and str(log) in reason
    assert 'return {}["bug"]' in log.read_text() and "Traceback" in log.read_text()
    proc = gen("run", *SWAP, "--n", 4, "--sources", faces, "--out", ds3, "--rank", 1, "--world-size", 2,
               check=False)
    assert proc.returncode == 1 and "2 sample(s) failed" in proc.stderr and "nothing to do" in proc.stderr


def test_a_damaged_sample_is_dropped_and_made_again_by_the_same_command(faces, tmp_path):
    """Counting reads a line's id and index only, so a record whose media was deleted or cut short, or whose
    line had its path sent out of the dataset or a field deleted, counted as done for ever: the same command said
    'nothing to do' while audit and export found it missing (7 Dec sweep). The run now drops such records (their
    lines kept in logs/), one line each, and makes those samples again: the same bytes as before."""
    from synthfake.files import sha256_file

    ds = tmp_path / "D"
    run = ("run", *SWAP, "--n", 6, "--sources", faces, "--out", ds)
    gen(*run, "--quiet")
    before = {r.index: (r.path, r.sha256) for r in read_records(ds)}
    part = ds / "manifest" / "part-00000-of-00001.jsonl"
    lines = part.read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    (ds / recs[0]["path"]).unlink()
    (ds / recs[1]["path"]).write_bytes(b"\xff\xd8 cut short")
    recs[2]["path"] = "../../etc/passwd"
    del recs[3]["sha256"]
    part.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs))
    proc = gen(*run)
    said = [ln for ln in proc.stderr.splitlines() if "dropped the record" in ln]
    assert len(said) == 4, proc.stderr[-3000:]
    assert "media file missing" in said[0] and "bytes where the record says" in said[1]
    assert "path escapes the dataset root" in said[2] and "sha256: Field required" in said[3]
    after = {r.index: (r.path, r.sha256) for r in read_records(ds)}
    assert after == before and all(sha256_file(ds / p) == h for p, h in after.values())
    assert len((ds / "logs" / "dropped-part-00000-of-00001.jsonl").read_text().splitlines()) == 4
    proc = gen(*run)  # whole again: nothing to drop, nothing to do
    assert "dropped" not in proc.stderr and "nothing to do" in proc.stderr

    # a folder where a sample's file goes: that sample fails with one line naming the path (it was logged as a bug)
    (ds / before[0][0]).unlink()
    (ds / before[0][0]).mkdir()
    proc = gen(*run, check=False)
    assert proc.returncode == 1 and "not a file" in proc.stderr, proc.stderr[-2000:]
    reason = read_failures(ds)[0].reason
    assert reason == f"{ds / before[0][0]}: Is a directory (errno 21): this path cannot take the sample's file " \
                     "(move what is there and rerun)"
    assert not (ds / "logs" / "worker-00000-of-00001.log").exists()


def test_a_killed_workers_temporary_file_goes_when_another_world_size_finishes(faces, tmp_path):
    """A kill -9 leaves `.ID.r0of1.tmp.mp4`; a shard removed only its own, so once world size 2 finished the
    dataset the world-1 file stayed for ever (and `**/*.mp4` globs found it; 7 Dec sweep). A shard now removes
    every worker's leftovers whose lock no live process holds, and leaves a live worker's alone."""
    from synthfake.files import lock_nowait

    ds = tmp_path / "D"
    gen("run", *SWAP, "--n", 4, "--sources", faces, "--out", ds, "--quiet", "--rank", 0, "--world-size", 2)
    folder = next((ds / "media").glob("*/*"))
    dead, live = folder / ".0123456789abcdef.r0of1.tmp.mp4", folder / ".fedcba9876543210.r0of3.tmp.mp4"
    dead.write_bytes(b"cut")
    live.write_bytes(b"being written")
    held = lock_nowait(Dataset.open(ds).worker_files(0, 3)[2])  # a live worker of world size 3 holds its lock
    try:
        gen("run", *SWAP, "--n", 4, "--sources", faces, "--out", ds, "--quiet", "--rank", 1, "--world-size", 2)
    finally:
        held.close()
    assert not dead.exists() and live.exists()


def test_bad_input_is_refused_before_anything_is_written(faces, tmp_path):
    """Class: validation before writing. Each bad input exits 2 with one line naming the setting, and leaves
    no dataset (nor a file where --json pointed)."""
    ds = tmp_path / "D"
    a_file = tmp_path / "file"
    a_file.write_text("keep")
    env_rank = {**os.environ, "RANK": "x", "WORLD_SIZE": "2"}
    cases = [
        (("--rank", 2, "--world-size", 2), None, "--rank/--world-size: rank 2 / world size 2"),
        ((), env_rank, "$RANK='x' / $WORLD_SIZE='2': expected whole numbers"),
        (("--n", 0), None, "--n 0 --reals 0: nothing to make"),
        (("--backend", "bogus=morph"), None, "--backend bogus=...: unknown type"),
        (("--degrade", "jpeg:quality=90-60"), None, "range [90.0, 60.0] must be lo-hi with lo <= hi"),
    ]
    for extra, env, want in cases:
        proc = gen("run", "--type", "face_swap", "--sources", faces, "--out", ds, *extra, check=False, env=env)
        assert proc.returncode == 2 and want in _error_line(proc), (extra, proc.stderr[-1500:])
        assert not ds.exists(), extra
    proc = gen("run", "--sources", faces, "--out", a_file, check=False)
    assert proc.returncode == 2 and f"--out {a_file}: is a file" in _error_line(proc)
    assert a_file.read_text() == "keep"
    folder = tmp_path / "report"
    folder.mkdir()
    for args in (("audit", ds, "--json", folder), ("sources", "scan", faces, "--json", folder)):
        proc = gen(*args, check=False)
        assert proc.returncode == 2 and f"--json {folder}: is a folder" in _error_line(proc), args
        assert list(folder.iterdir()) == []


def _children(pid: int) -> list[int]:
    kids = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in kids.read_text().split()] if kids.exists() else []


def _workers(pid: int) -> list[int]:
    out = []
    for k in _children(pid):
        try:
            if "multiprocessing.spawn" in Path(f"/proc/{k}/cmdline").read_text():
                out.append(k)
        except OSError:
            pass
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux-only")
def test_one_dataset_one_set_of_writers(faces, tmp_path):
    """Class: one dataset, one set of writers. A world size claimed by live workers refuses another (exit 2,
    one line, nothing written); a finished claim is taken over. SIGKILL to the launcher takes its workers
    with it (no orphan holds a lock); SIGTERM prints one line and exits 143; the rerun completes every sample
    exactly once, and temporary files of cut JSON writes are cleaned."""
    ds = tmp_path / "D"
    gen("run", *SWAP, "--n", 2, "--sources", faces, "--out", ds, "--quiet")  # world size 1 made 2 samples
    held = Dataset.open(ds).claim(2)  # a live worker of world size 2
    proc = gen("run", *SWAP, "--n", 2, "--sources", faces, "--out", ds, "--rank", 0, "--world-size", 1,
               "--retry-failed", check=False)
    assert proc.returncode == 2 and "workers of world size 2 are writing this dataset" in _error_line(proc)
    held.close()
    assert json.loads((ds / "manifest" / "claim.json").read_text())["world_size"] == 2
    assert len(_ids(ds)[0]) == 2

    big = tmp_path / "B"
    stale = big / ".plan.json.99999999.tmp"
    n = 64  # enough that a run is still going when the signal comes (generation got faster: 16 could finish)
    args = [sys.executable, "-m", "synthfake.cli", "run", *SWAP, "--n", str(n), "--workers", "2", "--sources",
            str(faces), "--out", str(big), "--quiet"]
    for sig in (signal.SIGKILL, signal.SIGTERM):
        launcher = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert wait_until(lambda: len(_workers(launcher.pid)) == 2 and (big / "manifest" / "claim.json").exists(), 120)
        workers = _workers(launcher.pid)
        time.sleep(1.0)
        launcher.send_signal(sig)
        _, stderr = launcher.communicate(timeout=60)
        assert wait_until(lambda: not any(alive(w) for w in workers), 20), f"orphans after {sig.name}"
        if sig == signal.SIGTERM:
            assert launcher.returncode == 143 and "Traceback" not in stderr, stderr[-2000:]
            assert [ln for ln in stderr.splitlines() if ln.strip()] == [
                "interrupted (SIGTERM): workers stopped; what was written is kept: rerun the same command to resume"]
        stale.write_text("{cut")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    done, failed = _ids(big)
    assert len(done) + len(failed) == n and len(set(done)) == len(done) and not stale.exists()


def _read_as_shown(clip, shown: list) -> list:
    """The clip's frames, once its probed size and frame count and its frames' sizes and pixels are `shown`'s."""
    import numpy as np

    from synthfake import media

    info, (h, w) = media.probe(clip), shown[0].shape[:2]
    assert (info.width, info.height, info.frames) == (w, h, len(shown))
    got = media.read_frames(clip)
    assert [g.shape for g in got] == [f.shape for f in shown]
    assert np.abs(got[3].astype(int) - shown[3]).mean() < 6
    return got


def test_rotated_video_reads_upright_and_its_face_is_found(data_dir, tmp_path):
    """Class: media the sources may hold. A clip stored sideways with a display matrix (as phones write it) is
    read upright, as ffmpeg's autorotate shows it: size, pixels, and the face the sources scan finds; a
    variable-frame-rate clip is recorded as re-timed in the sources index."""
    from fractions import Fraction

    import av
    import numpy as np

    from synthfake import faces, media
    from synthfake.sources import scan

    upright = [f[:480, 56:456] for f in media.read_frames(data_dir / "videos" / "talk_d0.mp4", 0, 12)]  # 480x400
    clip = tmp_path / "S" / "phone.mp4"
    src = clip.parent
    # stored turned a quarter clockwise, shown turned back a quarter counter-clockwise: upright
    h264_clip(clip, (np.rot90(f, -1) for f in upright), (480, 400), lambda s: s.set_display_rotation(90))
    got = _read_as_shown(clip, upright)
    assert faces.detect(got[5]) is not None and faces.detect(np.rot90(got[5], -1).copy()) is None
    # a variable-frame-rate clip (40 and 80 ms frames) is read at a constant rate: the index says so
    vfr = src / "vfr.mp4"
    with av.open(str(vfr), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 400, 480, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, f in enumerate(upright):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts, frame.time_base = 60 * i - 20 * (i % 2), Fraction(1, 1000)  # 0, 40, 120, 160, 240 ...
            out.mux(s.encode(frame))
        out.mux(s.encode())
    items = {it.path: it for it in scan(src).items}
    phone, varying = items["phone.mp4"], items["vfr.mp4"]
    assert phone.is_face and phone.faces_found >= 1 and phone.rotation == 90 and phone.retimed is None
    assert varying.rotation == 0 and varying.retimed.startswith("variable frame rate: frame durations 40.0-80.0 ms")


def test_anamorphic_video_reads_in_square_pixels(data_dir, tmp_path):
    """Class: media the sources and a competition folder may hold. A clip stored squashed with non-square pixels
    (sample aspect 4:3, as DVD and broadcast cuts are) is read at the width a viewer sees: its size, its pixels
    and its face's proportions are the unsquashed clip's, in the sources index too."""
    from fractions import Fraction

    import cv2
    import numpy as np

    from synthfake import faces, media
    from synthfake.sources import scan

    shown = [f[:480, 16:496] for f in media.read_frames(data_dir / "videos" / "talk_d0.mp4", 0, 10)]  # 480x480
    clip = tmp_path / "S" / "anamorphic.mp4"
    squashed = (cv2.resize(f, (360, 480), interpolation=cv2.INTER_AREA) for f in shown)  # stored 3/4 as wide
    h264_clip(clip, squashed, (360, 480), lambda s: setattr(s.codec_context, "sample_aspect_ratio", Fraction(4, 3)))
    got = _read_as_shown(clip, shown)
    want, seen = faces.detect(shown[3]), faces.detect(got[3])
    assert seen is not None
    span = lambda face: np.ptp(face.landmarks, axis=0)  # the 68 points' width and height
    assert np.allclose(span(seen) / span(want), 1.0, atol=0.04)
    item = scan(clip.parent).items[0]
    assert item.is_face and (item.width, item.height) == (480, 480)


def test_hdr_video_reads_as_an_sdr_screen_shows_it(data_dir, tmp_path):
    """Class: media the sources and a competition folder may hold. A phone's HDR clip (10-bit BT.2020, PQ or HLG)
    is read tone- and gamut-mapped to SDR BT.709, close to the SDR frames it was made from; read as stored it is
    grey (PQ) or pale (HLG). Its face is found and `media.video_colour` names it; an SDR clip is read as before."""
    import av
    import cv2
    import numpy as np
    from clips import hdr_clip

    from synthfake import faces, media

    sdr = [cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA)
           for f in media.read_frames(data_dir / "videos" / "talk_d0.mp4", 0, 4)]
    for transfer in ("PQ", "HLG"):
        clip = tmp_path / f"{transfer}.mp4"
        hdr_clip(clip, sdr, transfer)
        with av.open(str(clip)) as c:  # as stored: the signal shown as if it were SDR
            stored = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
        assert np.abs(stored - sdr[0]).mean() > 12
        got = media.read_frames(clip)
        assert len(got) == 4 and got[0].shape == (256, 256, 3)
        assert np.abs(got[0].astype(int) - sdr[0]).mean() < 5, transfer
        assert media.video_colour(clip) == transfer and faces.detect(got[2]) is not None
    assert media.video_colour(data_dir / "videos" / "talk_d0.mp4") is None
    # HDR10 as cameras and grades write it: mastering metadata (1000 nits) swscale would map to SDR white, half
    # as bright (51 levels off); read as a TV shows it. Turned by its display matrix like any other clip.
    hdr_clip(tmp_path / "hdr10.mp4", sdr, "PQ", mastered=1000)
    assert np.abs(media.read_frames(tmp_path / "hdr10.mp4")[0].astype(int) - sdr[0]).mean() < 5
    hdr_clip(tmp_path / "turned.mp4", [np.rot90(f, -1).copy() for f in sdr], "HLG",
             setup=lambda s: s.set_display_rotation(90))
    assert np.abs(media.read_frames(tmp_path / "turned.mp4")[0].astype(int) - sdr[0]).mean() < 5


def test_help_documents_every_option_and_lists_values():
    """Class: --help. Every option of every command has help text, flags show no `<bool>`, --type and
    --backend list their values, the main help has examples and the exit codes."""
    import re

    from synthfake import generators as registry

    bare = re.compile(r"^│\s+\*?\s*--[a-z0-9-]+\s+(<[^>]+>(\s\[[^\]]*\])?)?\s*(\[(default|required)[^\]]*\])?\s*│$")
    from typer.testing import CliRunner

    from synthfake.cli import app

    runner = CliRunner()
    env = {"COLUMNS": "250", "TERMINAL_WIDTH": "250"}
    main = runner.invoke(app, ["--help"], env=env).stdout
    assert "Examples:" in main and "gen run --sources" in main and "3 the environment" in main
    commands = ["run", "status", "audit", "preview", "backends", "slurm-script", "export", "sources scan",
                "detect train", "detect predict", "detect eval", "detect export"]
    for cmd in commands:
        text = runner.invoke(app, [*cmd.split(), "--help"], env=env).stdout
        assert "<bool>" not in text, cmd
        rows = [ln for ln in text.splitlines() if re.match(r"^│\s+\*?\s*--", ln)]
        assert rows and not [ln for ln in rows if bare.match(ln)], (cmd, [ln for ln in rows if bare.match(ln)])
        if cmd == "run":
            flat = " ".join(text.split())
            assert all(t in flat for t in ("generation, face_swap, reenactment, lip_sync", *registry.BACKENDS))
