"""`gen detect eval --labels --equalise`: the folder scored as found and re-encoded by one writer (equalise.py),
compared over the same files, each beside the AUC of the media property that tells its labels best."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from synthfake.labels import Labelled

from .external import (ExternalReport, auc_or_none, fmt, report_external, score_folder, scored_as_found,
                       scored_confound, seen_exclusion)


def confound_of(folder: Path, rows: list[Labelled]) -> tuple[str | None, float | None]:
    """`scored_confound` of these rows of a folder only (through a labels CSV that lists them)."""
    if not rows:
        return None, None
    with tempfile.TemporaryDirectory(prefix="synthfake-eval-") as tmp:
        labels = Path(tmp) / "labels.csv"
        with open(labels, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["path", "label", "kind", "model"])
            w.writerows([r.path, r.label, r.kind, r.model] for r in rows)
        return scored_confound(folder, labels, rows)


def enlargement_confound(rows: list[Labelled], source_of: dict[str, str],
                         enlarged: dict[str, float]) -> tuple[str | None, float | None]:
    """("equalise.enlarged", its AUC folded to >= 0.5): how well the equaliser's own enlargement of small sources
    (the cubic blur it leaves, which no property of the copies shows) alone tells the labels of the copies."""
    auc = auc_or_none([r.label for r in rows], [enlarged[source_of[r.path]] for r in rows])
    return (None, None) if auc is None else ("equalise.enlarged", max(auc, 1 - auc))


def best_confound(*found: tuple[str | None, float | None]) -> tuple[str | None, float | None]:
    """The (property, folded AUC) with the highest AUC among those measured."""
    return max((f for f in found if f[1] is not None), key=lambda f: f[1], default=(None, None))


SAME = "found_same_files"  # evaluate_equalised's as-found report over the files scored both ways


def evaluate_equalised(model_dir: Path, folder: Path, labels: Path, settings=None, cache: Path | None = None,
                       batch_size: int = 16, device: str = "cpu", fp16: bool = False, workers: int = 2,
                       show: bool = True, log=print, unseen: bool = False) -> dict[str, ExternalReport]:
    """{"found": the folder as it is, every scored file (one the equaliser cannot encode counts with the fallback
    label's probability, as `predict` gives it); SAME: the same scores over only the files scored equalised too;
    "equalised": those files re-encoded by one writer (equalise.py)}. SAME and "equalised" hold the same files, so
    their AUCs differ by the re-encoding alone, not by which files were dropped. The equalised report names files
    by their source path, and both list the files that could not be equalised.

    The equalised cache is checked (and filled) before anything is scored: a cache that would overwrite a file the
    equaliser did not write is refused before any work."""
    from .equalise import EqualiseSettings, equalise_folder
    from .meta import read_meta

    folder = Path(folder)
    meta = read_meta(Path(model_dir))  # a folder that cannot be scored with fails before anything is re-encoded
    exclude = seen_exclusion(meta, unseen)
    eq = equalise_folder(folder, labels, settings or EqualiseSettings(), cache, workers, log, exclude)
    found, rows, probs = scored_as_found(model_dir, meta, folder, labels, batch_size, device, fp16, workers, show, log,
                                         exclude)
    for s in eq.skipped:
        if s["reason"].startswith("not equalised"):
            log(f"{folder / s['path']}: {s['reason']}: skipped")
    eq_rows, eq_skipped, eq_probs = score_folder(model_dir, eq.folder, eq.labels, batch_size, device, fp16, workers,
                                                 show, log)
    found_paths = {r.path for r in rows}
    both = [r for r in eq_rows if eq.source_of[r.path] in found_paths]  # every copy's source, unless it went since
    sources = {eq.source_of[r.path] for r in both}
    left = eq.skipped + [{**s, "path": eq.source_of.get(s["path"], s["path"])} for s in eq_skipped]
    left += [{"path": eq.source_of[r.path], "reason": "not scored as found"} for r in eq_rows if r not in both]
    rep = report_external(str(eq.folder), both, {r.path: eq_probs[r.path] for r in both}, meta, left)
    rep.confound, rep.confound_auc = best_confound(confound_of(eq.folder, both),
                                                   enlargement_confound(both, eq.source_of, eq.enlarged))
    rep.probs = {eq.source_of[k]: v for k, v in rep.probs.items()}
    same_rows = [r for r in rows if r.path in sources]
    same = report_external(str(folder), same_rows, {r.path: probs[r.path] for r in same_rows}, meta,
                           found.skipped + [s for s in left if s["path"] in found_paths and s["path"] not in sources])
    same.confound, same.confound_auc = confound_of(folder, same_rows)
    reps = {"found": found, SAME: same, "equalised": rep}
    if left_out(reps):
        log(f"comparison: {comparison_note(reps)}")
    return reps


def left_out(reps: dict[str, ExternalReport]) -> list[str]:
    """Files scored as found but not in the comparison (the equaliser skipped them), by path."""
    listed = {sk["path"] for sk in reps["found"].skipped}
    return [sk["path"] for sk in reps[SAME].skipped if sk["path"] not in listed]


def comparison_note(reps: dict[str, ExternalReport]) -> str:
    """Which files the comparison holds: the same both ways, and those the equaliser skipped, left out of both."""
    same, extra = reps[SAME], left_out(reps)
    note = f"found and equalised: the same {same.files} file(s) both ways"
    if not extra:
        return note
    fallback = sum(p not in reps["found"].probs for p in extra)
    return (f"{note}; {len(extra)} the equaliser skipped (listed with their reason) are left out of both; 'found, "
            f"every file' scores them as found too ({fallback} of them without crops, at the fallback label "
            f"{reps['found'].fallback_label} as probability)")


def comparison_table(reps: dict[str, ExternalReport], title: str):
    """One row per version of the set over the same files (as found, equalised): the detector's AUC beside the
    confound's; then, when the equaliser skipped files, the as-found report of every scored file."""
    from synthfake.tables import table

    named = list(reps.items())
    caption = "a detector says more than the files' format or size only where its AUC is above the confound's"
    if SAME in reps:
        named = [("found", reps[SAME]), ("equalised", reps["equalised"])]
        if left_out(reps):
            named.append(("found, every file", reps["found"]))
        caption = f"{comparison_note(reps)}. {caption}"
    return table(title, ("set", "files (fakes)", "skipped", "detector ROC AUC [95 %]", "most telling property",
                         "its AUC alone"),
                 ((name, f"{rep.files} ({rep.fakes})", str(len(rep.skipped)), fmt(rep.roc_auc, rep.roc_auc_ci),
                   rep.confound or "n/a", fmt(rep.confound_auc)) for name, rep in named),
                 left=("set", "most telling property"), caption=caption)
