"""`gen detect eval MODEL FOLDER --labels labels.csv`: a trained detector on any labelled folder.

The labels CSV has `path,label[,kind,model]` (label 1 fake / 0 real; other columns ignored; paths relative
to FOLDER). Each file is scored by `predict` itself (a sample submission lists the files), so a score here
is exactly the one a submission would carry. Reported: ROC AUC, macro F1 (Fake positive) at the saved
threshold and at the best threshold on this set (an oracle, optimistic by construction), recall per kind
and per model, each with a 95 % bootstrap interval that resamples files (scipy.stats.bootstrap, paired
resampling of the files' labels, scores and predictions, percentile interval). Beside them, ROC AUC per kind
(its fakes against every real) and per media (images' fakes against real images, videos' against real
videos): a set that mixes photos and clips can rank every real video above every fake image, and the one AUC
over all files hides which side a detector fails on.
"""

from __future__ import annotations

import csv
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from synthfake.errors import SynthfakeError
from synthfake.labels import Exclude, Labelled, labelled_files

from .metrics import ONE_CLASS, best_threshold, macro_f1, macro_f1_rows, roc_auc_rows, summary_table
from .meta import DetectorMeta, required_seen
from .score import SHARE, share_threshold

BOOT = 1000  # bootstrap resamples


@dataclass
class ExternalReport:
    """Every number `gen detect eval --labels` prints; intervals are (low, high) 95 % bootstrap bounds."""

    folder: str
    files: int
    fakes: int
    threshold: float
    roc_auc: float | None
    roc_auc_ci: tuple[float, float] | None
    macro_f1: float
    macro_f1_ci: tuple[float, float]
    best_threshold: float
    best_macro_f1: float
    best_macro_f1_ci: tuple[float, float]
    recall_by_kind: dict[str, dict]  # kind -> {files, recall, ci}
    recall_by_model: dict[str, dict]
    no_crops: int
    auc_by_kind: dict[str, dict] = field(default_factory=dict)  # kind -> {auc, ci, fakes, reals}
    auc_by_media: dict[str, dict] = field(default_factory=dict)  # image | video -> {auc, ci, fakes, reals}
    skipped: list[dict] = field(default_factory=list)  # {path, reason}
    probs: dict[str, float] = field(default_factory=dict)
    confound: str | None = None  # the media property that alone best tells the scored files' labels apart
    confound_auc: float | None = None  # its ROC AUC folded to >= 0.5 (`gen audit FOLDER --labels`)
    share_threshold: float | None = None  # calls SHARE of the scored files fake (`predict --fake-share`)
    share_macro_f1: float | None = None
    share_macro_f1_ci: tuple[float, float] | None = None
    fallback_label: int = 0  # the label (and probability) a file without crops gets

    def as_dict(self) -> dict:
        return asdict(self)


def score_labelled(model_dir: Path, folder: Path, rows: list[Labelled], batch_size: int = 16, device: str = "cpu",
                   fp16: bool = False, workers: int = 2, show: bool = True, log=print) -> dict[str, float | None]:
    """Each file's fake probability as `predict` gives it (None: no crops, the fallback label applies)."""
    from .predict import predict, probs_path

    with tempfile.TemporaryDirectory(prefix="synthfake-eval-") as tmp:
        sample = Path(tmp) / "sample.csv"
        with open(sample, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["filename", "label"])
            w.writerows([r.path, 0] for r in rows)
        out = Path(tmp) / "submission.csv"
        predict(model_dir, folder, out, sample, batch_size, device, fp16, workers, show=show, log=log)
        with open(probs_path(out), newline="") as fh:
            got = {r["filename"]: (float(r["prob_fake"]) if r["prob_fake"] else None) for r in csv.DictReader(fh)}
    return {r.path: got.get(r.path) for r in rows}


