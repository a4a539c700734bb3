"""Near duplicates (pHash of a few frames); exact ones (equal sha256) are `exact_dupes`.

Near duplicates that the design makes are not flagged: a real and the fake made from the very same clip
(a declared pair: the real's `params.paired_with`) and samples of the same face identity in one split
(the same person's footage: same background, near-identical frames). Those are counted. Flagged: any
other pair within the Hamming distance, FAIL across splits (leakage), WARN within one split; and fakes of
one split whose sampled frames all differ by under IDENTICAL_GREY grey levels even where they differ most (the
same output twice: a face swapped onto one photo twice, not two faces swapped onto it), FAIL when more than
`near_identical_fail` of the fakes are such twins. Twins made by one backend from the same people in the same
roles and clip are the plan repeating faces because their split has run out of distinct ones: a WARN that names
them (add sources), not counted towards the FAIL.
"""

from __future__ import annotations

from concurrent.futures import Executor

import cv2
import numpy as np

from .base import EXAMPLES, FAIL, PASS, WARN, AuditData, Check, measured_nothing, pool_map, spread
from .exact_dupes import face_identities
from .frames import phash_task
from .. import media
from ..manifest import Record

FRAMES_NEAR = 3  # frames hashed per video
IDENTICAL_GREY = 4.0  # frames whose most different block (1/64 of the frame) differs by less: the same output
# (measured: one swap drawn twice with other blend parameters 1.3-3.1; two expressions of one source 4.3-8.6)
BLOCK_PAIRS = 1 << 22
VERSION = "2"  # of this check: bump when its verdict for the same dataset changes
# (2: WARN, not PASS, when it measured nothing)
DECODES = True  # decodes media (capped by settings.max_samples)



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


def check(data: AuditData, pool: Executor | None) -> Check:
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
    hashed = len(recs) - len(unreadable)
    if not hashed:  # a check that measured nothing has not passed
        status, summary = WARN, measured_nothing(st, len(visual), "images or videos",
                                                 f"none of {len(recs)} sampled readable (see integrity)")
    details = {"records": len(visual), "hashed": hashed, "cap": st.max_samples,
               "frames_per_video": FRAMES_NEAR, "hamming": st.hamming, "counts": n,
               "near_identical_fakes": len(twins), "near_identical_share": round(twin_share, 4),
               "unreadable": unreadable[:EXAMPLES], "examples": {k: v[:EXAMPLES] for k, v in kinds.items() if v}}
    return Check("near_duplicates", status, summary, details)
