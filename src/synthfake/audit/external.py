"""`gen audit FOLDER --labels labels.csv`: the confound check (audit check 6) on a labelled folder.

Each listed file is probed (kind, size, fps, duration, codec, audio, bytes) and the same single-property
ROC AUCs as a dataset's audit are computed, so an external set whose fakes are told apart by format or
size alone (a showcase GIF vs a camera photo) is visible next to any detector scored on it. A labels file of one
class (or one that leaves one class readable) has no AUC: the check WARNs saying so, counting the files it read.
A labels file none of whose files can be read (the wrong folder, paths relative to another one) is bad input, not
a WARN that lets a CI gate pass. `--check` names only checks in FOLDER_CHECKS here; any other is refused
(folder_checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import media
from ..shared_types import MediaMeta
from .base import WARN, Settings, one_class
from .confounds import check as check_confounds, most_telling
from ..errors import MediaError, SynthfakeError
from ..checks import existing_folder
from ..labels import present, read_labels

FOLDER_CHECKS = ("confounds",)  # the audit checks that apply to a labelled folder (the rest read a dataset's records)


def folder_checks(names) -> tuple[str, ...]:
    """The checks `gen audit FOLDER --labels CSV --check NAME...` runs (None or empty: all that apply); a name that
    does not apply to a labelled folder (a dataset's check, or no check at all) is a SynthfakeError (bad input)."""
    import difflib

    from . import CHECKS

    for name in names or ():
        if name in FOLDER_CHECKS:
            continue
        if name in CHECKS.entries or name == "integrity":
            what = "a dataset's check only"
        else:
            near = difflib.get_close_matches(name, FOLDER_CHECKS, n=1, cutoff=0.6)
            what = "unknown audit check" + (f" (did you mean '{near[0]}'?)" if near else "")
        raise SynthfakeError(f"--check {name}: {what}; checks that apply to a labelled folder (--labels): "
                             f"{', '.join(FOLDER_CHECKS)}")
    return tuple(n for n in FOLDER_CHECKS if not names or n in names)


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
    """(confound Check, skipped rows with reasons) of a labelled folder; unreadable files are skipped. None of the
    listed files readable is a SynthfakeError (one line naming the folder and the CSV)."""
    folder = existing_folder(Path(folder))
    table = read_labels(labels, folder)
    listed = [r.label for r in table]
    rows, skipped = present(table, folder)
    recs = []
    for r in rows:
        try:
            info = media.probe(folder / r.path)
        except MediaError as e:
            skipped.append({"path": r.path, "reason": str(e)})
            continue
        recs.append(LabelledMedia(r.path, r.label, (folder / r.path).stat().st_size, info))
    if not recs:
        first = skipped[0]
        raise SynthfakeError(f"{folder}: none of the {len(table)} files listed in {labels} can be read (e.g. "
                             f"{first['path']}: {first['reason']}); are its paths relative to this folder?")
    for s in skipped:
        log(f"{folder / s['path']}: {s['reason']}: skipped")
    check = check_confounds(FolderData(folder, recs, settings))
    if check.status == WARN and "not_measured" in check.details:  # say which file left one class
        measured = one_class(*[sum(r.label == y for r in recs) for y in (0, 1)])  # the files read, not the rows
        if not (0 in listed and 1 in listed):
            why = f"{measured} in {Path(labels).name}"
            if skipped:
                why += f" ({len(skipped)} listed file{'s' if len(skipped) > 1 else ''} skipped)"
        else:
            why = f"{measured} among the {len(recs)} readable files ({len(skipped)} skipped)"
        check.summary = check.details["not_measured"] = f"measured nothing: {why}: no AUC"
    return check, skipped


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
