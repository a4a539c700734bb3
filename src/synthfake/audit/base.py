"""What every audit check shares: the verdict with its numbers, the loaded dataset, sampling and the pool."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..dataset import DatasetFiles
from ..manifest import Failure, Record
from ..plan import SampleTable
from ..pools import Pool, process_pool
from ..progress import sample_progress

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
EXAMPLES = 20  # examples listed per kind of problem; the counts beside them are always complete
_RANK = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass
class Check:
    """One check's verdict, a one-line summary, the numbers behind it, and seconds per part."""

    name: str
    status: str
    summary: str
    details: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Settings:
    """Thresholds and caps of one audit; all of them go into the report."""

    tolerance: float = 0.02  # balance: largest allowed deviation of a share from the plan's
    max_samples: int = 300  # decoding checks look at no more than this many records each
    workers: int = 2  # processes for the decoding checks (0: in this process)
    hamming: int = 8  # near duplicates: pHash distance (of 64 bits) at or below which two frames match
    face_distance: float | None = None  # face check flag distance; None: the sources index's identity threshold
    auc_fail: float = 0.75  # confounds: single-property AUC at or beyond this (or 1 - this) fails
    confound_p: float = 0.05  # confounds: ...and only when a Mann-Whitney U test finds it this unlikely by chance
    near_identical_fail: float = 0.02  # near duplicates: FAIL when more than this share of fakes is near-identical
    real_source_share: float = 0.25  # exact duplicates: FAIL when one source file stands for more of the reals
    checks: tuple[str, ...] | None = None  # the checks to run after integrity (None: all of them)
    show_progress: bool = True


@dataclass
class AuditData(DatasetFiles):
    """The dataset as the checks see it: plan, layout, sources index, parsed records and actual file hashes."""

    layout: SampleTable
    records: list[Record]  # schema-valid records, first one per id
    failures: list[Failure]
    actual_sha: dict[str, str]  # record id -> sha256 of the file on disk (absent: file missing or unreadable)
    settings: Settings


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=_RANK.__getitem__, default=PASS)


def examples(items: list, n: int = EXAMPLES) -> list:
    return items[:n]


def spread(items: list, cap: int) -> list:
    """At most `cap` items spread evenly over the list (deterministic), in list order."""
    if len(items) <= cap:
        return list(items)
    return [items[int((j + 0.5) * len(items) / cap)] for j in range(cap)]


def sampled(data: AuditData, keep: Callable[[Record], bool]) -> list[Record]:
    """The records `keep` accepts, in id order, at most settings.max_samples of them spread evenly."""
    return spread(sorted((r for r in data.records if keep(r)), key=lambda r: r.id), data.settings.max_samples)


def measured_nothing(settings: Settings, candidates: int, what: str, otherwise: str) -> str:
    """The summary of a check (or part) that measured none of its `candidates` records of `what`: why. Such a check
    says WARN, never PASS: no records of the kind, the --max-samples cap at 0, or `otherwise` (none readable...)."""
    if not candidates:
        why = f"no {what}"
    elif settings.max_samples == 0:
        why = f"--max-samples 0 ({candidates} {what}, none sampled)"
    else:
        why = otherwise
    return f"measured nothing: {why}"


def one_class(n_real: int, n_fake: int) -> str:
    """Why no real/fake AUC can be computed over n_real reals and n_fake fakes (one of them 0)."""
    if not n_real and not n_fake:
        return "no records"
    return f"one class only ({n_fake} fakes, no reals)" if n_fake else f"one class only ({n_real} reals, no fakes)"


def make_pool(workers: int) -> Pool | None:
    """Worker processes that have the frame code and dlib loaded (pools.process_pool; None: inline)."""
    if workers <= 0:
        return None
    return process_pool(workers, "synthfake.audit.warm")


def pool_map(pool: Executor | None, fn: Callable, tasks: list, label: str, show: bool) -> list:
    """fn over tasks, in order, in the pool (or inline), with a progress bar."""
    out = []
    with sample_progress(len(tasks), label, show and bool(tasks)) as advance:
        if pool is None:
            for t in tasks:
                out.append(fn(t))
                advance()
        else:
            for r in pool.map(fn, tasks, chunksize=max(1, min(8, len(tasks) // 16))):
                out.append(r)
                advance()
    return out


def measure(pool: Executor | None, fn: Callable, recs: list[Record], tasks: list, label: str,
            show: bool) -> tuple[list[tuple[Record, object]], list[str]]:
    """fn over the tasks (one a record) with pool_map: (record, measurement) of each one read, and an 'id: error'
    line for each one that could not be."""
    measured, unreadable = [], []
    for r, (m, err) in zip(recs, pool_map(pool, fn, tasks, label, show)):
        if err:
            unreadable.append(f"{r.id}: {err}")
        else:
            measured.append((r, m))
    return measured, unreadable


def source_item(data: AuditData, r: Record, role: str | None):
    """(the record's source in `role`, its sources-index entry), or None when it has no such source or the index
    no longer lists it (the check then measures the record alone)."""
    ref = next((s for s in r.sources if s.role == role), None) if role else None
    if ref is None:
        return None
    try:
        return ref, data.index.get(ref.path)
    except Exception:
        return None
