"""Audit check 5, identity leakage: by name (an identity in records of two splits) and by face.

Names come from the records' sources. Speech voices ("voice:" identities) are shared by all splits by
design and left out. The face check embeds the largest face of a few frames of sampled held-out (not
train) outputs with dlib and compares them with the centroid of each train identity, taken from the
sources index's per-file embeddings. Held-out outputs are compared with train identities only: a held-out
face swap shows a source face of its own split by construction. A face closer than the flag distance to a
train identity is one person filed under two names.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Executor

import numpy as np

from .base import EXAMPLES, FAIL, PASS, WARN, AuditData, Check, measure, measured_nothing, spread
from .exact_dupes import face_identities
from .frames import face_task
from ..plan import Plan

FRAMES_FACE = 1  # frames embedded per held-out video (the middle one); the cap bounds the records


VERSION = "2"  # of this check: bump when its verdict for the same dataset changes
# (2: WARN, not PASS, when it measured nothing)
DECODES = True  # decodes media (capped by settings.max_samples)


def train_split(plan: Plan) -> str:
    """'train' where the plan has it, else its largest split."""
    return "train" if "train" in plan.splits else max(plan.splits, key=plan.splits.get)


def check_names(data: AuditData) -> dict:
    """Identities found in records of more than one split, with example ids per split."""
    where: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    voices = set()
    for r in data.records:
        voices |= {s.identity for s in r.sources if s.identity.startswith("voice:")}
        for ident in face_identities(r):
            where[ident][r.split].append(r.id)
    leaks = [{"identity": ident, "splits": {s: {"records": len(ids), "ids": ids[:5]} for s, ids in sorted(by.items())}}
             for ident, by in sorted(where.items()) if len(by) > 1]
    return {"identities": len(where), "leaks": len(leaks), "leak_examples": leaks[:EXAMPLES],
            "voices_excluded": sorted(voices)}


def train_centroids(data: AuditData, train: str) -> dict[str, np.ndarray]:
    """Mean sources-index embedding per identity used by train records."""
    ids = {i for r in data.records if r.split == train for i in face_identities(r)}
    embs: dict[str, list] = defaultdict(list)
    for it in data.index.items:
        if it.identity in ids and it.embedding is not None and it.excluded is None:
            embs[it.identity].append(it.embedding)
    return {k: np.mean(np.array(v, np.float32), axis=0) for k, v in embs.items()}


def check_faces(data: AuditData, pool: Executor | None) -> dict:
    """Held-out output faces against train identity centroids: per-record median distance of frames."""
    st = data.settings
    train = train_split(data.plan)
    flag = st.face_distance if st.face_distance is not None else data.index.identity_threshold
    cents = train_centroids(data, train)
    held = sorted((r for r in data.records if r.split != train and r.media.kind in ("image", "video")),
                  key=lambda r: r.id)
    recs = spread(held, st.max_samples) if cents else []
    tasks = [(str(data.media_path(r)), r.media.kind, FRAMES_FACE) for r in recs]
    done, unreadable = measure(pool, face_task, recs, tasks, "identity: faces", st.show_progress)
    names = sorted(cents)
    mat = np.stack([cents[n] for n in names]) if names else np.zeros((0, 128), np.float32)
    measured, flagged, no_face = [], [], 0
    for r, embs in done:
        if not embs:
            no_face += 1
            continue
        d = np.linalg.norm(np.array(embs, np.float32)[:, None, :] - mat[None], axis=2)  # frames x identities
        per_frame = d.min(axis=1)
        dist = float(np.median(per_frame))
        nearest = names[int(d[int(per_frame.argmin())].argmin())]
        measured.append({"id": r.id, "split": r.split, "distance": round(dist, 3), "nearest_train": nearest})
        if dist < flag:
            flagged.append(measured[-1])
    dists = [m["distance"] for m in measured]
    return {"train_split": train, "train_identities_with_embedding": len(cents), "flag_distance": flag,
            "held_out_records": len(held), "sampled": len(recs), "cap": st.max_samples,
            "frames_per_video": FRAMES_FACE, "with_face": len(measured), "no_face": no_face,
            "unreadable": unreadable[:EXAMPLES], "flagged": len(flagged), "flagged_examples": flagged[:EXAMPLES],
            "distance_min": min(dists) if dists else None,
            "distance_median": round(float(np.median(dists)), 3) if dists else None,
            "distances": sorted(measured, key=lambda m: m["distance"])[:EXAMPLES]}


def check(data: AuditData, pool: Executor | None) -> Check:
    """Identity names in more than one split, and held-out output faces as close as one person to a train identity."""
    names, faces_ = check_names(data), check_faces(data, pool)
    status = FAIL if names["leaks"] or faces_["flagged"] else PASS
    summary = f"{names['identities']} identities, {names['leaks']} in more than one split"
    summary += "".join(f" (e.g. {e['identity']} in {', '.join(e['splits'])})" for e in names["leak_examples"][:1])
    summary += (f"; faces: {faces_['with_face']} of {faces_['sampled']} sampled held-out outputs "
                f"(cap {faces_['cap']}) vs {faces_['train_identities_with_embedding']} train identities, "
                f"closest {faces_['distance_min'] if faces_['distance_min'] is not None else 'n/a'}, "
                f"{faces_['flagged']} below {faces_['flag_distance']}")
    summary += "".join(f" (e.g. {f['id']} in {f['split']} is {f['nearest_train']} at {f['distance']})"
                       for f in faces_["flagged_examples"][:1])
    summary += f"; {len(names['voices_excluded'])} speech voice(s) excluded (shared by all splits by design)"
    details = {"names": names, "faces": faces_}
    # a check (or its face part) that measured nothing has not passed: no identity at all, or held-out outputs
    # to compare with train identities of which none was decoded (the cap at 0, or none readable)
    nothing = None
    if not names["identities"] and not faces_["train_identities_with_embedding"]:
        nothing = summary = measured_nothing(data.settings, 0, "face identities in the records", "")
    elif faces_["train_identities_with_embedding"] and faces_["held_out_records"] and \
            not faces_["with_face"] + faces_["no_face"]:
        nothing = "faces " + measured_nothing(data.settings, faces_["held_out_records"], "held-out outputs",
                                              f"none of {faces_['sampled']} sampled readable")
        summary = f"{nothing}; {summary}"
    if nothing:
        details["not_measured"] = nothing
        status = WARN if status == PASS else status
    return Check("identity", status, summary, details)
