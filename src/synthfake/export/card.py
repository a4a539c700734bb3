"""The dataset card of an export (README.md): counts, the licences of the models that made the data, the plan.

The licence lines follow the README's licence table; every weights-free backend still relies on dlib's 68-point
shape predictor, whose training data (iBUG 300-W) excludes commercial use.
"""

from __future__ import annotations

import json
from pathlib import Path

DLIB = ("dlib 68-point shape predictor (trained on iBUG 300-W: non-commercial; see the synthfake README)")
LICENCES = {
    "landmark_swap": f"weights-free; {DLIB}",
    "landmark_reenact": f"weights-free; {DLIB}",
    "mouth_sync": f"weights-free; {DLIB}",
    "morph": f"weights-free; {DLIB}",
    "reencode": f"real clips re-encoded; faces found with {DLIB}",
    "inswapper": "inswapper_128 + ArcFace w600k_r50 (insightface): non-commercial research only",
    "diffusers_t2i": "the diffusers checkpoint's licence: FLUX.1 [schnell] Apache-2.0, FLUX.1 [dev] Non-Commercial",
    "http_t2i": "the hosted provider's terms",
    "liveportrait": "LivePortrait: code and models MIT",
    "wav2lip": "Wav2Lip: personal/research/non-commercial only (trained on LRS2)",
}


def _table(title: str, counts: dict[str, int]) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(counts.items()))
    return f"| {title} | samples |\n|---|---|\n{rows}\n"


def card(dataset: Path, counts: dict, files: dict[str, list[str]], embed: bool, skipped: list[str]) -> str:
    """The README.md text of an `hf` export."""
    configs = "".join(f"  - split: {split}\n    path:\n" + "".join(f"    - {f}\n" for f in paths)
                      for split, paths in sorted(files.items()))
    plan_file = Path(dataset) / "plan.json"
    plan = json.loads(plan_file.read_text()) if plan_file.is_file() else {}
    backends = sorted(counts["backend"])
    lic = "\n".join(f"- **{b}**: {LICENCES.get(b, 'unknown backend: check its model licence')}" for b in backends)
    noncommercial = any("non-commercial" in LICENCES.get(b, "").lower() for b in backends)
    media = "embedded bytes (`media_bytes`)" if embed else "paths inside this folder (`media_path`)"
    return f"""---
configs:
- config_name: default
  data_files:
{configs}tags:
- deepfake-detection
- synthetic
---
# synthfake dataset

Synthetic deepfakes (label 1, `fake`) and the real clips they were made from (label 0, `real`), made by
synthfake `gen run`; exported by `gen export --format hf`. Load with
`datasets.load_dataset("{'{this folder}'}")`. Media: {media}. `record` holds each sample's full provenance
(sources, identities, backend, weights sha256, parameters, seed).

Splits are by identity: no person appears in two splits.

## Counts

{_table("type", counts["type"])}
{_table("split", counts["split"])}
{_table("backend", counts["backend"])}
{_table("label (1 = fake)", counts["label"])}
{len(skipped)} record(s) were left out because their media was missing or corrupt.

## Licences of the models that made the data

{lic}
{"" if not noncommercial else chr(10) + "Some of these are non-commercial: this data may not be used commercially." + chr(10)}
## How it was made

Each sample `i` is a pure function of the plan, the sources index and `i`: its type, backend, split, sources and
seed. Fake type shares are exact (largest remainder). The plan (`plan.json` of the dataset):

```json
{json.dumps(plan, indent=1, sort_keys=True)}
```
"""
