"""Audit checks 3 and 4: exact duplicates (equal sha256) and near duplicates (pHash of a few frames).

Near duplicates that the design makes are not flagged: a real and the fake made from the very same clip
(a declared pair: the real's `params.paired_with`) and samples of the same face identity in one split
(the same person's footage: same background, near-identical frames). Those are counted. Flagged: any
other pair within the Hamming distance, FAIL across splits (leakage), WARN within one split; and fakes of
one split whose sampled frames all differ by under IDENTICAL_GREY grey levels even where they differ most (the
same output twice: a face swapped onto one photo twice, not two faces swapped onto it), FAIL when more than
`near_identical_fail` of the fakes are such twins. Twins made by one backend from the same people in the same
roles and clip are the plan repeating faces because their split has run out of distinct ones: a WARN that names
them (add sources), not counted towards the FAIL. The exact check also FAILs when one source file stands for
more than `real_source_share` of the reals.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import Executor

import cv2
import numpy as np

from .base import EXAMPLES, FAIL, PASS, WARN, AuditData, Check, pool_map, spread
from .frames import phash_task
from .. import media
from ..manifest import Record

FRAMES_NEAR = 3  # frames hashed per video
IDENTICAL_GREY = 4.0  # frames whose most different block (1/64 of the frame) differs by less: the same output
# (measured: one swap drawn twice with other blend parameters 1.3-3.1; two expressions of one source 4.3-8.6)
MIN_REALS_PER_SOURCE = 3  # a source standing for fewer reals than this never fails the share test
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


def frames_distance(a: Record, b: Record, data: AuditData) -> float:
    """Grey-level difference of two records' FRAMES_NEAR sampled frames where they differ most: the mean over the
    worst of 8x8 blocks of 64 px copies, the largest over the frames (inf when shapes differ or unreadable). A
    frame-wide mean would call two different faces on one target photo the same, since the face is a tenth of the
    frame; one frame would call two reenactments of one photo the same, since both start from the photo."""
    try:
        fa = [f for _, f in media.frames_of(data.media_path(a), FRAMES_NEAR, a.media.kind)]
        fb = [f for _, f in media.frames_of(data.media_path(b), FRAMES_NEAR, b.media.kind)]
    except Exception:
        return float("inf")
    if len(fa) != len(fb) or any(x.shape != y.shape for x, y in zip(fa, fb)):
        return float("inf")
    return max(worst_block_difference(x, y) for x, y in zip(fa, fb))


def same_sources(a: Record, b: Record) -> bool:
    """Made by one backend from the same people in the same roles (the very same files, or another photo or
    clip of each person) and the same clip: the plan repeated a draw of faces. Two faces of one person swapped
    onto one target differ only in skin texture (the target gives the geometry): a test split of two people
    drew talk_d9's still and its video onto photo_s1, 3.9 grey levels apart."""
    def key(r: Record):
        return (r.backend, sorted((s.role, s.identity) for s in r.sources), r.params.get("clip_start"))
    return key(a) == key(b)


def worst_block_difference(a: np.ndarray, b: np.ndarray, side: int = 64, blocks: int = 8) -> float:
    """Mean absolute grey difference in the most different of blocks x blocks cells of side-px copies."""
    ga, gb = (cv2.resize(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), (side, side), interpolation=cv2.INTER_AREA)
              .astype(np.float32) for x in (a, b))
    k = side // blocks
    return float(np.abs(ga - gb).reshape(blocks, k, blocks, k).mean((1, 3)).max())


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
                                   "declared_pairs": [], "declared_pairs_across_splits": [], "exact_copies": [],
                                   "near_identical_fakes": [], "repeated_sources": []}
    twins: set[str] = set()
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
            if ra.label == rb.label == 1 and d <= 2 and (g := frames_distance(ra, rb, data)) < IDENTICAL_GREY:
                twin = f"{text}, frames at most {g:.2f} grey levels apart"
                if same_sources(ra, rb):
                    kinds["repeated_sources"].append(f"{twin} ({ra.backend}: same people)")
                else:
                    kinds["near_identical_fakes"].append(twin)
                    twins |= {ra.id, rb.id}
        else:
            kinds["unexplained_within_split"].append(text)
    n = {k: len(v) for k, v in kinds.items()}
    n_fakes = sum(r.label == 1 for r in recs)
    twin_share = len(twins) / n_fakes if n_fakes else 0.0
    too_many = twin_share > st.near_identical_fail
    status = FAIL if n["cross_split"] or too_many else \
        WARN if n["unexplained_within_split"] or n["repeated_sources"] else PASS
    summary = (f"hashed {len(recs) - len(unreadable)}/{len(visual)} records (cap {st.max_samples}, "
               f"{FRAMES_NEAR} frames a video, Hamming <= {st.hamming}): {n['cross_split']} pair(s) across "
               f"splits, {n['unexplained_within_split']} unexplained within a split; not flagged: "
               f"{n['declared_pairs']} declared real/fake pairs, {n['same_identity']} same-identity pairs "
               f"in one split")
    if n["declared_pairs_across_splits"]:
        summary += f", {n['declared_pairs_across_splits']} declared pair(s) split apart (see identity)"
    summary += (f"; {len(twins)} of {n_fakes} fakes near-identical to another fake of their split "
                f"({100 * twin_share:.1f}%, FAIL over {100 * st.near_identical_fail:g}%)")
    if n["repeated_sources"]:
        summary += (f"; {n['repeated_sources']} pair(s) of near-identical fakes repeat the same people in the same "
                    f"roles (the plan repeats a draw once its split has no other combination: add sources)")
    first = kinds["cross_split"] or (kinds["near_identical_fakes"] if too_many else
                                     kinds["unexplained_within_split"] or kinds["repeated_sources"])
    if first:
        summary += f"; e.g. {first[0]}"
    details = {"records": len(visual), "hashed": len(recs) - len(unreadable), "cap": st.max_samples,
               "frames_per_video": FRAMES_NEAR, "hamming": st.hamming, "counts": n,
               "near_identical_fakes": len(twins), "near_identical_share": round(twin_share, 4),
               "unreadable": unreadable[:EXAMPLES], "examples": {k: v[:EXAMPLES] for k, v in kinds.items() if v}}
    return Check("near_duplicates", status, summary, details)
