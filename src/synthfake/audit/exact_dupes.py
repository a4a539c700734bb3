"""Exact duplicates: outputs with equal sha256 FAIL; reals of one split re-encoded from the same source, clip and
chain, and outputs identical to a source file, WARN; one source file standing for too many reals FAILs."""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import Executor

from .base import EXAMPLES, FAIL, PASS, WARN, AuditData, Check
from ..manifest import Record

MIN_REALS_PER_SOURCE = 3  # a source standing for fewer reals than this never fails the share test
VERSION = "1"  # of this check: bump when its verdict for the same dataset changes
DECODES = False  # reads only records and file bytes


def face_identities(r: Record) -> set[str]:
    """A record's person identities (speech voices, shared by all splits by design, are left out)."""
    return {s.identity for s in r.sources if not s.identity.startswith("voice:")} | \
        {i for i in r.identities if not i.startswith("voice:")}


def _repeated_real(group: list[Record]) -> bool:
    """Reals of one split made from the same source, clip and chain: a WARN, not a FAIL (nothing leaks, no fake)."""
    keys = {(r.sources[0].sha256 if r.sources else "", r.params.get("clip_start"), r.params.get("clip_frames"),
             str(r.degradations)) for r in group}
    return all(r.type == "real" for r in group) and len(keys) == 1 and len({r.split for r in group}) == 1


def check(data: AuditData, pool: Executor | None) -> Check:
    """Outputs with equal sha256 (of the file on disk where it could be read, else the record's)."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in data.records:
        groups[data.actual_sha.get(r.id, r.sha256)].append(r)
    dups = sorted((g for g in groups.values() if len(g) > 1), key=len, reverse=True)
    sources = {it.sha256: it.path for it in data.index.items if it.sha256}
    copies = [f"{r.id} ({r.path}) is the source file {sources[s]} byte for byte"
              for s, g in groups.items() if s in sources for r in g]
    cross = sum(1 for g in dups if len({r.split for r in g}) > 1)
    in_groups = sum(len(g) for g in dups)
    repeated = [g for g in dups if _repeated_real(g)]
    real_src = Counter(r.sources[0].sha256 for r in data.records if r.label == 0 and r.sources)
    n_reals = sum(real_src.values())
    top_sha, top_n = real_src.most_common(1)[0] if real_src else ("", 0)
    top_share = top_n / n_reals if n_reals else 0.0
    over = top_n >= MIN_REALS_PER_SOURCE and top_share > data.settings.real_source_share
    status = FAIL if len(repeated) < len(dups) or over else WARN if dups or copies else PASS
    summary = (f"{len(dups)} group(s) of identical files ({in_groups} records, {cross} group(s) across splits, "
               f"{len(repeated)} of them repeated reals: one source photo or clip re-encoded again because the plan "
               f"holds more reals than distinct targets)" if dups
               else f"{len(groups)} distinct sha256 over {len(data.records)} records")
    if copies:
        summary += f"; {len(copies)} output(s) identical to a source file (not re-encoded by the writer)"
    if dups:
        g = dups[0]
        summary += f"; e.g. {', '.join(f'{r.id} ({r.split})' for r in g[:3])}"
    top_path = sources.get(top_sha, top_sha[:12])
    if over:
        summary += (f"; one source file, {top_path}, stands for {top_n} of {n_reals} reals ({100 * top_share:.0f}% > "
                    f"{100 * data.settings.real_source_share:.0f}%): add sources or lower --reals")
    elif n_reals:
        summary += f"; reals from {len(real_src)} distinct source files (most: {top_n} of {n_reals})"
    details = {"groups": len(dups), "records_in_groups": in_groups, "groups_across_splits": cross,
               "repeated_real_groups": len(repeated),
               "examples": [{"sha256": data.actual_sha.get(g[0].id, g[0].sha256), "records": len(g),
                             "ids": [r.id for r in g[:10]], "splits": sorted({r.split for r in g})}
                            for g in dups[:EXAMPLES]],
               "copies_of_sources": len(copies), "copy_examples": copies[:EXAMPLES],
               "real_sources": {"distinct": len(real_src), "reals": n_reals, "top_source": top_path,
                                "top_count": top_n, "top_share": round(top_share, 4),
                                "max_share": data.settings.real_source_share}}
    return Check("exact_duplicates", status, summary, details)
