"""Metrics with Fake (label 1) as the positive class: macro F1, per-class F1, confusion, recalls, ROC AUC."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean of the real and fake F1 (scikit-learn, zero_division 0)."""
    return float(f1_score(y, pred, labels=[0, 1], average="macro", zero_division=0))


def _macro_f1_of_counts(tp, fp, fn, tn) -> np.ndarray:
    """Mean of the fake and real F1 from confusion counts (arrays), 0 where a class is absent and never predicted."""
    with np.errstate(divide="ignore", invalid="ignore"):
        f_fake = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        f_real = np.where(2 * tn + fn + fp > 0, 2 * tn / (2 * tn + fn + fp), 0.0)
    return (f_fake + f_real) / 2


def roc_auc_rows(y, p, axis: int = -1) -> np.ndarray:
    """ROC AUC of every row at once (Mann-Whitney U over average ranks: scikit-learn's value, ties counted half);
    nan where a row holds one class. Vectorised for scipy.stats.bootstrap, where roc_auc_score per resample cost
    ~10 ms of input checks (20 s of a 61-file `gen detect eval --labels`)."""
    from scipy.stats import rankdata

    y = np.moveaxis(np.asarray(y), axis, -1).astype(bool)
    p = np.moveaxis(np.asarray(p, np.float64), axis, -1)
    n1 = y.sum(-1)
    n0 = y.shape[-1] - n1
    u = np.where(y, rankdata(p, axis=-1), 0.0).sum(-1) - n1 * (n1 + 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n1 > 0) & (n0 > 0), u / (n1 * n0), np.nan)


def macro_f1_rows(y, pred, axis: int = -1) -> np.ndarray:
    """`macro_f1` of every row at once (zero_division 0), vectorised for scipy.stats.bootstrap."""
    y = np.moveaxis(np.asarray(y), axis, -1).astype(bool)
    q = np.moveaxis(np.asarray(pred), axis, -1).astype(bool)
    tp, fp, fn = (y & q).sum(-1), (~y & q).sum(-1), (y & ~q).sum(-1)
    tn = y.shape[-1] - tp - fp - fn
    return _macro_f1_of_counts(tp, fp, fn, tn)


def macro_f1_at(y, p, thresholds) -> np.ndarray:
    """Macro F1 of `p >= t` for every t at once (sorted counts; zero_division 0 like scikit-learn)."""
    y, p, ts = np.asarray(y, int), np.asarray(p, float), np.asarray(thresholds, float)
    pos, neg = np.sort(p[y == 1]), np.sort(p[y == 0])
    tp = len(pos) - np.searchsorted(pos, ts, "left")
    fp = len(neg) - np.searchsorted(neg, ts, "left")
    fn, tn = len(pos) - tp, len(neg) - fp
    return _macro_f1_of_counts(tp, fp, fn, tn)


def best_threshold(y, p) -> tuple[float, float]:
    """(threshold, macro F1) maximising macro F1 of `p >= threshold`; ties go to the threshold nearest 0.5.

    Candidates are 0.5 and the midpoints between neighbouring distinct scores (plus one below and one
    above all), so a chosen threshold sits in a gap rather than on a validation score.
    """
    p = np.asarray(p, float)
    u = np.unique(p)
    if not len(u):
        return 0.5, 0.0
    cands = np.unique(np.concatenate([[0.5], (u[1:] + u[:-1]) / 2, [u[0] - 1e-6, u[-1] + 1e-6]]))
    f = macro_f1_at(y, p, cands)
    best = np.flatnonzero(np.isclose(f, f.max(), rtol=0, atol=1e-12))
    t = cands[best[np.argmin(np.abs(cands[best] - 0.5))]]
    return max(float(t), 0.0), float(f.max())


@dataclass
class Report:
    """An evaluation: every number the eval command prints."""

    files: int
    threshold: float
    macro_f1: float
    f1_real: float
    f1_fake: float
    confusion: list[list[int]]  # rows true (real, fake), columns predicted (real, fake)
    roc_auc: float | None
    recall_by_type: dict[str, float]
    recall_by_backend: dict[str, float]
    count_by_type: dict[str, int]
    count_by_backend: dict[str, int]
    no_crops: int  # files scored with the fallback label

    def as_dict(self) -> dict:
        return asdict(self)


def _recalls(groups: list[str], y: np.ndarray, pred: np.ndarray) -> tuple[dict[str, float], dict[str, int]]:
    """Per group, the share of its files predicted as their own true class (recall of that class)."""
    hit, n = defaultdict(int), defaultdict(int)
    for g, t, q in zip(groups, y, pred):
        n[g] += 1
        hit[g] += int(t == q)
    return {g: hit[g] / n[g] for g in sorted(n)}, {g: n[g] for g in sorted(n)}


def report(y, prob, pred, types: list[str], backends: list[str], threshold: float, no_crops: int = 0) -> Report:
    """Metrics of file-level predictions; `prob` is the score used for ROC AUC (needs both classes)."""
    y, prob, pred = np.asarray(y, int), np.asarray(prob, float), np.asarray(pred, int)
    per = f1_score(y, pred, labels=[0, 1], average=None, zero_division=0)
    auc = float(roc_auc_score(y, prob)) if len(set(y.tolist())) == 2 else None
    by_type, n_type = _recalls(types, y, pred)
    by_backend, n_backend = _recalls(backends, y, pred)
    return Report(len(y), threshold, macro_f1(y, pred), float(per[0]), float(per[1]),
                  confusion_matrix(y, pred, labels=[0, 1]).tolist(), auc, by_type, by_backend, n_type, n_backend,
                  no_crops)


def summary_table(title: str, rows, value_header: str = "value"):
    """A rich table of (metric, value) rows: the first table of every report."""
    from synthfake.tables import table

    return table(title, ("metric", value_header), rows)


ONE_CLASS = " (one class only: the absent class's F1 counts as 0; read the recall)"


def tables(rep: Report, title: str):
    """Rich tables of a report (summary, confusion, recall per type and per backend)."""
    from synthfake.tables import table

    auc = "n/a (one class)" if rep.roc_auc is None else f"{rep.roc_auc:.4f}"
    f1 = f"{rep.macro_f1:.4f}" + (ONE_CLASS if rep.roc_auc is None else "")
    s = summary_table(title, (("files", str(rep.files)), ("threshold", f"{rep.threshold:.4f}"),
                              ("macro F1 (Fake positive)", f1), ("F1 real", f"{rep.f1_real:.4f}"),
                              ("F1 fake", f"{rep.f1_fake:.4f}"), ("ROC AUC", auc),
                              ("fallback label (no crops)", str(rep.no_crops))))
    c = table("confusion (rows: true, columns: predicted)", ("", "pred real", "pred fake"),
              ((name, *map(str, row)) for name, row in zip(("true real", "true fake"), rep.confusion)), left=())
    out = [s, c]
    for what, rec, cnt in (("type", rep.recall_by_type, rep.count_by_type),
                           ("backend", rep.recall_by_backend, rep.count_by_backend)):
        out.append(table(f"recall per {what} (share predicted as its true class)", (what, "files", "recall"),
                         ((g, str(cnt[g]), f"{r:.4f}") for g, r in rec.items())))
    return out