def _ci(statistic, *data: np.ndarray, seed: int, boot: int) -> tuple[float, float]:
    """95 % percentile interval of `statistic(*data, axis=-1)` (vectorised: one value per row) over `boot`
    resamples of the files (scipy.stats.bootstrap, the arrays resampled together). Resamples where the statistic
    is undefined (an AUC over one class) are left out of the interval; nan when none is defined; a single file is
    its own interval."""
    if len(data[0]) < 2:
        v = float(statistic(*data, axis=-1))
        return v, v
    import warnings

    from scipy.stats import DegenerateDataWarning, bootstrap

    with warnings.catch_warnings():  # scipy warns of the nan interval an undefined resample gives; handled below
        warnings.simplefilter("ignore", DegenerateDataWarning)
        res = bootstrap(data, statistic, paired=True, vectorized=True, n_resamples=boot, method="percentile",
                        rng=np.random.default_rng(seed))
    dist = res.bootstrap_distribution
    if np.isfinite(dist).all():
        return float(res.confidence_interval.low), float(res.confidence_interval.high)
    dist = dist[np.isfinite(dist)]
    return (float("nan"), float("nan")) if not len(dist) else (float(np.percentile(dist, 2.5)),
                                                                float(np.percentile(dist, 97.5)))


def auc_or_none(y, p) -> float | None:
    """ROC AUC of scores `p` for labels `y` (1 fake); None when `y` holds one class only."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def _best_f1_rows(y: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
    """The oracle macro F1 (`best_threshold`) of every row."""
    y, p = np.moveaxis(y, axis, -1), np.moveaxis(p, axis, -1)
    return np.array([best_threshold(a, b)[1] for a, b in zip(y.reshape(-1, y.shape[-1]), p.reshape(-1, p.shape[-1]))]
                    ).reshape(y.shape[:-1])


def _groups(names: list[str], y, pred, seed: int, boot: int) -> dict[str, dict]:
    """Recall (share predicted as the true class) per group, with a bootstrap interval over the group's files."""
    idx = defaultdict(list)
    for i, g in enumerate(names):
        idx[g].append(i)
    out = {}
    for g in sorted(idx):
        hit = (y[idx[g]] == pred[idx[g]]).astype(float)
        out[g] = {"files": len(hit), "recall": float(hit.mean()), "ci": _ci(np.mean, hit, seed=seed, boot=boot)}
    return out


def _auc_against(reals: np.ndarray, fakes: np.ndarray, rng: np.random.Generator, boot: int) -> dict:
    """ROC AUC of `fakes` against `reals`, with a 95 % interval that resamples the two sides separately (a kind
    of four fakes keeps both classes in every resample)."""
    y = np.r_[np.zeros(len(reals)), np.ones(len(fakes))]
    draws = np.stack([np.r_[reals[rng.integers(0, len(reals), len(reals))],
                            fakes[rng.integers(0, len(fakes), len(fakes))]] for _ in range(boot)])
    boots = roc_auc_rows(y, draws)
    return {"auc": float(roc_auc_rows(y, np.r_[reals, fakes])), "fakes": len(fakes), "reals": len(reals),
            "ci": (float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5)))}


def _aucs_by(rows: list[Labelled], p: np.ndarray, seed: int, boot: int) -> tuple[dict, dict]:
    """({kind: its fakes against every real}, {media: its fakes against its reals}), groups with both classes."""
    from synthfake.media import kind_of

    media_of = [kind_of(r.path) or "other" for r in rows]
    real, fake = np.asarray([r.label == 0 for r in rows]), np.asarray([r.label == 1 for r in rows])
    kinds, media = np.asarray([r.kind for r in rows]), np.asarray(media_of)
    rng = np.random.default_rng(seed)
    by_kind = {k: _auc_against(p[real], p[fake & (kinds == k)], rng, boot)
               for k in sorted({r.kind for r in rows if r.label == 1}) if real.any()}
    both = {m for m, r in zip(media_of, rows) if r.label == 0} & {m for m, r in zip(media_of, rows) if r.label == 1}
    rng = np.random.default_rng(seed)
    by_media = {m: _auc_against(p[real & (media == m)], p[fake & (media == m)], rng, boot) for m in sorted(both)}
    return by_kind, by_media


