"""Audit check 6, confounds: how well one media property alone tells real from fake (single-feature ROC AUC).

Video properties are compared over video records, image properties over image records, audio properties
(codec, sample rate, channels, read from the stream header) over videos with audio, and the media kind over
all, so that a difference inside one kind is not averaged away by the other. Numbers are used as they are
(AUC <= 0.25 is as telling as >= 0.75); a categorical property (codec, format, kind) is scored by each
category's share of fakes, its best use as a detector. Settings (size, fps, codec, audio rate, JPEG quality...)
fail on a telling AUC alone: they do not vary by chance. Byte sizes and bitrate follow the content, so they fail
only when a two-sided Mann-Whitney U test also finds the split unlikely by chance (p < 0.05): on a pilot run
with 2 videos a side, one re-encoded fake moves their AUC by 0.5. No media is decoded: everything comes from the
records, plus the quantisation tables of JPEG files and audio stream headers.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from concurrent.futures import Executor

from .base import FAIL, PASS, WARN, AuditData, Check, one_class
from ..manifest import Record

# libjpeg's standard luminance table (quality 50); quality q scales it by 5000/q (q < 50) or 200 - 2q
STD_LUMA = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
                     92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)
JPEG_FORMATS = ("jpeg", "jpg")
CONTENT_DEPENDENT = ("video.bitrate", "video.bytes", "image.bytes")  # vary with what is shown: need p < alpha too


VERSION = "2"  # of this check: bump when its verdict for the same dataset changes
# (2: WARN, not PASS, when it measured nothing)
DECODES = False  # reads only records and file bytes


def _scaled_tables() -> np.ndarray:
    q = np.arange(1, 101, dtype=np.float64)[:, None]
    scale = np.where(q < 50, 5000 / q, 200 - 2 * q)
    return np.sort(np.clip(np.floor((STD_LUMA * scale + 50) / 100), 1, 255), axis=1)


def jpeg_quality(path: str | Path) -> int | None:
    """libjpeg quality (1-100) whose luminance table is closest to the file's; None when not a JPEG."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            tables = getattr(im, "quantization", None)
    except OSError:
        return None
    if not tables:
        return None
    luma = np.sort(np.array(tables[min(tables)], np.float64))
    return int(np.abs(_scaled_tables() - luma).sum(axis=1).argmin()) + 1


def _image_format(r: Record) -> str:
    fmt = r.media.codec or Path(r.path).suffix.lstrip(".")
    return "jpeg" if fmt.lower() in JPEG_FORMATS else fmt.lower()


def _bitrate(r: Record) -> float | None:
    return r.bytes * 8 / r.media.duration if r.media.duration > 0 else None


@lru_cache(maxsize=None)
def audio_stream(path: str) -> tuple[str, int, int] | None:
    """(codec, sample rate, channels) of a file's first audio stream, from its header; None without one."""
    import av

    try:
        with av.open(path) as c:
            if not c.streams.audio:
                return None
            cc = c.streams.audio[0].codec_context
            return cc.name, int(cc.sample_rate), int(cc.channels)
    except (av.error.FFmpegError, OSError):
        return None


def properties(data: AuditData) -> list[tuple[str, bool, list[Record], callable]]:
    """(name, categorical, records it is measured on, value of a record)."""
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
    voiced = [r for r in video if r.media.audio]
    stream = lambda r: audio_stream(str(data.media_path(r)))  # noqa: E731
    out += [("audio.codec", True, voiced, lambda r: (stream(r) or (None,))[0]),
            ("audio.rate", False, voiced, lambda r: float(stream(r)[1]) if stream(r) else None),
            ("audio.channels", False, voiced, lambda r: float(stream(r)[2]) if stream(r) else None)]
    out += [("image.width", False, image, lambda r: float(r.media.width)),
            ("image.height", False, image, lambda r: float(r.media.height)),
            ("image.format", True, image, _image_format), ("image.bytes", False, image, lambda r: float(r.bytes)),
            ("image.jpeg_quality", False, jpegs, lambda r: jpeg_quality(data.media_path(r)))]
    return out


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
