"""Audit check 9, signal confounds: what decoded pixels and audio tell apart that the records' properties do not.

Per image: 8x8 blockiness (the JPEG grid) inside the face box and outside it. Per video with audio: spectral
roll-off (the frequency under 99.9 % of the energy: a band-limited voice), loudness (RMS dBFS), stereo width
(RMS of L-R over RMS of L+R: 0 for dual mono) and duration. Each property alone is scored as in `confounds`
(ROC AUC, fake against real) over all fakes and reals of the media kind, and per fake type against the reals
paired with that type's fakes (`paired_with`), so a shortcut of one backend is not averaged away by the others.
FAIL when the AUC is telling (>= auc_fail or <= 1 - auc_fail) and a two-sided Mann-Whitney U test finds the split
unlikely by chance (p < confound_p): these values follow the content, so a few samples a side prove nothing.
A silent track (under SILENT_DBFS) has no level, band or width: only its silence is compared.

Audio is also compared pair by pair: a fake keeps its paired real's audio (or, lip sync, gets speech at its level
and length), so content cancels and what is left is the pipeline's. A fake quieter by 6 dB than its real on every
pair passed the AUC (levels of -11 to -72 dBFS between clips swamp it; 7 Dec sweep). FAIL when at least PAIR_MIN
pairs differ by more than PAIRED's tolerance, PAIR_SHARE of them the same way. Outside the face (OUTSIDE_PAIRED)
the same, for the types that paste a face back into their real's frame: photos, and since check version 4 videos
(VIDEO_FRAMES spread frames, masked by the faces of the paired real's same frames).
"""

from __future__ import annotations

from concurrent.futures import Executor

import cv2
import numpy as np

from .. import faces, media
from .base import (FAIL, PASS, WARN, AuditData, Check, Settings, measure, measured_nothing, one_class, sampled,
                   source_item)
from .confounds import chance_p, distribution, most_telling, single_auc
from ..errors import MediaError
from ..manifest import Record

VERSION = "4"  # of this check: bump when its verdict for the same dataset changes
# (4: video frames outside the face pair by pair, every video decoded; 3: silent tracks apart, audio compared
# pair by pair; 2: WARN, not PASS, when it measured nothing)
DECODES = True  # decodes media (capped by settings.max_samples)
GRID = 8  # JPEG's block size
OUTSIDE_MARGIN = 0.3  # of the face box, each side: "outside" starts beyond it
ROLLOFF = 0.999  # share of the spectral energy under the roll-off frequency
REF_ROLE = {"face_swap": "target", "lip_sync": "target", "reenactment": "source", "generation": "base", "real": "real"}
IMAGE_PROPS = ("blockiness.face", "blockiness.outside")
AUDIO_PROPS = ("audio.rolloff_hz", "audio.loudness_dbfs", "audio.stereo_width", "audio.duration_s")
SILENCE = "audio.silent"  # 1 for a track under SILENT_DBFS (fakes silent where reals speak is a shortcut too)
SILENT_DBFS = -90.0  # digital silence: its roll-off (0 Hz) and level tie with each other and pin an AUC to chance
PAIRED = {"audio.loudness_dbfs": 1.0, "audio.rolloff_hz": 0.15, "audio.stereo_width": 0.1, "audio.duration_s": 0.04,
          "image.width_px": 0.5, "image.height_px": 0.5}
# tolerated difference of a fake from its paired real (roll-off: a share of the real's); the default data's pairs
# differ by at most 0.64 dB, 0.08, 0.07 and 0 s (lip sync's new speech; every other type keeps the real's audio)
# and not at all in decoded size (read from the file: the records' sizes are what confounds reads)
OUTSIDE_PAIRED = {"outside.red": 1.0, "outside.green": 1.0, "outside.blue": 1.0, "outside.detail": 0.25}
# the same pair by pair outside the face (levels; detail: log), for the types that paste a face back into their
# real's frame (a generation re-renders the whole image); the default data's face swaps differ by at most 0.01
# levels and 0.22 in detail
VIDEO_PAIRED = {"video.width_px": 0.5, "video.height_px": 0.5, "video.fps": 0.01}
# a video's size and frame rate as its file says (a tool that rewrites media and hashes but not records leaves the
# records' values, which check 6 reads, stale), pair by pair for the same types: a face swap or lip sync is its
# real's clip
WHOLE_FRAME_TYPES = ("generation", "reenactment")  # a generation re-renders the whole image; a reenactment's
# paired real is its driving clip, another person in another room
VIDEO_FRAMES = 3  # frames of a video measured outside the face (spread evenly; a fake and its real share timing)
PAIR_MIN = 3  # pairs beyond the tolerance before a paired difference is judged
PAIR_SHARE = 0.8  # of the pairs, beyond the tolerance and the same way


