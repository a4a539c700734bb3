"""The dataset card of an `hf` export (README.md), written with huggingface_hub's DatasetCard and DatasetCardData:
YAML metadata the Hub reads (licence, tags, task categories, size, the data files of each split) above counts,
the licences of the models that made the data, and the plan.

The licence lines follow the README's licence table (every registered backend has one: tested); every weights-free backend still relies on dlib's 68-point
shape predictor, whose training data (iBUG 300-W) excludes commercial use. The YAML `license` is what
`gen export --license` says (the licence of your source media decides it); without it, `other`, explained in
the card.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..software import sets_of

DLIB = ("dlib 68-point shape predictor (trained on iBUG 300-W: non-commercial; see the synthfake README)")
LICENCES = {
    "landmark_swap": f"weights-free; {DLIB}",
    "landmark_reenact": f"weights-free; {DLIB}",
    "mouth_sync": f"weights-free; {DLIB}",
    "morph": f"weights-free; {DLIB}",
    "self_blend": f"weights-free; {DLIB}",
    "aligned_swap": f"weights-free stand-in for inswapper (synthfake's code, Apache-2.0); {DLIB}",
    "crop_reenact": f"weights-free stand-in for LivePortrait (synthfake's code, Apache-2.0); {DLIB}",
    "crop_sync": f"weights-free stand-in for Wav2Lip (synthfake's code, Apache-2.0); {DLIB}",
    **{name: f"weights-free; synthfake's small autoencoder (generators/assets/latent_ae.onnx, trained by synthfake on "
             f"LivePortrait's example media, MIT); {DLIB}"
       for name in ("latent_decode", "latent_decode_wide", "latent_decode_colour", "latent_decode_sharp")},
    "reencode": f"real clips re-encoded; faces found with {DLIB}",
    "inswapper": "inswapper_128 + ArcFace w600k_r50 (insightface): non-commercial research only",
    "diffusers_t2i": "the diffusers checkpoint's licence: FLUX.1 [schnell] Apache-2.0, FLUX.1 [dev] Non-Commercial",
    "http_t2i": "the hosted provider's terms",
    "liveportrait": "LivePortrait: code and models MIT",
    "wav2lip": "Wav2Lip: personal/research/non-commercial only (trained on LRS2)",
}
SPLIT_NAMES = {"val": "validation"}  # as hf.HF_SPLIT: the card shows the splits under their Hugging Face names


def _table(title: str, counts: dict[str, int]) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(counts.items()))
    return f"| {title} | samples |\n|---|---|\n{rows}\n"


def _size_category(n: int) -> str:
    """The Hub's size_categories bucket for `n` rows."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def card_data(counts: dict, files: dict[str, list[str]], license_id: str | None):
    from huggingface_hub import DatasetCardData

    extra = {} if license_id else {"license_name": "source-media-and-model-licences",
                                   "license_link": "README.md#licences"}
    return DatasetCardData(
        license=license_id or "other", pretty_name="synthfake deepfake dataset",
        task_categories=["image-classification", "video-classification"], tags=["deepfake-detection", "synthetic"],
        size_categories=[_size_category(sum(counts["label"].values()))],
        configs=[{"config_name": "default", "default": True,
                  "data_files": [{"split": s, "path": paths} for s, paths in sorted(files.items())]}], **extra)


def card(dataset: Path, out: Path, counts: dict, files: dict[str, list[str]], embed: bool, skipped: list[str],
         license_id: str | None = None) -> str:
    """The README.md text of an `hf` export."""
    from huggingface_hub import DatasetCard

    plan_file = Path(dataset) / "plan.json"
    plan = json.loads(plan_file.read_text()) if plan_file.is_file() else {}
    backends = sorted(counts["backend"])
    lic = "\n".join(f"- **{b}**: {LICENCES.get(b, 'unknown backend: check its model licence')}" for b in backends)
    noncommercial = any("non-commercial" in LICENCES.get(b, "").lower() for b in backends)
    media = ("embedded in the Parquet files" if embed else
             "files beside the Parquet files; `datasets` opens them relative to the working directory, so load "
             "from inside this folder (`--embed` makes the Parquet files self-contained)")
    splits = {SPLIT_NAMES.get(k, k): v for k, v in counts["split"].items()}
    how = "" if license_id else (" (set it with `gen export --license`: the licence of the source media decides "
                                 "it)")
    written = "\n".join("- " + ", ".join(f"{k} {v}" for k, v in sorted(s.items()) if v) for s in sets_of(dataset))
    nc = "\nSome of these are non-commercial: this data may not be used commercially.\n" if noncommercial else ""
    body = f"""# synthfake dataset

Synthetic deepfakes (label 1, `fake`) and the real clips they were made from (label 0, `real`), made by
synthfake `gen run`; exported by `gen export --format hf` to `{Path(out).resolve()}`. Load it with
`datasets.load_dataset("{Path(out).resolve()}")` (its path where it was exported; pass the new one if you move
it). Media: `image` (photos, a `datasets.Image` feature) or `video` (clips, a `datasets.Video` feature), {media}.
`record` holds each sample's full provenance (sources, identities, backend, weights sha256, parameters, seed).

Splits are by identity: no person appears in two splits.

## Counts

{_table("type", counts["type"])}
{_table("split", splits)}
{_table("backend", counts["backend"])}
{_table("label (1 = fake)", counts["label"])}
{len(skipped)} record(s) were left out because their media was missing or corrupt.

## Licences

The licence in this card's metadata is `{license_id or "other"}`{how}. The models that made the data:

{lic}
{nc}
## How it was made

Each sample `i` is a pure function of the plan, the sources index and `i`: its type, backend, split, sources and
seed. Fake type shares are exact (largest remainder). The plan (`plan.json` of the dataset):

```json
{json.dumps(plan, indent=1, sort_keys=True)}
```

The same plan gives the same bytes under the same libraries. The media were written with
(`manifest/*.software.json`, one line a set):

{written or "- not recorded (a dataset made before synthfake noted it)"}
"""
    return str(DatasetCard(f"---\n{card_data(counts, files, license_id).to_yaml()}\n---\n\n{body}"))
