"""Worker processes of `pools.quick_context` (the audit's decoding checks, the DeepfakeBench export, the detector's
crops) die with the process that started them, even by SIGKILL (the OOM killer, Slurm), and a forkserver between
them dies too; Ctrl-C stops `gen audit` in seconds with one line and exit 130, leaving no process behind."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import alive, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="PR_SET_PDEATHSIG and /proc are Linux-only")

ROOT = Path(__file__).resolve().parents[1]


def _session(sid: int) -> list[int]:
    """Live processes of the session `sid` (a launcher started with start_new_session, and all it started)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(d))
    return out


def _signal_state(sid: int) -> str:
    """Each live process of session `sid`: its /proc status lines on signals and threads, and its command line."""
    lines = []
    for pid in _session(sid):
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120].decode(errors="replace")
        except OSError:
            continue
        keep = [ln for ln in status if ln.startswith(("State", "Threads", "SigBlk", "SigIgn", "SigCgt", "SigPnd",
                                                       "ShdPnd"))]
        lines.append(f"{pid} {cmd}: " + "; ".join(" ".join(ln.split()) for ln in keep))
    return "\n".join(lines)


def _kill_left(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


POOL = textwrap.dedent("""
    import json, multiprocessing, os, sys, threading, time
    from multiprocessing import forkserver, resource_tracker
    from synthfake.pools import process_pool
    if sys.argv[1] == "forkserver":  # a thread beyond the imports' makes quick_context choose the forkserver
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
    pool = process_pool(2, "json")
    assert [pool.submit(os.getpid) for _ in range(2)][0].result()
    pool.submit(time.sleep, 3600)  # one worker busy, the other waits for work (blocked reading a pipe)
    time.sleep(0.5)
    print(json.dumps({"method": pool._mp_context.get_start_method(), "workers": list(pool._processes),
                      "server": forkserver._forkserver._forkserver_pid,
                      "tracker": resource_tracker._resource_tracker._pid}), flush=True)
    time.sleep(3600)
""")


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_sigkill_of_the_launcher_takes_every_worker_with_it(method):
    """SIGKILL to a process holding a pool of 2 (one worker busy, one idle): within seconds no worker, forkserver
    or resource tracker is left (they stayed forever, reparented to init, 100-170 MB each, and a forkserver's
    workers kept it alive in turn)."""
    launcher = subprocess.Popen([sys.executable, "-c", POOL, method], stdout=subprocess.PIPE, text=True,
                                start_new_session=True)
    try:
        ready, _, _ = select.select([launcher.stdout], [], [], 120)
        assert ready, "the pool did not start in 120 s"
        line = json.loads(launcher.stdout.readline())
        assert line["method"] == method and len(line["workers"]) == 2
        procs = [p for p in (*line["workers"], line["server"], line["tracker"]) if p]  # fork: no server, tracker
        assert all(alive(p) for p in procs)
        launcher.kill()
        launcher.wait(10)
        assert wait_until(lambda: not any(alive(p) for p in procs), 10), \
            f"left after SIGKILL: {[p for p in procs if alive(p)]} of {line}"
    finally:
        launcher.kill()
        _kill_left(_session(launcher.pid))


CTRL_C = textwrap.dedent("""
    import sys, threading, time
    from synthfake.audit import artefacts
    from synthfake.audit.base import PASS, Check, pool_map

    def slow(data, pool):  # a decoding check that takes long: the workers are busy when Ctrl-C comes
        pool_map(pool, time.sleep, [60] * 8, "slow", False)
        return Check("artefacts", PASS, "")

    artefacts.check = slow
    if sys.argv[2] == "forkserver":
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
    from synthfake.cli import app
    app(["audit", sys.argv[1], "--check", "artefacts", "--workers", "2", "--quiet", "--json", sys.argv[3]],
        prog_name="gen")
""")


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_ctrl_c_stops_the_audit_with_one_line_and_130(tmp_path, method):
    """SIGINT to the process group (a terminal's Ctrl-C) while the pool's workers decode: exit 130 within seconds,
    one line on stderr, no report, and no worker, forkserver or resource tracker left (workers ignore SIGINT: the
    launcher ends them; before, a worker died with a KeyboardInterrupt traceback and the launcher could hang in
    join at exit)."""
    from synthetic_dataset import plan_dataset, write_records, write_sources

    src = tmp_path / "src"
    ds = plan_dataset(tmp_path / "D", src, write_sources(src, files=24, people=8), 4, 4)
    write_records(ds)
    ds = tmp_path / "D"
    report = tmp_path / "r.json"
    # SIGINT at its default, as in a terminal's foreground job: a suite started in the background of a script
    # (`bash .ci/run &`) hands its children SIGINT ignored, and Python then never raises KeyboardInterrupt
    launcher = subprocess.Popen([sys.executable, "-c", CTRL_C, str(ds), method, str(report)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        workers = lambda: [p for p in _session(launcher.pid) if p != launcher.pid]  # noqa: E731
        # the 2 workers are up (under a forkserver, with it and the resource tracker)
        assert wait_until(lambda: len(workers()) >= (4 if method == "forkserver" else 2), 60), workers()
        time.sleep(0.5)
        before = workers()
        os.killpg(launcher.pid, signal.SIGINT)
        t0 = time.monotonic()
        try:
            _, stderr = launcher.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # say why: SIGINT ignored (SigIgn bit 2) or blocked, or a stop that hangs
            raise AssertionError(f"no exit 30 s after SIGINT; the launcher's and workers' signal state and "
                                 f"threads:\n{_signal_state(launcher.pid)}") from None
        took = time.monotonic() - t0
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        assert launcher.returncode == 130 and lines == ["interrupted (Ctrl-C): audit stopped; what was written whole is kept"], \
            (launcher.returncode, stderr[-3000:])
        assert took < 10 and not report.exists()
        assert wait_until(lambda: not any(alive(p) for p in before), 10), f"left: {[p for p in before if alive(p)]}"
    finally:
        launcher.kill()
        _kill_left(_session(launcher.pid))
