"""`gen export`: a dataset in the layouts detector labs already train with (one module per format).

    deepfakebench   frames, landmarks and the dataset JSON of SCLBD/DeepfakeBench
    ffpp            FaceForensics++ folders (T_S names) and split pair lists
    hf              Parquet shards with typed Image/Video features + a huggingface_hub dataset card
    webdataset      tar shards of (media, .cls label, record JSON) by webdataset.TarWriter

Every format writes each file or folder under a temporary name and renames it, so an interrupted export is
resumed by running it again (what a killed one left under a temporary name is removed first); `export.json`,
written last, marks a finished export and records what was skipped. ffpp and hf (without --embed) copy the
media; `--link` hard-links it instead (editing such an export in place edits the dataset).
"""

from __future__ import annotations

from pathlib import Path

from synthfake.errors import ManifestError, SynthfakeError
from synthfake.files import canonical_hash, write_json_atomic
from synthfake.registry import Contract, Registry

from .common import Options, Result, counts_of, select, unfinished, write_marker
from .folder import MARKER, TMP, read_marker, remove_stale_tmp, stale_tmp

# Each format module: VERSION, ready(options) (None, or why not), export(items, out, options, result) and
# SETTINGS, the Options fields it reads (an export folder resumed with other values of those is refused).
FORMATS = Registry("export format", {f: f"{__name__}.{f}" for f in ("deepfakebench", "ffpp", "hf", "webdataset")},
                   Contract(run="export", run_args=4), install_hint="pip install 'synthfake[export]'")
SETTINGS = ".export-settings.json"
FLAGS = {"embed": "--embed", "shard_mb": "--shard-size", "frames": "--frames", "link": "--link"}


def _in_effect(module, o: Options) -> list[str]:
    """The Options fields that shape this export: the format's SETTINGS, less `link` where nothing is copied
    (hf with --embed holds the media inside its Parquet files)."""
    return [k for k in module.SETTINGS if not (k == "link" and o.embed)]


def _check_flags(fmt: str, module, o: Options) -> None:
    """--embed and --link where they do nothing are refused, not ignored."""
    if o.embed and "embed" not in module.SETTINGS:
        raise SynthfakeError(f"--embed: applies to --format hf only (media bytes inside its Parquet files), "
                             f"not {fmt}; drop it")
    if o.link and "link" not in _in_effect(module, o):
        raise SynthfakeError(f"--link: applies to --format ffpp and hf without --embed (which copy the media), "
                             f"not {fmt}{' --embed' if o.embed else ''}; drop it")


def _compared(s: dict) -> dict:
    """Settings as compared: the record count is not one (the records' hash is); a settings file written before
    --link (no `link` key) is of an export that hard-linked its media (ffpp, hf without --embed)."""
    s = {k: v for k, v in s.items() if k != "n_records"}
    if "link" not in s:
        s["link"] = True if s.get("format") == "ffpp" or (s.get("format") == "hf" and not s.get("embed")) else None
    return s


def _shown(key: str, value) -> str:
    if key in ("embed", "link"):
        return "on" if value else "off"
    return repr(value)


def _check_settings(out: Path, settings: dict) -> None:
    """An export folder holds one export: resuming with other settings would mix two layouts."""
    import json

    p = out / SETTINGS
    if p.is_file():
        stored = json.loads(p.read_text())
        old, new = _compared(stored), _compared(settings)
        fresh = f"use a new --out, or delete {out} to export again"
        if old["format"] != new["format"]:
            raise SynthfakeError(f"{out}: holds another export (format {old['format']} there vs {new['format']} "
                                 f"now); {fresh}")
        if old["records"] != new["records"]:
            n = stored.get("n_records")
            if n is None:  # a settings file from before the count was kept: a finished export's own count
                n = (read_marker(out) or {}).get("exported")
            there = f"of {n} record(s)" if n is not None else "of other records"
            raise SynthfakeError(f"{out}: holds another export {there}; the dataset has {settings['n_records']} "
                                 f"intact record(s) now (other records: their hash is {old['records']} there vs "
                                 f"{new['records']} now); {fresh}")
        if old != new:
            diff = ", ".join(f"{FLAGS.get(k, k)} {_shown(k, old.get(k))} there vs {_shown(k, v)} now"
                             for k, v in new.items() if old.get(k) != v)
            raise SynthfakeError(f"{out}: holds another export ({diff}); rerun with its settings to resume it, "
                                 f"or {fresh}")
    elif out.exists() and any(not TMP.fullmatch(x.name) for x in out.iterdir()):  # a kill before the first rename
        raise SynthfakeError(f"{out}: folder is not empty and holds no synthfake export; use a new --out")
    write_json_atomic(p, settings)


def run_export(dataset: str | Path, fmt: str, out: str | Path, o: Options) -> Result:
    """Export every intact record of `dataset` to `out` in format `fmt`."""
    if fmt not in FORMATS.entries:
        raise SynthfakeError(f"--format {fmt}: {FORMATS.unknown(fmt)}")
    module = FORMATS.get(fmt)  # a missing extra: its ImportError, one line with the pip command (exit 3)
    _check_flags(fmt, module, o)
    why = FORMATS.why_not_ready(fmt, o)
    if why:
        raise SynthfakeError(f"--format {fmt}: {why}")
    dataset, out = Path(dataset), Path(out)
    if out.resolve() == dataset.resolve() or dataset.resolve() in out.resolve().parents:
        raise SynthfakeError(f"{out}: the export must go outside the dataset folder {dataset}")
    try:
        missing = unfinished(dataset)
    except ManifestError as e:  # a line that is not JSON with an id and index: what is made cannot be counted
        if not o.partial:
            raise SynthfakeError(f"{e}: the samples made cannot be counted past it: mend or remove the line, or "
                                 f"export the valid records with --partial") from None
        missing = None
    if missing and missing[0] and not o.partial:
        left, failed, total = missing
        raise SynthfakeError(f"{dataset}: {left} of {total} planned samples are not made yet ({total - left - failed} "
                             f"recorded, {failed} failed): finish it (rerun the same `gen run`), or export what is "
                             f"there with --partial")
    items, skipped = select(dataset, o.verify, o.log)
    if missing and (missing[0] or missing[1]):
        o.log(f"not in this export: {missing[1]} planned sample(s) that failed, {missing[0]} not made yet "
              f"(of {missing[2]} planned)")
    used = _in_effect(module, o)
    settings = {"format": fmt, "records": canonical_hash(items.ids()), "n_records": len(items),
                **{k: getattr(o, k) if k in used else None for k in FLAGS}}
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, settings)
    (out / MARKER).unlink(missing_ok=True)
    remove_stale_tmp(out, o.log)  # a killed export's half-written files, which a loader would read
    res = Result(fmt, out, dataset, skipped=list(skipped), counts=counts_of(items))
    extra = module.export(items, out, o, res)
    left = stale_tmp(out)
    if left:  # never marked finished with a temporary file in it
        raise SynthfakeError(f"{left[0]}: a temporary file appeared during the export (another export into {out} "
                             f"at the same time?); not marked finished: rerun it once that one has ended")
    write_marker(res, dataset, extra)
    return res
