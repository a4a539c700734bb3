"""Audit check 2, balance: shares per type, label, backend, split and type within each split, vs the plan.

The plan's own exact counts (largest remainder per type, splits by identity) are the reference, so a
complete dataset deviates by 0. A share may deviate by `tolerance`, or by one sample of its group where
the group is small (one sample moves a share of n records by 1/n; that much is rounding, not imbalance).
"""

from __future__ import annotations

from collections import Counter

from concurrent.futures import Executor

from .base import FAIL, PASS, AuditData, Check
from ..plan import SampleTable

EPS = 1e-9


VERSION = "1"  # of this check: bump when its verdict for the same dataset changes
DECODES = False  # reads only records and file bytes


def planned_groups(layout: SampleTable) -> dict[tuple[str, str], Counter]:
    """The plan's exact counts per dimension, from its (type, backend, split) counts (a real in its pair's split):
    no pass over the samples, so a plan of a million samples costs what one of a hundred does."""
    return _groups((t, "real" if t == "real" else "fake", b, s, c) for (t, b, s), c in layout.group_counts().items())


def _groups(rows) -> dict[tuple[str, str], Counter]:
    """Counters per dimension from (type, label, backend, split, count) rows; 'split/type' holds one per split."""
    dims: dict[tuple[str, str], Counter] = {("type", ""): Counter(), ("label", ""): Counter(),
                                            ("backend", ""): Counter(), ("split", ""): Counter()}
    for t, label, backend, split, c in rows:
        dims[("type", "")][t] += c
        dims[("label", "")][label] += c
        dims[("backend", "")][backend] += c
        dims[("split", "")][split] += c
        dims.setdefault(("split/type", split), Counter())[t] += c
    return dims


def compare(planned: dict, observed: dict, tolerance: float) -> list[dict]:
    """One row per (dimension, key): counts, shares, deviation and what is allowed."""
    out = []
    for dim in sorted(set(planned) | set(observed)):
        p, o = planned.get(dim, Counter()), observed.get(dim, Counter())
        np_, no = sum(p.values()), sum(o.values())
        allowed = max(tolerance, 1 / no if no else 0.0)
        for key in sorted(set(p) | set(o)):
            ps = p[key] / np_ if np_ else 0.0
            os_ = o[key] / no if no else 0.0
            dev = abs(os_ - ps)
            status = FAIL if dev > allowed + EPS else PASS
            name = dim[0] if not dim[1] else f"{dim[1]}/type"
            out.append({"dimension": name, "key": key, "planned": p[key], "observed": o[key],
                        "planned_share": round(ps, 4), "observed_share": round(os_, 4),
                        "deviation": round(dev, 4), "allowed": round(allowed, 4), "status": status})
    return out


def check(data: AuditData, pool: Executor | None) -> Check:
    """Shares per type, real/fake, backend, split and type within a split against the plan's exact counts."""
    layout, records, tolerance = data.layout, data.records, data.settings.tolerance
    planned = planned_groups(layout)
    observed = _groups((t, "real" if label == 0 else "fake", b, s, c) for (t, label, b, s), c in
                       Counter((r.type, r.label, r.backend, r.split) for r in records).items())
    rows = compare(planned, observed, tolerance)
    bad = [r for r in rows if r["status"] == FAIL]
    status = FAIL if bad else PASS
    top = max(rows, key=lambda r: r["deviation"] - r["allowed"], default=None)
    summary = (f"{len(records)}/{layout.total} records; largest deviation {top['deviation']:.3f} "
               f"({top['dimension']} {top['key']}: share {top['observed_share']:.3f} of {top['observed']} made vs "
               f"{top['planned_share']:.3f} of {top['planned']} planned, allowed {top['allowed']:.3f})"
               if top else "no records")
    summary += f"; {len(bad)} share(s) beyond what is allowed" if bad else ""
    return Check("balance", status, summary, {"tolerance": tolerance, "rows": rows})