def blockiness(gray: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean absolute step across 8x8 block edges over the mean step elsewhere, horizontally and vertically
    averaged, within `mask` (1.0: no grid; a decoded JPEG 1.05-1.4); None when the mask holds too little."""
    g = gray.astype(np.float32)
    ratios = []
    for d, m in ((np.abs(np.diff(g, axis=1)), mask[:, 1:] & mask[:, :-1]),
                 (np.abs(np.diff(g, axis=0)).T, (mask[1:] & mask[:-1]).T)):
        edge = (np.arange(d.shape[1]) % GRID) == GRID - 1
        on, off = d[:, edge][m[:, edge]], d[:, ~edge][m[:, ~edge]]
        if on.size < 64 or off.size < 64 or off.mean() <= 0:
            return None
        ratios.append(float(on.mean() / off.mean()))
    return round(float(np.mean(ratios)), 4)


def face_masks(shape: tuple[int, int], lm: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray]:
    """(inside the landmarks' box, outside it grown by OUTSIDE_MARGIN); without a face, (None, everything)."""
    everything = np.ones(shape, bool)
    if lm is None:
        return None, everything
    x0, y0, x1, y1 = faces.box_from_landmarks(lm)
    inside = np.zeros(shape, bool)
    inside[max(0, int(y0)):max(0, int(y1)), max(0, int(x0)):max(0, int(x1))] = True
    gx0, gy0, gx1, gy1 = faces.margin_box((x0, y0, x1, y1), OUTSIDE_MARGIN, shape)
    outside = everything.copy()
    outside[gy0:gy1, gx0:gx1] = False
    return inside, outside


def image_signals(rgb: np.ndarray, lm: np.ndarray | None) -> dict:
    """Blockiness in and around the face; outside it, each channel's mean level and the log of the mean absolute
    Laplacian (detail): what a face swap leaves as its real had it, compared pair by pair."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    inside, outside = face_masks(gray.shape, lm)
    out = {"blockiness.face": blockiness(gray, inside) if inside is not None else None,
           "blockiness.outside": blockiness(gray, outside), "image.width_px": rgb.shape[1],
           "image.height_px": rgb.shape[0]}
    if outside.sum() >= 4096:
        means = rgb[outside].mean(0)
        lap = np.abs(cv2.Laplacian(gray, cv2.CV_32F))[outside].mean()
        out.update({f"outside.{c}": round(float(v), 3) for c, v in zip(("red", "green", "blue"), means)})
        out["outside.detail"] = round(float(np.log(lap + 1e-3)), 4)
    return out


def audio_signals(data: np.ndarray, rate: int) -> dict:
    """Roll-off, loudness, stereo width and duration of float audio (samples, channels)."""
    from scipy.signal import welch

    mono = data.mean(1)
    _, psd = welch(mono, fs=rate, nperseg=min(4096, len(mono)))
    cum = np.cumsum(psd)
    freqs = np.linspace(0, rate / 2, len(psd))
    rolloff = float(freqs[int(np.searchsorted(cum, ROLLOFF * cum[-1]))]) if cum[-1] > 0 else 0.0
    rms = float(np.sqrt(np.mean(mono.astype(np.float64) ** 2)))
    width = 0.0
    if data.shape[1] == 2:
        mid = float(np.sqrt(np.mean((data[:, 0] + data[:, 1]).astype(np.float64) ** 2)))
        side = float(np.sqrt(np.mean((data[:, 0] - data[:, 1]).astype(np.float64) ** 2)))
        width = side / mid if mid > 0 else 0.0
    loudness = round(float(20 * np.log10(max(rms, 1e-9))), 2)
    duration = round(len(data) / rate, 4)
    if loudness < SILENT_DBFS:
        return {SILENCE: 1, "audio.duration_s": duration}
    return {"audio.rolloff_hz": round(rolloff, 1), "audio.loudness_dbfs": loudness,
            "audio.stereo_width": round(width, 4), "audio.duration_s": duration, SILENCE: 0}


def frame_signals(path: str, frames: int, face_path: str | None = None) -> dict:
    """A video's outside-face channel means and detail (image_signals' outside.*), the mean over VIDEO_FRAMES
    spread frames. Faces are found on the same frames of `face_path` (a fake's paired real: both sides of a pair
    then leave out the very same pixels; a face found on each side's own frames moved by a few pixels with the
    mouth, 1-2 levels of mean over the rest) or, without one, of the video itself; no face: the whole frame."""
    wanted = list(media.frames_of(path, VIDEO_FRAMES, "video", total=frames))
    found = dict(media.frames_of(face_path, VIDEO_FRAMES, "video", total=frames)) if face_path else {}
    got = []
    for i, rgb in wanted:
        face = faces.detect(found.get(i, rgb))
        one = image_signals(rgb, None if face is None else np.asarray(face.landmarks, np.float32))
        got.append({k: v for k, v in one.items() if k in OUTSIDE_PAIRED})
    keys = set.intersection(*(set(g) for g in got)) if got else set()
    return {k: round(float(np.mean([g[k] for g in got])), 4) for k in sorted(keys)}


def signal_task(task: tuple) -> tuple[dict | None, str | None]:
    """Measures of one record: (path, kind, has audio, 68 landmarks or None, frame count, path of the video whose
    faces mask it or None) -> (values, error)."""
    path, kind, has_audio, lm, frames, face_path = task
    try:
        if kind == "image":
            rgb = media.read_image(path)
            if lm is None:
                face = faces.detect(rgb)
                lm = face.landmarks if face is not None else None
            return image_signals(rgb, None if lm is None else np.asarray(lm, np.float32)), None
        if kind == "video":
            meta = media.probe(path)
            out = {"video.width_px": meta.width, "video.height_px": meta.height, "video.fps": round(meta.fps, 4),
                   **frame_signals(path, meta.frames or frames, face_path)}
            if has_audio:
                audio = media.read_audio_of_video(path, 0.0, 1e9)
                out.update(audio_signals(*audio) if audio is not None else {})
            return out, None
    except MediaError as e:
        return None, e.reason
    return {}, None


def _landmarks(data: AuditData, r: Record) -> list | None:
    """The still face landmarks of the record's reference source when it is a photo (the same geometry as an
    image fake or real made from it), else None (the task detects)."""
    found = source_item(data, r, REF_ROLE.get(r.type))
    return found[1].landmarks if found is not None and found[1].kind == "image" else None


def groups(records: list[Record]) -> list[tuple[str, list[Record], list[Record]]]:
    """(name, fakes, reals) to compare: 'all', then each fake type against the reals paired with its fakes."""
    fakes = [r for r in records if r.label == 1]
    reals = [r for r in records if r.label == 0]
    out = [("all", fakes, reals)]
    for t in sorted({r.type for r in fakes}):
        ids = {r.id for r in fakes if r.type == t}
        out.append((t, [r for r in fakes if r.type == t], [r for r in reals if r.params.get("paired_with") in ids]))
    return out


def compare(name: str, prop: str, fake_vals: list[float], real_vals: list[float], st: Settings) -> dict:
    """One property in one group: AUC, the chance p when telling, and the verdict."""
    row = {"group": name, "property": prop, "n_fake": len(fake_vals), "n_real": len(real_vals), "auc": None,
           "p": None, "status": "n/a"}
    if not fake_vals or not real_vals:
        return row
    labels = np.array([1] * len(fake_vals) + [0] * len(real_vals))
    values = list(fake_vals) + list(real_vals)
    auc = single_auc(labels, values, False)
    telling = auc >= st.auc_fail or auc <= 1 - st.auc_fail
    p = chance_p(labels, values, False) if telling else None
    row.update(auc=round(auc, 4), p=None if p is None else round(p, 5),
               status=FAIL if telling and p < st.confound_p else PASS,
               fake=distribution(fake_vals, False), real=distribution(real_vals, False))
    return row


def paired(name: str, prop: str, pairs: list[tuple[dict, dict]]) -> dict:
    """One property over (fake values, real values) pairs: how many differ beyond its tolerance (PAIRED,
    OUTSIDE_PAIRED, VIDEO_PAIRED), which way, and the verdict."""
    diffs = []
    for f, r in pairs:
        a, b = f.get(prop), r.get(prop)
        if a is not None and b is not None:
            diffs.append((a - b) / b if prop == "audio.rolloff_hz" and b else a - b)
    tol = {**PAIRED, **OUTSIDE_PAIRED, **VIDEO_PAIRED}[prop]
    up, down = sum(d > tol for d in diffs), sum(d < -tol for d in diffs)
    way = max(up, down)
    bad = len(diffs) >= PAIR_MIN and way >= PAIR_MIN and way >= PAIR_SHARE * len(diffs)
    return {"group": name, "property": f"{prop} (paired)", "pairs": len(diffs), "beyond": up + down,
            "median": round(float(np.median(diffs)), 4) if diffs else None, "tolerance": tol,
            "status": (FAIL if bad else PASS) if len(diffs) >= PAIR_MIN else "n/a"}


def _pairs(fakes: list[Record], reals: list[Record], values: dict) -> list[tuple[dict, dict]]:
    by_id = {f.id: values[f.id] for f in fakes}
    return [(by_id[p], values[r.id]) for r in reals if (p := r.params.get("paired_with")) in by_id]


def _signalled(r: Record) -> bool:
    return r.media.kind in ("image", "video")


def _failed_line(r: dict) -> str:
    if "pairs" in r:
        return (f"{r['group']} {r['property']}: {r['beyond']} of {r['pairs']} fakes differ from their paired real "
                f"by more than {r['tolerance']:g} (median {r['median']:+g})")
    return (f"{r['group']} {r['property']} AUC {r['auc']:.2f}, p {r['p']:.2g} (real {r['real']['min']:g}.."
            f"{r['real']['max']:g} | fake {r['fake']['min']:g}..{r['fake']['max']:g})")


def check(data: AuditData, pool: Executor | None) -> Check:
    recs = sampled(data, _signalled)
    st = data.settings
    real_of = {p: r for r in recs if (p := r.params.get("paired_with")) is not None}
    tasks = [(str(data.media_path(r)), r.media.kind, bool(r.media.audio),
              _landmarks(data, r) if r.media.kind == "image" else None, r.media.frames,
              str(data.media_path(real_of[r.id])) if r.media.kind == "video" and r.id in real_of else None)
             for r in recs]
    done, unreadable = measure(pool, signal_task, recs, tasks, "signal confounds", st.show_progress)
    values = {r.id: m for r, m in done}
    measured = [r for r in recs if r.id in values]
    rows = []
    pair_rows = []
    for name, fakes, reals in groups(measured):
        for prop in IMAGE_PROPS + AUDIO_PROPS + (SILENCE,):
            fv = [v for r in fakes if (v := values[r.id].get(prop)) is not None]
            rv = [v for r in reals if (v := values[r.id].get(prop)) is not None]
            rows.append(compare(name, prop, fv, rv, st))
        pairs = _pairs(fakes, reals, values)
        pair_rows += [paired(name, prop, pairs) for prop in PAIRED]
        if name != "all" and name not in WHOLE_FRAME_TYPES:
            pair_rows += [paired(name, prop, pairs) for prop in {**OUTSIDE_PAIRED, **VIDEO_PAIRED}]
    rows += [r for r in pair_rows if r["status"] != "n/a"]
    scored = [r for r in rows if r.get("auc") is not None or "pairs" in r]
    failed = [r for r in scored if r["status"] == FAIL]
    if failed:
        summary = "; ".join(_failed_line(r) for r in failed[:4])
    elif scored:
        aucs = [r for r in scored if r.get("auc") is not None]
        sized = [r for r in aucs if min(r["n_fake"], r["n_real"]) >= PAIR_MIN * 2]  # not 1 real against 7 fakes
        n_paired = len(scored) - len(aucs)
        summary = f"{len(aucs)} group/property pairs scored on {len(measured)} records (cap {st.max_samples}), " \
                  "none telling beyond chance"
        if aucs:
            top = most_telling(sized or aucs)
            summary += f"; most telling {top['group']} {top['property']} AUC {top['auc']:.2f}" + (
                "" if top["p"] is None else f" (p {top['p']:.2g}, n {top['n_real']} real / {top['n_fake']} fake)")
        if n_paired:
            summary += f"; pair by pair: {n_paired} group/property rows within tolerance"
    elif not measured:  # a check that measured nothing has not passed
        summary = measured_nothing(st, sum(map(_signalled, data.records)), "images or videos",
                                   f"none of {len(recs)} sampled readable")
    else:
        n_fake = sum(r.label == 1 for r in measured)
        why = one_class(len(measured) - n_fake, n_fake) if n_fake in (0, len(measured)) else \
            "no property measured on both reals and fakes"
        summary = f"measured nothing comparable: {why} among {len(measured)} measured records: no AUC"
    if unreadable:
        summary += f"; {len(unreadable)} unreadable (see integrity)"
    details = {"auc_fail": st.auc_fail, "p_fail": st.confound_p, "measured": len(measured), "rows": rows,
               "unreadable": unreadable[:20], "per_record": values}
    if not scored:
        details["not_measured"] = summary
    return Check("signal_confounds", FAIL if failed else PASS if scored else WARN, summary, details)
