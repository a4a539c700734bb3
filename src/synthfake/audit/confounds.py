"""Audit check 6, confounds: how well one media property alone tells real from fake (single-feature ROC AUC).

Video properties are compared over video records, image properties over image records, audio properties
(codec, sample rate, channels, read from the stream header) over videos with audio, and the media kind over
all, so that a difference inside one kind is not averaged away by the other. Numbers are used as they are
(AUC <= 0.25 is as telling as >= 0.75); a categorical property (codec, format, kind) is scored by each
category's share of fakes, its best use as a detector. Settings (size, fps, codec, audio rate, JPEG quality...)
fail on a telling AUC alone: they do not vary by chance. Byte sizes and bitrate follow the content, so they fail
only when a two-sided Mann-Whitney U test also finds the split unlikely by chance (p < 0.05): on a pilot run
with 2 videos a side, one re-encoded fake moves their AUC by 0.5. No media is decoded: everything comes from the
records, plus what file headers say of their writer (headers.py: JPEG tables, chroma subsampling and scan, PIL
mode, ICC and EXIF blocks; a video's pixel format, profile and colour tags; its audio stream's codec, rate and
channels), read on at most headers.HEADER_CAP files of each label and media kind.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from concurrent.futures import Executor

from . import headers
from .base import FAIL, PASS, WARN, AuditData, Check, one_class
from ..manifest import Record

JPEG_FORMATS = ("jpeg", "jpg")
CONTENT_DEPENDENT = ("video.bitrate", "video.bytes", "image.bytes")  # vary with what is shown: need p < alpha too


VERSION = "3"  # of this check: bump when its verdict for the same dataset changes
# (3: header settings (pixel format, profile, colour tags, subsampling, scan, mode, ICC, EXIF), capped per label;
# 2: WARN, not PASS, when it measured nothing)
DECODES = False  # reads only records and file bytes


def _image_format(r: Record) -> str:
    fmt = r.media.codec or Path(r.path).suffix.lstrip(".")
    return "jpeg" if fmt.lower() in JPEG_FORMATS else fmt.lower()


def _bitrate(r: Record) -> float | None:
    return r.bytes * 8 / r.media.duration if r.media.duration > 0 else None


def properties(data: AuditData) -> list[tuple[str, bool, list[Record], callable]]:
    """(name, categorical, records it is measured on, value of a record). Header settings (headers.py) are read on
    at most HEADER_CAP records of each label and media kind; the others give None (not compared)."""
    recs = data.records
    video = [r for r in recs if r.media.kind == "video"]
    image = [r for r in recs if r.media.kind == "image"]
    jpegs = [r for r in image if _image_format(r) == "jpeg"]
    out = [("kind", True, recs, lambda r: r.media.kind)]
    out += [(f"video.{k}", False, video, lambda r, k=k: float(getattr(r.media, k)))
            for k in ("width", "height", "fps", "duration")]
    out += [("video.codec", True, video, lambda r: r.media.codec), ("video.bitrate", False, video, _bitrate),
            ("video.bytes", False, video, lambda r: float(r.bytes)),
            ("video.audio", False, video, lambda r: float(r.media.audio))]
    vh = _header_of(data, video, headers.video_header)
    out += [(f"video.{k}", True, video, lambda r, k=k: vh(r, k)) for k in ("pix_fmt", "profile", "color_range",
                                                                          "colorspace")]
    voiced = [r for r in video if r.media.audio]
    out += [("audio.codec", True, voiced, lambda r: vh(r, "audio_codec")),
            ("audio.rate", False, voiced, lambda r: vh(r, "audio_rate")),
            ("audio.channels", False, voiced, lambda r: vh(r, "audio_channels"))]
    ih = _header_of(data, image, headers.image_header)
    jh = _header_of(data, jpegs, headers.image_header)
    out += [("image.width", False, image, lambda r: float(r.media.width)),
            ("image.height", False, image, lambda r: float(r.media.height)),
            ("image.format", True, image, _image_format), ("image.bytes", False, image, lambda r: float(r.bytes)),
            ("image.mode", True, image, lambda r: ih(r, "mode")), ("image.icc", True, image, lambda r: ih(r, "icc")),
            ("image.exif", True, image, lambda r: ih(r, "exif")),
            ("image.jpeg_quality", False, jpegs, lambda r: jh(r, "jpeg_quality")),
            ("image.subsampling", True, jpegs, lambda r: jh(r, "subsampling")),
            ("image.progressive", True, jpegs, lambda r: jh(r, "progressive"))]
    return out


def _header_of(data: AuditData, recs: list[Record], read) -> callable:
    """value(record, key): the header field `key` of a record in headers.header_sample(recs), else None."""
    chosen = {id(recs[i]) for i in headers.header_sample(recs)}

    def value(r: Record, key: str):
        return read(str(data.media_path(r))).get(key) if id(r) in chosen else None
    return value


def _scores(labels: np.ndarray, values: list, categorical: bool) -> np.ndarray:
    """A property's value as a fake score: numbers as they are, a category by its share of fakes."""
    if not categorical:
        return np.array(values, np.float64)
    by: dict = {}
    for v, y in zip(values, labels):
        n, f = by.get(v, (0, 0))
        by[v] = (n + 1, f + int(y))
    return np.array([by[v][1] / by[v][0] for v in values])


