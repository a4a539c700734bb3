"""Audit check 8, artefacts: defects that no real fake has and a detector would learn instead of the manipulation.

Per fake (up to `max_samples`), against its own source:
- uncovered: the share of frame area that is black or flat in the fake but textured in its source (a warp
  that left pixels unfilled), the worst sampled frame; blobs only (a morphological opening drops the
  scattered patches that compression flattens);
- frozen: the share of consecutive frame pairs that are one frame shown twice (no 16 px block changed) in the
  fake beyond those in the clip it was made from (held or duplicated frames);
- outside: for fakes pixel-aligned with a target clip or photo (face_swap, lip_sync), PSNR between fake
  and target outside the face box with a margin, where nothing should have changed.
Reals go through the same measures against their own sources (their numbers are the calibration: they must pass).
"""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path

import cv2
import numpy as np

from .. import faces, media
from .base import EXAMPLES, FAIL, PASS, WARN, AuditData, Check, measure, measured_nothing, sampled, source_item
from .frames import brightest
from ..errors import MediaError
from ..manifest import Record
from ..shared_types import TYPE_INFO

UNCOVERED_FAIL = 0.01  # share of the frame: the held-out reenactment defect was 1.4-10 %
FROZEN_FAIL = 0.05  # excess share of identical consecutive frames
OUTSIDE_FAIL_DB = 30.0  # our writer at its CRF keeps reals >= ~38 dB of their sources
FLAT_STD = 0.6  # grey levels: local std below this is flat
BLACK = 10  # all channels below this is black
TEXTURED_STD = 2.0
MOVED = 0.12  # of the frame: how far a moving head may carry the flat background beside it
COLOUR_TOL = 12  # grey levels a flat colour may differ from the reference's and still be the same background
FRAMES = 12
HELD_BLOCK = 16  # px: a frame shown twice changes no block of this size by HELD_LEVEL on average
HELD_LEVEL = 1.0  # grey levels; H.264 at CRF 18 re-encoding a repeated frame moves a block by < 0.5
OUTSIDE_MARGIN = 0.45  # of the face box, each side, around the landmarks: inside may change


VERSION = "4"  # of this check: bump when its verdict for the same dataset changes (2: held frames by 16 px blocks;
# 3: an image made from a video frame measured against that frame; 4: WARN, not PASS, when it measured nothing)
DECODES = True  # decodes media (capped by settings.max_samples)


def _local_std(gray: np.ndarray) -> np.ndarray:
    g = gray.astype(np.float32)
    m = cv2.blur(g, (7, 7))
    return np.sqrt(np.maximum(cv2.blur(g * g, (7, 7)) - m * m, 0))


def _flat_colour_nearby(fake: np.ndarray, ref: np.ndarray, gray_ref: np.ndarray) -> np.ndarray:
    """Pixels whose colour in `fake` lies, per channel, within the range of the reference's flat pixels less than
    MOVED of the frame away: flat background a moving head uncovered, there in the reference beside the head."""
    k = 2 * max(3, int(MOVED * max(fake.shape[:2]))) + 1
    flat = (_local_std(gray_ref) < 2 * FLAT_STD)[..., None]
    lo = cv2.erode(np.where(flat, ref, 255).astype(np.uint8), np.ones((k, k), np.uint8))
    hi = cv2.dilate(np.where(flat, ref, 0).astype(np.uint8), np.ones((k, k), np.uint8))
    f = fake.astype(np.int16)
    return ((f >= lo.astype(np.int16) - COLOUR_TOL) & (f <= hi.astype(np.int16) + COLOUR_TOL)).all(2)


