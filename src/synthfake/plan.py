"""The plan: what sample `i` is, as a pure function of (plan, sources index, i).

Counts per type and per split are exact (largest remainder), not sampled. Identities are assigned to
splits (ordered by a hash of seed and identity), and a sample draws all its face sources from its split's
identities. Speech audio carries no face and is shared by all splits.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator, model_validator

from .files import canonical_hash, read_json, validate_json
from .plan_indexed import IndexedTable
from .plan_legacy import LegacyTable
from .plan_table import TableBase, roles_for  # noqa: F401 - roles_for: where callers have always found it
from .shared_types import DEFAULT_RATIOS
from .sources import SourceIndex

# Source roles each fake type draws: shared_types.ROLES (face roles of one sample are distinct identities); a
# backend module may declare its own ROLES (a text-to-image backend draws none).

PLAN_VERSION = 8  # 1: reals drawn with replacement; 2: reals drawn without replacement (plan_reals.py);
# 3: a fake does not repeat the faces of an earlier fake of its backend and split while others are left;
# 4: a backend with AVOID_GLASSES prefers, among draws of new faces, those without a person who wears glasses;
# 5: sample i computed from i alone (plan_indexed.py): no per-sample state, any size; reals spread over every
# file of their split before one repeats; a redraw keeps the pair role's source and clip (its real stays paired);
# 6: a real paired with a fake of a PAIR_STILL backend made from a video is that clip's still (params `still`);
# 7: a split's reals take its fakes in a seeded order, each the file (and clip, or still) its fake was made on,
# so reals are photos and clips in the share the fakes are (version 6's reals went over every file: clips leaned fake);
# 8: a PAIR_STILL fake made from a video takes its still at a drawn point of its clip (`still_at`), its paired real
# the same frame: a video shorter than a clip drawn again gave one image again (README command 1: 33 near-identical
# generation pairs, 9 groups of byte-identical reals)
MAX_SAMPLES = 10**8  # ids are 64 bits: beyond this, two samples' ids (and media paths) collide with p > 3e-4


def too_large(n: int, reals: int) -> str | None:
    """Why a plan of n fakes and `reals` reals cannot be made, or None."""
    if n + reals > MAX_SAMPLES:
        return (f"--n {n} --reals {reals}: {n + reals} samples, more than one dataset can hold ({MAX_SAMPLES:.0e}: "
                f"sample ids are 64 bits, and beyond that two samples' ids and media paths collide with probability "
                f"> 3e-4); make several datasets, each with its own --seed")
    return None


class Plan(BaseModel):
    """Everything that decides the samples; written once as DATASET/plan.json. The CLI's defaults are these."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # plan.json is strict JSON: no Infinity/NaN
    version: int = PLAN_VERSION
    n: int = 100
    reals: int
    seed: int = 0
    ratios: dict[str, float] = dict(DEFAULT_RATIOS)
    backends: dict[str, str | dict[str, float]]  # type -> backend, or -> {backend: weight} (a mix, exact counts)
    backend_opts: dict[str, dict[str, str | int | float | bool]] = {}  # backend -> {option: value} (--backend-opt)
    splits: dict[str, float] = {"train": 0.7, "val": 0.15, "test": 0.15}
    clip_seconds: float = 10.0
    min_manipulated: float = 0.9
    redraws: int = 3  # a sample failing a quality gate is drawn again (attempt 1..redraws) before it is failed
    degrade: list[dict] = []  # post-processing chain (degrade.py), drawn per sample independent of the label
    sources_digest: str

    @model_validator(mode="after")
    def _plannable(self) -> "Plan":
        why = too_large(self.n, self.reals)
        if why:
            raise ValueError(why)
        return self

    @field_validator("backends")
    @classmethod
    def _positive_weights(cls, v: dict) -> dict:
        for t, b in v.items():
            if isinstance(b, dict) and (not b or any(w <= 0 for w in b.values())):
                raise ValueError(f"backends.{t}: a mix needs at least one backend, each with a weight > 0")
        return v

    @field_validator("n", "reals", "seed", "redraws", "clip_seconds", "min_manipulated")
    @classmethod
    def _in_range(cls, v, info):
        """Counts and the seed are >= 0, a clip is longer than 0 s, a share is within [0, 1] (a hand-edited
        plan.json is refused with the field named, not a traceback mid-run)."""
        if v < 0 or info.field_name == "clip_seconds" and v <= 0 or info.field_name == "min_manipulated" and v > 1:
            raise ValueError(f"{info.field_name} {v!r} is out of range")
        return v

    def mix(self, sample_type: str) -> dict[str, float]:
        """{backend: weight} of a type (one backend: weight 1)."""
        b = self.backends[sample_type]
        return {b: 1.0} if isinstance(b, str) else dict(b)

    _written: dict | None = PrivateAttr(default=None)  # plan.json as read, when loaded from a dataset

    @property
    def hash(self) -> str:
        """Ids derive from this. A plan read from a dataset hashes its JSON as written, so a field added to the
        model later (with a default) does not change the ids of samples already made."""
        return canonical_hash(self._written if self._written is not None else self.model_dump())

    @classmethod
    def from_file(cls, path) -> "Plan":
        data = read_json(path)
        plan = validate_json(path, cls, data)
        plan._written = data
        return plan

    @property
    def total(self) -> int:
        return self.n + self.reals


class SampleTable(TableBase):
    """The resolved sample table of (plan, index): `SampleTable(plan, index)` gives the table of the plan's
    version (plan_legacy.LegacyTable for 1-4, plan_indexed.IndexedTable for 5); both answer plan_table's
    questions. A plan the sources cannot supply fails here (PlanError naming the split and what it lacks)."""

    def __new__(cls, plan: Plan, index: SourceIndex):
        return (IndexedTable if plan.version >= 5 else LegacyTable)(plan, index)
