"""Metrics with Fake (label 1) as the positive class: macro F1, per-class F1, confusion, recalls, ROC AUC."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    return float(f1_score(y, pred, labels=[0, 1], average="macro", zero_division=0))


def best_threshold(y, p) -> tuple[float, float]:
    """(threshold, macro F1) maximising macro F1 of `p >= threshold`; ties go to the threshold nearest 0.5.

    Candidates are midpoints between neighbouring distinct scores (plus 0.5), so the chosen threshold
    sits in the gap rather than on a validation score.
    """
    y, p = np.asarray(y, int), np.asarray(p, float)
    u = np.unique(p)
    cands = np.unique(np.concatenate([[0.5], (u[1:] + u[:-1]) / 2, [u[0] - 1e-6, u[-1] + 1e-6]])) if len(u) else [0.5]
    best = (-1.0, 0.0, 0.5)
    for t in cands:
        f = macro_f1(y, (p >= t).astype(int))
        key = (f, -abs(t - 0.5))
        if key > best[:2]:
            best = (f, -abs(t - 0.5), float(t))
    return max(best[2], 0.0), best[0]


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


def tables(rep: Report, title: str):
    """Rich tables of a report (summary, confusion, recall per type and per backend)."""
    from rich.table import Table

    s = Table(title=title)
    s.add_column("metric")
    s.add_column("value", justify="right")
    auc = "n/a (one class)" if rep.roc_auc is None else f"{rep.roc_auc:.4f}"
    for k, v in (("files", str(rep.files)), ("threshold", f"{rep.threshold:.4f}"),
                 ("macro F1 (Fake positive)", f"{rep.macro_f1:.4f}"), ("F1 real", f"{rep.f1_real:.4f}"),
                 ("F1 fake", f"{rep.f1_fake:.4f}"), ("ROC AUC", auc), ("fallback label (no crops)", str(rep.no_crops))):
        s.add_row(k, v)
    c = Table(title="confusion (rows: true, columns: predicted)")
    for col in ("", "pred real", "pred fake"):
        c.add_column(col, justify="right")
    for name, row in zip(("true real", "true fake"), rep.confusion):
        c.add_row(name, *map(str, row))
    out = [s, c]
    for what, rec, cnt in (("type", rep.recall_by_type, rep.count_by_type),
                           ("backend", rep.recall_by_backend, rep.count_by_backend)):
        t = Table(title=f"recall per {what} (share predicted as its true class)")
        for col in (what, "files", "recall"):
            t.add_column(col, justify="right" if col != what else "left")
        for g, r in rec.items():
            t.add_row(g, str(cnt[g]), f"{r:.4f}")
        out.append(t)
    return out
