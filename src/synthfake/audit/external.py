"""`gen audit FOLDER --labels labels.csv`: the confound check (audit check 6) on a labelled folder.

Each listed file is probed (kind, size, fps, duration, codec, audio, bytes) and the same single-property
ROC AUCs as a dataset's audit are computed, so an external set whose fakes are told apart by format or
size alone (a showcase GIF vs a camera photo) is visible next to any detector scored on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import media
from ..shared_types import MediaMeta
from .base import Settings
from .confounds import check as check_confounds, most_telling
from ..errors import MediaError
from ..labels import labelled_files


@dataclass
class LabelledMedia:
    """What the confound check reads of a record, for a file of a labelled folder."""

    path: str
    label: int
    bytes: int
    media: MediaMeta


@dataclass
class FolderData:
    """The part of AuditData the confound check uses."""

    root: Path
    records: list[LabelledMedia]
    settings: Settings

    def media_path(self, r: LabelledMedia) -> Path:
        return self.root / r.path


def folder_confounds(folder: Path, labels: Path, settings: Settings = Settings(), log=print):
    """(confound Check, skipped rows with reasons) of a labelled folder; unreadable files are skipped."""
    folder = Path(folder)
    rows, skipped = labelled_files(folder, labels)
    recs = []
    for r in rows:
        try:
            info = media.probe(folder / r.path)
        except MediaError as e:
            skipped.append({"path": r.path, "reason": str(e)})
            continue
        recs.append(LabelledMedia(r.path, r.label, (folder / r.path).stat().st_size, info))
    for s in skipped:
        log(f"{folder / s['path']}: {s['reason']}: skipped")
    return check_confounds(FolderData(folder, recs, settings)), skipped


def top_confound(check) -> tuple[str, float] | None:
    """The most telling property and its AUC folded to >= 0.5 (how well it alone separates the classes)."""
    scored = [r for r in check.details["properties"] if r["auc"] is not None]
    if not scored:
        return None
    r = most_telling(scored)
    return r["property"], max(r["auc"], 1 - r["auc"])


def confound_table(check, title: str):
    """One row per property: files compared and its AUC alone; the verdict and summary in the caption."""
    from ..tables import table

    return table(title, ("property", "real", "fake", "AUC alone"),
                 ((r["property"], str(r["n_real"]), str(r["n_fake"]), "n/a" if r["auc"] is None else f"{r['auc']:.3f}")
                  for r in check.details["properties"]), caption=f"{check.status}: {check.summary}")
