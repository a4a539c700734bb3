"""The vocabulary every part shares: the sample types (declared once, in `SAMPLE_TYPE_TABLE`), their source
roles, and a media file's properties. Imports nothing of the project, so any module may import it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class SampleTypeInfo:
    """One sample type. `roles`: the sources it draws, in order, as (role, pool); pools: face = photo or video,
    video = face video, audio = speech; "face?" is drawn only when the split has an identity left and the
    sample's seed says so. `pair_role`: the source whose clip or photo its paired real re-encodes (and whose
    frames the output is aligned with when `aligned`). `reference_role`: what its output is compared with for
    artefacts (the photo a reenactment animates, the base of a morph)."""

    name: str
    label: int
    ratio: float  # share of the fakes by default (0 for real: reals are counted apart)
    backend: str  # the weights-free default: the stand-in that goes through its model family's stages
    landmark_backend: str  # the first weights-free backend (landmark warps and splices; the default until 6 Dec 2026)
    roles: tuple[tuple[str, str], ...]
    pair_role: str
    reference_role: str
    aligned: bool
    outputs: tuple[str, ...]  # the media its samples can be: an image, a video, or either (the target's kind)


SAMPLE_TYPE_TABLE: tuple[SampleTypeInfo, ...] = (
    SampleTypeInfo("generation", 1, 0.40, "latent_decode_sharp", "morph",
                   (("base", "face"), ("parent", "face"), ("parent", "face?")),
                   pair_role="base", reference_role="base", aligned=False, outputs=("image",)),
    SampleTypeInfo("face_swap", 1, 0.30, "aligned_swap", "landmark_swap", (("source", "face"), ("target", "face")),
                   pair_role="target", reference_role="target", aligned=True, outputs=("image", "video")),
    SampleTypeInfo("reenactment", 1, 0.20, "crop_reenact", "landmark_reenact",
                   (("source", "face"), ("driving", "video")),
                   pair_role="driving", reference_role="source", aligned=False, outputs=("video",)),
    SampleTypeInfo("lip_sync", 1, 0.10, "crop_sync", "mouth_sync", (("target", "video"), ("audio", "audio")),
                   pair_role="target", reference_role="target", aligned=True, outputs=("video",)),
    SampleTypeInfo("real", 0, 0.0, "reencode", "reencode", (("real", "face"),), pair_role="real", reference_role="real",
                   aligned=True, outputs=("image", "video")),
)
TYPE_INFO = {t.name: t for t in SAMPLE_TYPE_TABLE}
SAMPLE_TYPES = tuple(TYPE_INFO)
FAKE_TYPES = tuple(t.name for t in SAMPLE_TYPE_TABLE if t.label == 1)
SampleType = Literal[SAMPLE_TYPES]  # type: ignore[valid-type]

DEFAULT_RATIOS = {t: TYPE_INFO[t].ratio for t in FAKE_TYPES}
DEFAULT_BACKENDS = {t.name: t.backend for t in SAMPLE_TYPE_TABLE}
LANDMARK_BACKENDS = {t.name: t.landmark_backend for t in SAMPLE_TYPE_TABLE}  # recipes/data/landmark_all4.json
ROLES = {t: list(TYPE_INFO[t].roles) for t in FAKE_TYPES}
PAIR_ROLE = {t: TYPE_INFO[t].pair_role for t in FAKE_TYPES}


class MediaMeta(BaseModel):
    """A media file's properties as its container header gives them (a record's `media`)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["image", "video", "audio"]
    width: int
    height: int
    frames: int
    fps: float
    duration: float
    codec: str
    audio: bool
