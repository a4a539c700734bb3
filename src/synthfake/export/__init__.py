"""`gen export`: a dataset in the layouts detector labs already train with (one module per format).

    deepfakebench   frames, landmarks and the dataset JSON of SCLBD/DeepfakeBench
    ffpp            FaceForensics++ folders and split pair lists
    hf              Parquet shards + dataset card, for `datasets.load_dataset`
    webdataset      tar shards of (media, record JSON)

Every format writes each file or folder under a temporary name and renames it, so an interrupted export is
resumed by running it again; `export.json`, written last, marks a finished export and records what was skipped.
"""

from __future__ import annotations

from pathlib import Path

from synthfake.errors import SynthfakeError
from synthfake.files import canonical_hash, write_json_atomic

from .common import MARKER, Options, Result, counts_of, select, write_bytes_atomic, write_marker

FORMATS = ("deepfakebench", "ffpp", "hf", "webdataset")
SETTINGS = ".export-settings.json"


def _module(fmt: str):
    """The format's module, imported alone (hf needs pyarrow, from the [export] extra)."""
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{fmt}")
    except ImportError as e:
        raise SynthfakeError(f"--format {fmt}: missing dependency {e.name}; pip install 'synthfake[export]'") from None


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
    if fmt not in FORMATS:
        raise SynthfakeError(f"--format {fmt}: unknown (choose from {', '.join(FORMATS)})")
    dataset, out = Path(dataset), Path(out)
    if out.resolve() == dataset.resolve() or dataset.resolve() in out.resolve().parents:
        raise SynthfakeError(f"{out}: the export must go outside the dataset folder {dataset}")
    items, skipped = select(dataset, o.verify, o.log)
    settings = {"format": fmt, "records": canonical_hash(sorted(it.record.id for it in items)),
                "embed": o.embed if fmt == "hf" else None,
                "shard_mb": o.shard_mb if fmt in ("hf", "webdataset") else None,
                "frames": o.frames if fmt == "deepfakebench" else None}
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, settings)
    (out / MARKER).unlink(missing_ok=True)
    res = Result(fmt, out, skipped=list(skipped), counts=counts_of(items))
    extra = _module(fmt).export(items, out, o, res)
    if fmt == "hf":
        from .card import card

        write_bytes_atomic(out / "README.md", card(dataset, res.counts, extra["files"], o.embed, res.skipped).encode())
    write_marker(res, dataset, extra)
    return res
