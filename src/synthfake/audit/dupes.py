"""Audit checks 3 and 4: exact duplicates (equal sha256) and near duplicates (pHash of a few frames).

Near duplicates that the design makes are not flagged: a real and the fake made from the very same clip
(a declared pair: the real's `params.paired_with`) and samples of the same face identity in one split
(the same person's footage: same background, near-identical frames). Those are counted. Flagged: any
other pair within the Hamming distance, FAIL across splits (leakage), WARN within one split.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Executor

import numpy as np

from .base import EXAMPLES, FAIL, PASS, WARN, AuditData, Check, pool_map, spread
from .frames import phash_task
from ..manifest import Record

FRAMES_NEAR = 3  # frames hashed per video
BLOCK_PAIRS = 1 << 22


def face_identities(r: Record) -> set[str]:
    """A record's person identities (speech voices, shared by all splits by design, are left out)."""
    return {s.identity for s in r.sources if not s.identity.startswith("voice:")} | \
        {i for i in r.identities if not i.startswith("voice:")}


def _repeated_real(group: list[Record]) -> bool:
    """Reals of one split made from the same source, clip and chain: a WARN, not a FAIL (nothing leaks, no fake)."""
    keys = {(r.sources[0].sha256 if r.sources else "", r.params.get("clip_start"), r.params.get("clip_frames"),
             str(r.degradations)) for r in group}
    return all(r.type == "real" for r in group) and len(keys) == 1 and len({r.split for r in group}) == 1


def check_exact(data: AuditData) -> Check:
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
    status = FAIL if len(repeated) < len(dups) else WARN if dups or copies else PASS
    summary = (f"{len(dups)} group(s) of identical files ({in_groups} records, {cross} group(s) across splits, "
               f"{len(repeated)} of them repeated reals: one source photo or clip re-encoded again because the plan "
               f"holds more reals than distinct targets)" if dups
               else f"{len(groups)} distinct sha256 over {len(data.records)} records")
    if copies:
        summary += f"; {len(copies)} output(s) identical to a source file (not re-encoded by the writer)"
    if dups:
        g = dups[0]
        summary += f"; e.g. {', '.join(f'{r.id} ({r.split})' for r in g[:3])}"
    details = {"groups": len(dups), "records_in_groups": in_groups, "groups_across_splits": cross,
               "repeated_real_groups": len(repeated),
               "examples": [{"sha256": data.actual_sha.get(g[0].id, g[0].sha256), "records": len(g),
                             "ids": [r.id for r in g[:10]], "splits": sorted({r.split for r in g})}
                            for g in dups[:EXAMPLES]],
               "copies_of_sources": len(copies), "copy_examples": copies[:EXAMPLES]}
    return Check("exact_duplicates", status, summary, details)


def near_pairs(hashes: np.ndarray, owner: np.ndarray, max_distance: int) -> dict[tuple[int, int], int]:
    """(record a, record b) -> smallest Hamming distance between any of their frames, for a < b within reach.

    Compared in row blocks of the upper triangle, about 4M hash pairs (32 MB) at a time.
    """
    out: dict[tuple[int, int], int] = {}
    n = len(hashes)
    block = max(1, BLOCK_PAIRS // max(1, n))
    for s in range(0, n, block):
        d = np.bitwise_count(hashes[s:s + block, None] ^ hashes[None, s:])
        for i, j in zip(*np.nonzero(d <= max_distance)):
            a, b = sorted((int(owner[s + i]), int(owner[s + j])))
            if a != b:
                out[(a, b)] = min(out.get((a, b), 64), int(d[i, j]))
    return out


def _declared(a: Record, b: Record) -> bool:
    return a.params.get("paired_with") == b.id or b.params.get("paired_with") == a.id


def check_near(data: AuditData, pool: Executor | None) -> Check:
    st = data.settings
    visual = sorted((r for r in data.records if r.media.kind in ("image", "video")), key=lambda r: r.id)
    recs = spread(visual, st.max_samples)
    tasks = [(str(data.media_path(r)), r.media.kind, FRAMES_NEAR) for r in recs]
    results = pool_map(pool, phash_task, tasks, "near duplicates: pHash", st.show_progress)
    hashes, owner, unreadable = [], [], []
    for k, (value, error) in enumerate(results):
        if error:
            unreadable.append(f"{recs[k].id}: {error}")
            continue
        hashes += value
        owner += [k] * len(value)
    pairs = near_pairs(np.array(hashes, np.uint64), np.array(owner, np.int64), st.hamming)
    kinds: dict[str, list[str]] = {"cross_split": [], "unexplained_within_split": [], "same_identity": [],
                                   "declared_pairs": [], "declared_pairs_across_splits": [], "exact_copies": []}
    for (a, b), d in sorted(pairs.items(), key=lambda kv: kv[1]):
        ra, rb = recs[a], recs[b]
        text = f"{ra.id} ({ra.split} {ra.type}) ~ {rb.id} ({rb.split} {rb.type}): distance {d}"
        if data.actual_sha.get(ra.id, ra.sha256) == data.actual_sha.get(rb.id, rb.sha256):
            kinds["exact_copies"].append(text)  # the exact-duplicate check reports these
        elif _declared(ra, rb):
            kinds["declared_pairs" if ra.split == rb.split else "declared_pairs_across_splits"].append(text)
        elif ra.split != rb.split:
            kinds["cross_split"].append(text)
        elif face_identities(ra) & face_identities(rb):
            kinds["same_identity"].append(text)
        else:
            kinds["unexplained_within_split"].append(text)
    n = {k: len(v) for k, v in kinds.items()}
    status = FAIL if n["cross_split"] else WARN if n["unexplained_within_split"] else PASS
    summary = (f"hashed {len(recs) - len(unreadable)}/{len(visual)} records (cap {st.max_samples}, "
               f"{FRAMES_NEAR} frames a video, Hamming <= {st.hamming}): {n['cross_split']} pair(s) across "
               f"splits, {n['unexplained_within_split']} unexplained within a split; not flagged: "
               f"{n['declared_pairs']} declared real/fake pairs, {n['same_identity']} same-identity pairs "
               f"in one split")
    if n["declared_pairs_across_splits"]:
        summary += f", {n['declared_pairs_across_splits']} declared pair(s) split apart (see identity)"
    first = kinds["cross_split"] or kinds["unexplained_within_split"]
    if first:
        summary += f"; e.g. {first[0]}"
    details = {"records": len(visual), "hashed": len(recs) - len(unreadable), "cap": st.max_samples,
               "frames_per_video": FRAMES_NEAR, "hamming": st.hamming, "counts": n,
               "unreadable": unreadable[:EXAMPLES], "examples": {k: v[:EXAMPLES] for k, v in kinds.items() if v}}
    return Check("near_duplicates", status, summary, details)
