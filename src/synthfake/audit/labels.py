"""Audit check 7, label noise: fakes that are (partly) real frames.

From the records: a fake whose `manipulated_frames / frames` is below the plan's minimum. From the media:
sampled fake frames compared with the same frames of the fake's target (its pair-role source: the face a
swap lands on, the driving video, the lip-sync target, the morph's base). A frame with almost no pixel
changed is that real frame, labelled fake; a fake whose sampled frames are mostly such frames FAILs.
"""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path

import numpy as np

from .. import media
from .base import EXAMPLES, FAIL, PASS, WARN, AuditData, Check, measured_nothing, pool_map, spread
from .frames import UNCHANGED_LEVEL, UNCHANGED_SHARE, unchanged_task
from ..manifest import Record
from ..shared_types import PAIR_ROLE

FRAMES_LABEL = 3  # frames re-checked per fake video
MOSTLY_REAL = 0.5  # a fake with at least this share of its sampled frames unchanged is a real sample


VERSION = "2"  # of this check: bump when its verdict for the same dataset changes
# (2: WARN, not PASS, when it measured nothing)
DECODES = True  # decodes media (capped by settings.max_samples)


def _task(data: AuditData, r: Record, root: Path) -> tuple | None:
    """The re-check task of a fake, or None when it has no target of its own media kind to compare with."""
    src = next((s for s in r.sources if s.role == PAIR_ROLE.get(r.type)), None)
    if src is None or media.kind_of(src.path) != r.media.kind:
        return None
    return (str(data.media_path(r)), r.media.kind, str(data.source_path(src)), int(r.params.get("clip_start", 0)),
            FRAMES_LABEL)


def check(data: AuditData, pool: Executor | None) -> Check:
    st, minimum = data.settings, data.plan.min_manipulated
    fakes = sorted((r for r in data.records if r.label == 1), key=lambda r: r.id)
    low = [f"{r.id}: {r.manipulated_frames}/{r.media.frames} frames manipulated" for r in fakes
           if r.manipulated_frames < minimum * max(1, r.media.frames)]
    root = Path(data.index.root)
    sampled = spread(fakes, st.max_samples)
    tasks = [(r, t) for r in sampled if (t := _task(data, r, root)) is not None]
    results = pool_map(pool, unchanged_task, [t for _, t in tasks], "label noise: re-check", st.show_progress)
    mostly_real, partly, skipped, unreadable, medians = [], [], [], [], []
    for (r, _), (shares, fake_error, source_error) in zip(tasks, results):
        if fake_error:  # the integrity check fails unreadable outputs
            unreadable.append(f"{r.id}: {fake_error}")
            continue
        if source_error or not shares:
            skipped.append(f"{r.id}: {source_error or 'no target frame at the sampled positions'}")
            continue
        unchanged = sum(s < UNCHANGED_SHARE for s in shares)
        medians.append(float(np.median(shares)))
        text = f"{r.id} ({r.type}): {unchanged}/{len(shares)} sampled frames equal to the target's"
        if unchanged >= MOSTLY_REAL * len(shares):
            mostly_real.append(text)
        elif unchanged and r.manipulated_frames >= r.media.frames:
            partly.append(text + f", record says all {r.media.frames} manipulated")
    status = FAIL if low or mostly_real else WARN if partly or skipped else PASS
    checked = len(tasks) - len(skipped) - len(unreadable)
    summary = (f"{len(fakes)} fakes, {len(low)} below the plan's {minimum:.0%} manipulated frames; re-checked "
               f"{checked} (cap {st.max_samples}, {FRAMES_LABEL} frames a video) against their target: "
               f"{len(mostly_real)} mostly real frames, {len(partly)} with unchanged frames their record denies")
    if medians:
        summary += f"; changed-pixel share min {min(medians):.4f} (unchanged below {UNCHANGED_SHARE})"
    if skipped:
        summary += f"; {len(skipped)} not re-checked (e.g. {skipped[0]})"
    if unreadable:
        summary += f"; {len(unreadable)} unreadable (see integrity)"
    first = low or mostly_real
    if first:
        summary += f"; e.g. {first[0]}"
    # a check (or its media part) that measured nothing has not passed: no fakes, or none re-checked though the
    # cap cut them all or every one it sampled was unreadable
    nothing = None
    if not fakes:
        nothing = summary = measured_nothing(st, 0, "fakes", "")
    elif not checked and (st.max_samples == 0 or tasks):
        nothing = "re-check against their target " + measured_nothing(
            st, len(fakes), "fakes", f"none of {len(tasks)} comparable sampled fakes readable")
        summary = f"{nothing}; {summary}"
    if nothing and status == PASS:
        status = WARN
    details = {"min_manipulated": minimum, "fakes": len(fakes), "below_minimum": len(low),
               "below_minimum_examples": low[:EXAMPLES], "cap": st.max_samples, "frames_per_video": FRAMES_LABEL,
               "rechecked": checked, "not_comparable": len(sampled) - len(tasks), "skipped": skipped[:EXAMPLES],
               "unreadable": unreadable[:EXAMPLES],
               "mostly_real": len(mostly_real), "mostly_real_examples": mostly_real[:EXAMPLES],
               "partly_unchanged": len(partly), "partly_unchanged_examples": partly[:EXAMPLES],
               "changed_share_min": round(min(medians), 5) if medians else None,
               "unchanged_level": UNCHANGED_LEVEL, "unchanged_share": UNCHANGED_SHARE}
    if nothing:
        details["not_measured"] = nothing
    return Check("label_noise", status, summary, details)
