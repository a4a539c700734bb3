"""`gen audit`: the checks that find what would teach a detector the wrong thing, before it trains.

Nine checks, each PASS / WARN / FAIL with the numbers behind it: integrity, balance, exact duplicates,
near duplicates, identity leakage, real/fake confounds (record properties), signal confounds (blockiness, audio),
label noise, artefacts. The five that decode media (near duplicates, the face part of identity, signal confounds,
label noise, artefacts) look at no more than `max_samples` records each and
run over a pool of processes; the others read only the records and the files' bytes. A check (or its media part)
that measured nothing, as under `max_samples` 0, or over one class only where an AUC needs two, says WARN with
why (its `details["not_measured"]`), never PASS: the overall verdict is never PASS on the strength of nothing.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from rich.table import Table
from rich.text import Text

from .base import FAIL, PASS, WARN, AuditData, Check, Settings, make_pool, worst
from .integrity import check_integrity
from ..dataset import Dataset
from ..errors import SynthfakeError
from ..files import write_json_atomic
from ..registry import Contract, Registry

# Every check after integrity (which loads the records the others read), in report order: a module with VERSION,
# DECODES, check(data, pool) -> Check and, when it can be unable to run, ready(settings).
CHECKS = Registry("audit check", {name: f"{__name__}.{module}" for name, module in (
    ("balance", "balance"), ("exact_duplicates", "exact_dupes"), ("near_duplicates", "near_dupes"),
    ("identity", "identity"), ("confounds", "confounds"), ("signal_confounds", "signals"), ("label_noise", "labels"),
    ("artefacts", "artefacts"))},
    Contract(run="check", run_args=2))

STYLE = {PASS: "green", WARN: "yellow", FAIL: "bold red"}


@dataclass
class Report:
    """The whole audit: overall verdict, settings, and every check with its numbers."""

    dataset: str
    plan: str
    records: int
    status: str
    settings: dict
    checks: list[Check]
    seconds: float
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def as_dict(self) -> dict:
        return asdict(self)


def _timed(fn, *args):
    """fn(*args), its wall seconds and this process's CPU seconds (threads included, pool workers not)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, round(time.perf_counter() - t0, 3), round(time.process_time() - c0, 3)


def run_audit(dataset: str | Path, settings: Settings | None = None) -> Report:
    """Every check over DATASET (or integrity and `settings.checks`); a missing plan or sources index, or an
    unknown check name, is a SynthfakeError (bad input).

    Each check's `timings` holds `scan` (wall) and `scan_cpu` for a check that reads records and bytes, and
    `decode` (wall) for one that decodes media in the pool (its CPU is the pool's).
    """
    st = settings or Settings()
    unknown = [CHECKS.unknown(n) for n in st.checks or () if n not in CHECKS.entries and n != "integrity"]
    if unknown:
        raise SynthfakeError(unknown[0])
    t0 = time.perf_counter()
    opened = Dataset.open(dataset)
    ds, plan, index, layout = opened.root, opened.plan, opened.index, opened.table
    (integrity, records, failures, actual, whole), *t = _timed(check_integrity, ds, layout, st.show_progress)
    integrity.timings.update(scan=t[0], scan_cpu=t[1])
    data = AuditData(ds, plan, index, layout, records, failures, actual, st)
    # checks that decode open only files integrity found whole: present, a regular file, with the size and sha256
    # of their record (a corrupt or cut file, or a record naming a folder, is integrity's finding, not decoded)
    on_disk = replace(data, records=[r for r in records if r.id in whole])
    checks = [integrity]
    pool = make_pool(st.workers)
    try:
        for name in CHECKS.names():
            if st.checks is not None and name not in st.checks:
                continue
            why = CHECKS.why_not_ready(name, st)
            if why:
                checks.append(Check(name, WARN, f"not run: {why}"))
                continue
            module = CHECKS.get(name)
            try:
                c, wall, cpu = _timed(module.check, on_disk if module.DECODES else data, pool)
            except Exception as e:  # one check that breaks costs its verdict, never the report
                why = " ".join(str(e).split())[:300]
                checks.append(Check(name, FAIL, f"could not run: {type(e).__name__}: {why}"))
                continue
            c.timings.update(decode=wall) if module.DECODES else c.timings.update(scan=wall, scan_cpu=cpu)
            checks.append(c)
    except BaseException:  # Ctrl-C (the workers ignore it: this process stops them) or a bug: queued work cancelled
        if pool is not None:
            pool.stop()
        raise
    if pool is not None:
        pool.shutdown()
    settings_out = asdict(st)
    settings_out.pop("show_progress")
    return Report(str(ds), plan.hash, len(records), worst(c.status for c in checks), settings_out, checks,
                  round(time.perf_counter() - t0, 3))


def write_report(path: str | Path, report: Report) -> None:
    write_json_atomic(path, report.as_dict())


def audit_table(report: Report) -> Table:
    """One row per check: verdict, the numbers behind it, seconds."""
    t = Table(title=Text.assemble(f"audit of {report.dataset} (plan {report.plan}, {report.records} records): ",
                                  (report.status, STYLE[report.status])), show_lines=True)
    t.add_column("check", no_wrap=True)
    t.add_column("status", no_wrap=True)
    t.add_column("numbers")
    t.add_column("s", justify="right", no_wrap=True)
    for c in report.checks:
        t.add_row(c.name, Text(c.status, style=STYLE[c.status]), Text(c.summary),
                  f"{c.timings.get('scan', 0) + c.timings.get('decode', 0):.1f}")
    return t