def most_telling(scored: list[dict]) -> dict:
    """The scored row whose AUC lies furthest from chance (0.5), either way."""
    return max(scored, key=lambda r: abs(r["auc"] - 0.5))


def single_auc(labels: np.ndarray, values: list, categorical: bool) -> float:
    """ROC AUC of one property for fake (1) vs real (0); a category scores by its share of fakes."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, _scores(labels, values, categorical)))


def chance_p(labels: np.ndarray, values: list, categorical: bool) -> float:
    """Two-sided Mann-Whitney U p-value that fakes and reals share one distribution of the property's score."""
    from scipy.stats import mannwhitneyu

    scores = _scores(labels, values, categorical)
    return float(mannwhitneyu(scores[labels == 1], scores[labels == 0], alternative="two-sided").pvalue)


def distribution(values: list, categorical: bool) -> dict:
    if categorical:
        return dict(Counter(map(str, values)).most_common(10))
    a = np.array(values, np.float64)
    return {"n": len(a), "min": round(float(a.min()), 4), "median": round(float(np.median(a)), 4),
            "max": round(float(a.max()), 4), "mean": round(float(a.mean()), 4)}


def _describe(d: dict, categorical: bool) -> str:
    if categorical:
        return ", ".join(f"{k}: {v}" for k, v in d.items())
    return f"{d['min']:g}..{d['max']:g}, median {d['median']:g}"


def _auc_text(row: dict) -> str:
    return f"{row['property']} AUC {row['auc']:.2f}" + ("" if row["p"] is None else f", p {row['p']:.2g}")


def check(data: AuditData, pool: Executor | None = None) -> Check:
    """Each media property alone against the label (ROC AUC), within each media kind."""
    hi, alpha = data.settings.auc_fail, data.settings.confound_p
    rows = []
    for name, categorical, recs, value in properties(data):
        pairs = [(v, r.label) for r in recs if (v := value(r)) is not None]
        real = [v for v, y in pairs if y == 0]
        fake = [v for v, y in pairs if y == 1]
        row = {"property": name, "categorical": categorical, "n_real": len(real), "n_fake": len(fake),
               "auc": None, "status": "n/a"}
        if real and fake:
            labels, values = np.array([y for _, y in pairs]), [v for v, _ in pairs]
            auc = single_auc(labels, values, categorical)
            telling = auc >= hi or auc <= 1 - hi
            p = chance_p(labels, values, categorical) if telling and name in CONTENT_DEPENDENT else None
            row.update(auc=round(auc, 4), p=None if p is None else round(p, 4),
                       status=FAIL if telling and (p is None or p < alpha) else PASS,
                       real=distribution(real, categorical), fake=distribution(fake, categorical))
        rows.append(row)
    scored = [r for r in rows if r["auc"] is not None]
    failed = [r for r in scored if r["status"] == FAIL]
    chance = [r for r in scored if r["status"] == PASS and r["p"] is not None]
    status = FAIL if failed else PASS if scored else WARN  # a check that compared nothing has not passed
    details = {"auc_fail": hi, "p_fail": alpha}
    if failed:
        summary = "; ".join(f"{_auc_text(r)} (real {_describe(r['real'], r['categorical'])}"
                            f" | fake {_describe(r['fake'], r['categorical'])})" for r in failed[:4])
    elif chance:
        summary = (f"{len(scored)} properties scored, none telling beyond chance (p >= {alpha:g}): "
                   + ", ".join(f"{_auc_text(r)} on {r['n_real']} real vs {r['n_fake']} fake" for r in chance[:4]))
    elif scored:  # none failed, none was tested against chance (no p)
        summary = (f"{len(scored)} properties scored, all AUC within ({1 - hi:.2f}, {hi:.2f}); most telling "
                   + _auc_text(most_telling(scored)))
    else:
        ys = [r.label for r in data.records]
        n_real, n_fake = ys.count(0), ys.count(1)
        why = one_class(n_real, n_fake) if not (n_real and n_fake) else "no property has both reals and fakes"
        summary = details["not_measured"] = f"measured nothing: {why}: no AUC"
    na = [r["property"] for r in rows if r["auc"] is None]
    if na and scored:
        summary += f"; n/a (no reals or no fakes with it): {', '.join(na)}"
    return Check("confounds", status, summary, {**details, "properties": rows})