def report_external(folder: str, rows: list[Labelled], probs: dict[str, float | None], meta: DetectorMeta,
                    skipped: list[dict], seed: int = 0, boot: int = BOOT) -> ExternalReport:
    """Metrics of file-level probabilities with bootstrap intervals (files resampled with replacement)."""
    if not rows:
        raise SynthfakeError(f"{folder}: no labelled file could be scored ({len(skipped)} skipped)")
    y = np.asarray([r.label for r in rows], int)
    p = np.asarray([float(meta.fallback_label) if probs[r.path] is None else probs[r.path] for r in rows])
    none = np.asarray([probs[r.path] is None for r in rows], bool)  # no crops: the fallback label
    pred = np.where(none, meta.fallback_label, (p >= meta.threshold).astype(int))
    bt, bf1 = best_threshold(y, p)
    st = share_threshold(p[~none], SHARE) if (~none).sum() >= 2 else meta.threshold  # as `predict --fake-share`
    spred = np.where(none, meta.fallback_label, (p >= st).astype(int))
    auc = auc_or_none(y, p)
    by_kind, by_media = _aucs_by(rows, p, seed, boot)
    return ExternalReport(
        folder=folder, files=len(y), fakes=int(y.sum()), threshold=meta.threshold, roc_auc=auc,
        roc_auc_ci=_ci(roc_auc_rows, y, p, seed=seed, boot=boot) if auc is not None else None,
        macro_f1=macro_f1(y, pred), macro_f1_ci=_ci(macro_f1_rows, y, pred, seed=seed, boot=boot),
        best_threshold=bt, best_macro_f1=bf1,
        best_macro_f1_ci=_ci(_best_f1_rows, y, p, seed=seed, boot=boot),
        recall_by_kind=_groups([r.kind for r in rows], y, pred, seed, boot),
        recall_by_model=_groups([r.model for r in rows], y, pred, seed, boot),
        no_crops=sum(v is None for v in probs.values()), auc_by_kind=by_kind, auc_by_media=by_media, skipped=skipped,
        probs={k: v for k, v in probs.items() if v is not None}, share_threshold=st,
        share_macro_f1=macro_f1(y, spred), share_macro_f1_ci=_ci(macro_f1_rows, y, spred, seed=seed, boot=boot),
        fallback_label=meta.fallback_label)


def seen_exclusion(meta, unseen: bool) -> Exclude | None:
    """With `unseen`, the files to leave out of a labelled folder: those byte for byte a picture or clip behind the
    model's train or val split (detector.json `seen_sources`); None otherwise."""
    if not unseen:
        return None
    return Exclude(required_seen(meta), "byte for byte a picture or clip the model saw in training (--unseen)")


def score_folder(model_dir: Path, folder: Path, labels: Path, batch_size: int, device: str, fp16: bool,
                 workers: int, show: bool, log, exclude: Exclude | None = None
                 ) -> tuple[list[Labelled], list[dict], dict[str, float | None]]:
    """(rows scored, rows skipped with their reason, each scored file's probability or None) of a labelled folder,
    scored by `predict`; skipped rows are logged."""
    rows, skipped = labelled_files(folder, labels, exclude)
    for s in skipped:
        log(f"{folder / s['path']}: {s['reason']}: skipped")
    probs = score_labelled(model_dir, folder, rows, batch_size, device, fp16, workers, show, log) if rows else {}
    return rows, skipped, probs


def evaluate_external(model_dir: Path, folder: Path, labels: Path, batch_size: int = 16, device: str = "cpu",
                      fp16: bool = False, workers: int = 2, show: bool = True, log=print,
                      unseen: bool = False) -> ExternalReport:
    """Read the labels, score the files that exist, and report; skipped rows are logged with their reason.

    The scores are `predict`'s (onnxruntime on CPU, or torch where predict uses it): the model's settings are read
    from its folder (`read_meta`, plain JSON), so a folder `predict` scores (model.onnx without the torch
    weights) is evaluated too."""
    from .meta import read_meta

    folder, meta = Path(folder), read_meta(Path(model_dir))
    return scored_as_found(model_dir, meta, folder, labels, batch_size, device, fp16, workers, show, log,
                           seen_exclusion(meta, unseen))[0]


