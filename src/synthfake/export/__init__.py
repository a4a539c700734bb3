"""`gen export`: a dataset in the layouts detector labs already train with (one module per format).

    deepfakebench   frames, landmarks and the dataset JSON of SCLBD/DeepfakeBench
    ffpp            FaceForensics++ folders (T_S names) and split pair lists
    hf              Parquet shards with typed Image/Video features + a huggingface_hub dataset card
    webdataset      tar shards of (media, .cls label, record JSON) by webdataset.TarWriter

Every format writes each file or folder under a temporary name and renames it, so an interrupted export is
resumed by running it again; `export.json`, written last, marks a finished export and records what was skipped.
"""

from __future__ import annotations

from pathlib import Path

from synthfake.errors import SynthfakeError
from synthfake.files import canonical_hash, write_json_atomic
from synthfake.registry import Contract, Registry

from .common import MARKER, Options, Result, counts_of, select, unfinished, write_marker

# Each format module: VERSION, ready(options) (None, or why not), export(items, out, options, result) and
# SETTINGS, the Options fields it reads (an export folder resumed with other values of those is refused).
FORMATS = Registry("export format", {f: f"{__name__}.{f}" for f in ("deepfakebench", "ffpp", "hf", "webdataset")},
                   Contract(run="export", run_args=4), install_hint="pip install 'synthfake[export]'")
SETTINGS = ".export-settings.json"


def _check_settings(out: Path, settings: dict) -> None:
    """An export folder holds one export: resuming with other settings would mix two layouts."""
    import json

    p = out / SETTINGS
    if p.is_file():
        old = json.loads(p.read_text())
        if old != settings:
            diff = ", ".join(f"{k}: {old.get(k)!r} there vs {v!r} now" for k, v in settings.items() if old.get(k) != v)
            raise SynthfakeError(f"{out}: holds another export ({diff}); use a new --out")
    elif out.exists() and any(out.iterdir()):
        raise SynthfakeError(f"{out}: folder is not empty and holds no synthfake export; use a new --out")
    write_json_atomic(p, settings)


def run_export(dataset: str | Path, fmt: str, out: str | Path, o: Options) -> Result:
    """Export every intact record of `dataset` to `out` in format `fmt`."""
    if fmt not in FORMATS.entries:
        raise SynthfakeError(f"--format {fmt}: {FORMATS.unknown(fmt)}")
    module = FORMATS.get(fmt)  # a missing extra: its ImportError, one line with the pip command (exit 3)
    why = FORMATS.why_not_ready(fmt, o)
    if why:
        raise SynthfakeError(f"--format {fmt}: {why}")
    dataset, out = Path(dataset), Path(out)
    if out.resolve() == dataset.resolve() or dataset.resolve() in out.resolve().parents:
        raise SynthfakeError(f"{out}: the export must go outside the dataset folder {dataset}")
    missing = unfinished(dataset)
    if missing and missing[0] and not o.partial:
        left, failed, total = missing
        raise SynthfakeError(f"{dataset}: {left} of {total} planned samples are not made yet ({total - left - failed} "
                             f"recorded, {failed} failed): finish it (rerun the same `gen run`), or export what is "
                             f"there with --partial")
    items, skipped = select(dataset, o.verify, o.log)
    if missing and (missing[0] or missing[1]):
        o.log(f"not in this export: {missing[1]} planned sample(s) that failed, {missing[0]} not made yet "
              f"(of {missing[2]} planned)")
    settings = {"format": fmt, "records": canonical_hash(items.ids()),
                **{k: getattr(o, k) if k in module.SETTINGS else None for k in ("embed", "shard_mb", "frames")}}
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, settings)
    (out / MARKER).unlink(missing_ok=True)
    res = Result(fmt, out, dataset, skipped=list(skipped), counts=counts_of(items))
    extra = module.export(items, out, o, res)
    write_marker(res, dataset, extra)
    return res
