"""Audit check 9, signal confounds: what decoded pixels and audio tell apart that the records' properties do not.

Per image: 8x8 blockiness (the JPEG grid) inside the face box and outside it. Per video with audio: spectral
roll-off (the frequency under 99.9 % of the energy: a band-limited voice), loudness (RMS dBFS), stereo width
(RMS of L-R over RMS of L+R: 0 for dual mono) and duration. Each property alone is scored as in `confounds`
(ROC AUC, fake against real) over all fakes and reals of the media kind, and per fake type against the reals
paired with that type's fakes (`paired_with`), so a shortcut of one backend is not averaged away by the others.
FAIL when the AUC is telling (>= auc_fail or <= 1 - auc_fail) and a two-sided Mann-Whitney U test finds the split
unlikely by chance (p < confound_p): these values follow the content, so a few samples a side prove nothing.
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

VERSION = "2"  # of this check: bump when its verdict for the same dataset changes
# (2: WARN, not PASS, when it measured nothing)
DECODES = True  # decodes media (capped by settings.max_samples)
GRID = 8  # JPEG's block size
OUTSIDE_MARGIN = 0.3  # of the face box, each side: "outside" starts beyond it
ROLLOFF = 0.999  # share of the spectral energy under the roll-off frequency
REF_ROLE = {"face_swap": "target", "lip_sync": "target", "reenactment": "source", "generation": "base", "real": "real"}
IMAGE_PROPS = ("blockiness.face", "blockiness.outside")
AUDIO_PROPS = ("audio.rolloff_hz", "audio.loudness_dbfs", "audio.stereo_width", "audio.duration_s")


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
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    inside, outside = face_masks(gray.shape, lm)
    return {"blockiness.face": blockiness(gray, inside) if inside is not None else None,
            "blockiness.outside": blockiness(gray, outside)}


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
    return {"audio.rolloff_hz": round(rolloff, 1), "audio.loudness_dbfs": loudness,
            "audio.stereo_width": round(width, 4), "audio.duration_s": round(len(data) / rate, 4)}


def signal_task(task: tuple) -> tuple[dict | None, str | None]:
    """Measures of one record: (path, kind, has audio, 68 landmarks or None) -> (values, error)."""
    path, kind, has_audio, lm = task
    try:
        if kind == "image":
            rgb = media.read_image(path)
            if lm is None:
                face = faces.detect(rgb)
                lm = face.landmarks if face is not None else None
            return image_signals(rgb, None if lm is None else np.asarray(lm, np.float32)), None
        if kind == "video" and has_audio:
            audio = media.read_audio_of_video(path, 0.0, 1e9)
            return (audio_signals(*audio) if audio is not None else {}), None
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


def _signalled(r: Record) -> bool:
    return r.media.kind == "image" or (r.media.kind == "video" and r.media.audio)


def check(data: AuditData, pool: Executor | None) -> Check:
    recs = sampled(data, _signalled)
    st = data.settings
    tasks = [(str(data.media_path(r)), r.media.kind, bool(r.media.audio),
              _landmarks(data, r) if r.media.kind == "image" else None) for r in recs]
    done, unreadable = measure(pool, signal_task, recs, tasks, "signal confounds", st.show_progress)
    values = {r.id: m for r, m in done}
    measured = [r for r in recs if r.id in values]
    rows = []
    for name, fakes, reals in groups(measured):
        for prop in IMAGE_PROPS + AUDIO_PROPS:
            fv = [v for r in fakes if (v := values[r.id].get(prop)) is not None]
            rv = [v for r in reals if (v := values[r.id].get(prop)) is not None]
            rows.append(compare(name, prop, fv, rv, st))
    scored = [r for r in rows if r["auc"] is not None]
    failed = [r for r in scored if r["status"] == FAIL]
    if failed:
        summary = "; ".join(f"{r['group']} {r['property']} AUC {r['auc']:.2f}, p {r['p']:.2g} (real "
                            f"{r['real']['min']:g}..{r['real']['max']:g} | fake {r['fake']['min']:g}.."
                            f"{r['fake']['max']:g})" for r in failed[:4])
    elif scored:
        top = most_telling(scored)
        summary = (f"{len(scored)} group/property pairs scored on {len(measured)} records (cap {st.max_samples}), "
                   f"none telling beyond chance; most telling {top['group']} {top['property']} AUC {top['auc']:.2f}"
                   + ("" if top["p"] is None else
                      f" (p {top['p']:.2g}, n {top['n_real']} real / {top['n_fake']} fake)"))
    elif not measured:  # a check that measured nothing has not passed
        summary = measured_nothing(st, sum(map(_signalled, data.records)), "images or videos with audio",
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