def scored_as_found(model_dir: Path, meta, folder: Path, labels: Path, batch_size: int, device: str, fp16: bool,
                    workers: int, show: bool, log, exclude: Exclude | None = None
                    ) -> tuple[ExternalReport, list[Labelled], dict]:
    """(the report, with the confound of what was scored; the rows scored; their probabilities) of the folder as
    it is."""
    rows, skipped, probs = score_folder(model_dir, folder, labels, batch_size, device, fp16, workers, show, log,
                                        exclude)
    rep = report_external(str(folder), rows, probs, meta, skipped)
    rep.confound, rep.confound_auc = scored_confound(folder, labels, rows)
    return rep, rows, probs


def scored_confound(folder: Path, labels: Path, rows: list[Labelled]) -> tuple[str | None, float | None]:
    """The best single media property of the scored files and its AUC (folded to >= 0.5), as `gen audit FOLDER
    --labels` computes it: what a detector's AUC on this set must beat to say more than file format or size."""
    from synthfake.audit.external import folder_confounds, top_confound

    if not rows:
        return None, None
    check, _ = folder_confounds(folder, labels, log=lambda m: None)
    top = top_confound(check)
    return (top[0], float(top[1])) if top else (None, None)


def fmt(v: float | None, ci=None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _share_called(rep: ExternalReport) -> str:
    """What the --fake-share threshold calls fake, counted: a folder of one or three files cannot be split in half."""
    called = sum(v >= rep.share_threshold for v in rep.probs.values())
    if len(rep.probs) < 2:
        return f"{called} of {len(rep.probs)} scored called fake (too few to rank: the saved threshold)"
    return f"{called} of {len(rep.probs)} scored called fake"


def external_tables(rep: ExternalReport, title: str):
    """Rich tables: summary, recall per kind, recall per model."""
    from synthfake.tables import table

    s = summary_table(title, (
        ("files scored (fakes)", f"{rep.files} ({rep.fakes})"), ("skipped", str(len(rep.skipped))),
        ("no crops (fallback label)", str(rep.no_crops)), ("ROC AUC", fmt(rep.roc_auc, rep.roc_auc_ci)),
        (f"macro F1 @ saved threshold {rep.threshold:.4f}", fmt(rep.macro_f1, rep.macro_f1_ci)
         + (ONE_CLASS if rep.fakes in (0, rep.files) else "")),
        (f"macro F1 @ {rep.share_threshold:.4f}: {_share_called(rep)} (--fake-share {SHARE}, no labels)",
         fmt(rep.share_macro_f1, rep.share_macro_f1_ci)),
        (f"macro F1 @ best threshold {rep.best_threshold:.4f} (oracle)", fmt(rep.best_macro_f1, rep.best_macro_f1_ci)),
        (f"confound: {rep.confound or 'n/a'} alone, ROC AUC", fmt(rep.confound_auc))), "value [95 % bootstrap]")
    out = [s]
    if rep.skipped:
        out.append(table("skipped files", ("path", "reason"), ((sk["path"], sk["reason"]) for sk in rep.skipped),
                         left=("path", "reason")))
    groups = [*((f"kind {k}", "every real", d) for k, d in rep.auc_by_kind.items()),
              *((f"media {m}", f"{m} reals", d) for m, d in rep.auc_by_media.items())]
    if groups:
        out.append(table("ROC AUC of a group's fakes against reals",
                         ("fakes", "against", "fakes / reals", "ROC AUC [95 %]"),
                         ((g, a, f"{d['fakes']} / {d['reals']}", fmt(d["auc"], d["ci"])) for g, a, d in groups),
                         left=("fakes", "against")))
    for what, d in (("kind", rep.recall_by_kind), ("model", rep.recall_by_model)):
        out.append(table(f"recall per {what} at the saved threshold (share predicted as its true class)",
                         (what, "files", "recall [95 %]"),
                         ((g, str(r["files"]), fmt(r["recall"], r["ci"])) for g, r in d.items())))
    return out