def uncovered_share(fake: np.ndarray, ref: np.ndarray, aligned: bool) -> float:
    """Share of the fake frame that is black or flat there but textured (and not black) in the reference."""
    if ref.shape != fake.shape:
        ref = cv2.resize(ref, (fake.shape[1], fake.shape[0]), interpolation=cv2.INTER_AREA)
    gf, gr = cv2.cvtColor(fake, cv2.COLOR_RGB2GRAY), cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)
    bad_f = (_local_std(gf) < FLAT_STD) | (brightest(fake) < BLACK)
    ok_r = (_local_std(gr) >= TEXTURED_STD) & (brightest(ref) >= BLACK)
    if not aligned:  # the picture moved: the reference must be textured all around the pixel, and the flat colour
        r = max(3, int(0.03 * max(fake.shape[:2])))  # must be one the reference has nowhere near (a moved head
        ok_r = cv2.erode(ok_r.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0  # reveals wall that
        ok_r &= ~_flat_colour_nearby(fake, ref, gr)  # was beside it, not a hole)
    new = (bad_f & ok_r).astype(np.uint8)
    new = cv2.morphologyEx(new, cv2.MORPH_OPEN, np.ones((9, 9), np.uint8))
    return float(new.mean())


def held(a: np.ndarray, b: np.ndarray) -> bool:
    """Two grey frames are one frame shown twice when no HELD_BLOCK px block of them differs by HELD_LEVEL grey
    levels on average: a mean over the whole frame called a talking photo whose mouth alone moves 'frozen'."""
    d = cv2.absdiff(a, b).astype(np.float32)
    h, w = d.shape
    blocks = cv2.resize(d, (max(1, w // HELD_BLOCK), max(1, h // HELD_BLOCK)), interpolation=cv2.INTER_AREA)
    return float(blocks.max()) < HELD_LEVEL


def frozen_share(frames: list[np.ndarray]) -> float:
    """Share of consecutive pairs that are one frame shown twice (`held`)."""
    if len(frames) < 2:
        return 0.0
    g = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    return float(np.mean([held(a, b) for a, b in zip(g, g[1:])]))


def outside_psnr(fake: np.ndarray, ref: np.ndarray, lm: np.ndarray | None) -> float | None:
    """PSNR of fake vs ref outside the face box grown by OUTSIDE_MARGIN (None when no face or shapes differ)."""
    if lm is None or ref.shape != fake.shape:
        return None
    x0, y0, x1, y1 = faces.margin_box(faces.box_from_landmarks(lm), OUTSIDE_MARGIN, fake.shape)
    out = np.ones(fake.shape[:2], bool)
    out[y0:y1, x0:x1] = False
    if out.sum() < 0.05 * out.size:
        return None
    d = (fake.astype(np.float64) - ref.astype(np.float64))[out] ** 2
    return float("inf") if d.mean() == 0 else float(10 * np.log10(255.0**2 / d.mean()))


def artefact_task(task: tuple) -> tuple[dict | None, str | None]:
    """Measures of one record: (path, kind, ref path, ref kind, still frame, clip path, clip start, aligned,
    track file or '', with outside)."""
    path, kind, ref_path, ref_kind, still, clip_path, start, aligned, track_file, outside = task
    try:
        fake = [media.read_image(path)] if kind == "image" else media.read_frames(path)
        clip = media.read_frames(clip_path, start, len(fake)) if clip_path and kind == "video" else []
        if aligned and clip:
            refs = clip
        elif ref_kind == "image":
            refs = [media.read_image(ref_path)]
        else:
            refs = media.read_frames(ref_path, still, 1)
    except MediaError as e:
        return None, e.reason
    idx = [int((j + 0.5) * len(fake) / FRAMES) for j in range(min(FRAMES, len(fake)))]
    unc = [uncovered_share(fake[i], refs[min(i, len(refs) - 1)], aligned) for i in idx]
    track = np.load(track_file) if track_file and Path(track_file).exists() else None
    psnrs = []
    if outside:
        for i in idx:
            if i >= len(refs):
                continue
            lm = None
            if kind == "image" or track is None:
                face = faces.detect(refs[i])
                lm = face.landmarks if face is not None else None
            elif start + i < len(track) and not np.isnan(track[start + i]).any():
                lm = track[start + i]
            if (v := outside_psnr(fake[i], refs[i], lm)) is not None:
                psnrs.append(v)
    frozen = frozen_share(fake) - (frozen_share(clip) if clip else 0.0) if kind == "video" else 0.0
    return {"uncovered": max(unc), "uncovered_frames": int(sum(u > UNCOVERED_FAIL for u in unc)),
            "frames_sampled": len(idx), "frozen": round(frozen, 4),
            "outside_db": round(float(np.median(psnrs)), 2) if psnrs else None}, None


def _task(data: AuditData, r: Record) -> tuple | None:
    root = Path(data.index.root)
    roles = {s.role: s for s in r.sources}
    info = TYPE_INFO[r.type]
    found = source_item(data, r, info.reference_role)
    if found is None:
        return None
    ref, item = found
    clip = roles.get(info.pair_role)
    clip_path = str(root / clip.path) if clip is not None and media.kind_of(clip.path) == "video" else ""
    aligned = info.aligned and r.params.get("length", "trim_audio") != "loop_video"
    track = data.root / "cache" / "tracks" / f"{ref.sha256}.npy"
    outside = aligned and r.type != "real" and not r.degradations
    # an image made from a video frame is measured against that frame (`source_frame`), not the file's indexed
    # still: a real still of a clip's middle, against another moment, read as 1.7 % uncovered
    still = int(r.params.get("source_frame", item.still_frame)) if r.media.kind == "image" else item.still_frame
    return (str(data.media_path(r)), r.media.kind, str(root / ref.path), item.kind, still, clip_path,
            int(r.params.get("clip_start", 0)), aligned, str(track), outside)


def problems(m: dict) -> list[str]:
    out = []
    if m["uncovered"] > UNCOVERED_FAIL:
        out.append(f"uncovered {100 * m['uncovered']:.1f}% of the frame ({m['uncovered_frames']}/"
                   f"{m['frames_sampled']} sampled frames over {100 * UNCOVERED_FAIL:g}%)")
    if m["frozen"] > FROZEN_FAIL:
        out.append(f"frozen {100 * m['frozen']:.1f}% of frame pairs beyond its source")
    if m["outside_db"] is not None and m["outside_db"] < OUTSIDE_FAIL_DB:
        out.append(f"outside the face {m['outside_db']:.1f} dB PSNR from its target")
    return out


def _visual(r: Record) -> bool:
    return r.media.kind in ("image", "video")


def check(data: AuditData, pool: Executor | None) -> Check:
    recs = sampled(data, _visual)
    st = data.settings
    tasks = [(r, t) for r in recs if (t := _task(data, r)) is not None]
    done, unreadable = measure(pool, artefact_task, [r for r, _ in tasks], [t for _, t in tasks], "artefacts",
                               st.show_progress)
    failed, reals = [], {"uncovered": 0.0, "frozen": 0.0, "outside_db": None}
    per_record = {}
    for r, m in done:
        per_record[r.id] = m
        if r.label == 0:
            reals["uncovered"] = max(reals["uncovered"], m["uncovered"])
            reals["frozen"] = max(reals["frozen"], m["frozen"])
        if p := problems(m):
            failed.append(f"{r.id} ({r.type} {r.backend}, {r.path}): {'; '.join(p)}")
    fakes = [m for rid, m in per_record.items() if next(r for r, _ in tasks if r.id == rid).label == 1]
    status = FAIL if failed else PASS
    summary = (f"measured {len(per_record)} records ({len(fakes)} fakes; cap {st.max_samples}): {len(failed)} "
               f"with artefacts (uncovered > {100 * UNCOVERED_FAIL:g}%, frozen > {100 * FROZEN_FAIL:g}%, outside "
               f"< {OUTSIDE_FAIL_DB:g} dB); worst fake uncovered "
               f"{100 * max((m['uncovered'] for m in fakes), default=0):.2f}%, reals up to "
               f"{100 * reals['uncovered']:.2f}% uncovered / {100 * reals['frozen']:.1f}% frozen")
    if failed:
        summary += f"; e.g. {failed[0]}"
    if not per_record:  # a check that measured nothing has not passed
        status = WARN
        summary = measured_nothing(st, sum(map(_visual, data.records)), "images or videos",
                                   f"none of {len(recs)} sampled readable with a source to measure against"
                                   f" ({len(recs) - len(tasks)} without one, {len(unreadable)} unreadable)")
    details = {"thresholds": {"uncovered": UNCOVERED_FAIL, "frozen": FROZEN_FAIL, "outside_db": OUTSIDE_FAIL_DB},
               "failed": len(failed), "examples": failed[:EXAMPLES], "unreadable": unreadable[:EXAMPLES],
               "per_record": per_record}
    return Check("artefacts", status, summary, details)
