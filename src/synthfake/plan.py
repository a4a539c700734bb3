"""The plan: what sample `i` is, as a pure function of (plan, sources index, i).

Counts per type and per split are exact (largest remainder), not sampled. Identities are assigned to
splits (ordered by a hash of seed and identity), and a sample draws all its face sources from its split's
identities. Speech audio carries no face and is shared by all splits.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import cached_property

import numpy as np
from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator

from .errors import PlanError
from .files import canonical_hash, read_json, validate_json
from .plan_counts import _at_least_two, largest_remainder, split_identity_counts
from .plan_fakes import distinct_fakes, fake_spec, redraw_spec
from .plan_reals import real_sources, real_spec
from .sample_spec import (SALT_BACKEND_BASE, SALT_EXTRA_REAL_SPLITS, SALT_FAKE_SPEC, SALT_SPLIT_BASE,
                          SALT_TYPE_ORDER, SampleSpec, random_stream)
from .shared_types import DEFAULT_RATIOS, ROLES, SAMPLE_TYPES
from .sources import SourceIndex, SourceItem, glasses_identities

# Source roles each fake type draws: shared_types.ROLES (face roles of one sample are distinct identities); a
# backend module may declare its own ROLES (a text-to-image backend draws none).


def roles_for(sample_type: str, backend: str) -> list[tuple[str, str]]:
    """The backend's own ROLES when it declares them, else the type's."""
    return list(_backend_attr(backend, "ROLES", ROLES[sample_type]))


def _backend_attr(backend: str, name: str, default):
    from . import generators

    try:
        return getattr(generators.get(backend), name, default)
    except Exception:  # unknown or not importable: the readiness check reports it
        return default


PLAN_VERSION = 4  # 1: reals drawn with replacement; 2: reals drawn without replacement (plan_reals.py);
# 3: a fake does not repeat the faces of an earlier fake of its backend and split while others are left;
# 4: a backend with AVOID_GLASSES prefers, among draws of new faces, those without a person who wears glasses


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


class SampleTable:
    """The resolved sample table, built once per process from (plan, index): type, split and source pools of
    every index. `spec(i)` is pure."""

    def __init__(self, plan: Plan, index: SourceIndex):
        self.plan, self.index, self.hash = plan, index, plan.hash
        self.roles = {b: roles_for(t, b) for t in plan.ratios for b in plan.mix(t)}
        self.avoid_glasses = {b: plan.version >= 4 and bool(_backend_attr(b, "AVOID_GLASSES", False))
                              for b in self.roles}
        self.glasses = glasses_identities(index.items)  # people who wear glasses
        counts = largest_remainder(plan.n, plan.ratios)
        labels = [t for t in plan.ratios for _ in range(counts[t])] + ["real"] * plan.reals
        self.types = np.array(labels, dtype=object)[random_stream(plan.seed, SALT_TYPE_ORDER).permutation(len(labels))]
        self.type_counts = {**counts, "real": plan.reals}
        self.backend_of = self._assign_backends()
        self.identity_split = self._split_identities()
        self.pools = self._pools()
        self.split_of: dict[int, str] = {}
        for t in plan.ratios:
            self._assign_splits(np.nonzero(self.types == t)[0], t, SALT_SPLIT_BASE + list(plan.ratios).index(t))
        self.fakes = np.nonzero(self.types != "real")[0]
        self.reals = np.nonzero(self.types == "real")[0]
        extra = self.reals[len(self.fakes):] if len(self.fakes) else self.reals
        self._assign_splits(extra, "real", SALT_EXTRA_REAL_SPLITS)
        self.validate()

    def _assign_backends(self) -> dict[str, list[str]]:
        """Per type, the backend of its k-th sample: exact counts by largest remainder over the type's mix, in
        an order drawn from the seed (a single backend draws nothing, so plans without a mix are unchanged)."""
        out = {}
        for pos, t in enumerate((*self.plan.ratios, "real")):
            mix = self.plan.mix(t)
            n = int(self.type_counts.get(t, 0))
            counts = largest_remainder(n, mix)
            labels = [b for b in mix for _ in range(counts[b])]
            if len(mix) > 1:
                labels = [labels[k] for k in random_stream(self.plan.seed, SALT_BACKEND_BASE + pos).permutation(n)]
            out[t] = labels
        self._rank_in_type = {}
        for t in out:
            for k, i in enumerate(np.nonzero(self.types == t)[0]):
                self._rank_in_type[int(i)] = k
        return out

    def backend(self, i: int) -> str:
        t = str(self.types[i])
        return self.backend_of[t][self._rank_in_type[i]]

    def backend_counts(self) -> dict[str, dict[str, int]]:
        """{type: {backend: count}} of the whole plan."""
        return {t: dict(Counter(b)) for t, b in self.backend_of.items() if b}

    def _split_identities(self) -> dict[str, str]:
        """Identities with a face video, then photo-only identities, each spread over the splits in hash order.

        Stratifying keeps videos in every split (reenactment and lip sync need one there).
        """
        with_video = {it.identity for it in self.index.items if it.is_face and it.kind == "video"}
        photo_only = {it.identity for it in self.index.items if it.is_face} - with_video
        out: dict[str, str] = {}
        for stratum in (with_video, photo_only):
            ids = sorted(stratum, key=lambda s: hashlib.sha256(f"{self.plan.seed}:{s}".encode()).hexdigest())
            k = 0
            for split, c in split_identity_counts(len(ids), self.plan.splits).items():
                for ident in ids[k:k + c]:
                    out[ident] = split
                k += c
        return _at_least_two(out, [s for s, w in self.plan.splits.items() if w > 0], photo_only)

    def _pools(self) -> dict[str, dict[str, list[SourceItem]]]:
        pools = {s: {"face": [], "video": []} for s in self.plan.splits}
        for it in self.index.items:
            if it.is_face:
                p = pools[self.identity_split[it.identity]]
                p["face"].append(it)
                if it.kind == "video":
                    p["video"].append(it)
        audio = [it for it in self.index.items if it.is_audio]
        for p in pools.values():
            p["audio"] = audio
        return pools

    def _assign_splits(self, indices: np.ndarray, t: str, salt: int) -> None:
        counts = largest_remainder(len(indices), self.plan.splits)
        labels = [s for s in self.plan.splits for _ in range(counts[s])]
        order = random_stream(self.plan.seed, salt).permutation(len(labels))
        for i, k in zip(indices, order):
            self.split_of[int(i)] = labels[k]

    def validate(self) -> None:
        """Plan-time check that every split can supply every type (and backend) it holds, with what to change."""
        problems = []
        for split, pool in self.pools.items():
            ids = {it.identity for it in pool["face"]}
            held = {(self.types[i], self.backend(i)) for i, s in self.split_of.items() if s == split}
            held |= {("real", "")} if self.plan.reals and held else set()
            needs = [f"{t} {need}" for t, b in sorted(held) if (need := self._shortage(t, b, ids, pool))]
            if needs:
                problems.append(f"split '{split}' has {len(ids)} face identities "
                                f"({', '.join(sorted(ids)) or 'none'}) but {'; '.join(sorted(set(needs)))}")
        if problems:
            raise PlanError(" | ".join(problems) + f". Add face sources, or change the split fractions "
                            f"(now {self.plan.splits}), or drop the type with --type.")

    def _shortage(self, t: str, backend: str, ids: set, pool: dict) -> str | None:
        if t == "real":
            return None if ids else "needs 1 face identity"
        kinds = [k for _, k in self.roles[backend] if not k.endswith("?")]
        n_face = sum(k in ("face", "video") for k in kinds)
        if len(ids) < n_face:
            return f"needs {n_face} different face identities" if n_face > 1 else "needs a face identity"
        if "video" in kinds and not pool["video"]:
            return "needs a face video"
        if "audio" in kinds and not pool["audio"]:
            return "needs a speech audio file"
        return None

    def spec(self, i: int, attempt: int = 0) -> SampleSpec:
        """Sample `i`: type, backend, split, sources, clip, seed. Attempt k > 0 (a redraw after a quality gate
        failed) keeps type, backend and split and draws other sources, clip and seed from its own stream."""
        if not 0 <= i < len(self.types):
            raise PlanError(f"index {i} outside the plan (0..{len(self.types) - 1})")
        t = str(self.types[i])
        if t == "real":
            return self._real_spec(i, attempt)
        if self.plan.version < 3:
            return self._fake_spec(i, random_stream(self.plan.seed, SALT_FAKE_SPEC, i, *([attempt] if attempt else [])), attempt)
        return redraw_spec(self, i, attempt) if attempt else self.distinct_fakes[0][i]

    @cached_property
    def distinct_fakes(self) -> tuple[dict[int, SampleSpec], tuple[set, set]]:
        """Plan version 3: every fake's first draw, none repeating an earlier fake's faces, and the combinations
        used (plan_fakes)."""
        return distinct_fakes(self)

    def _fake_spec(self, i: int, rng: np.random.Generator, attempt: int = 0) -> SampleSpec:
        return fake_spec(self, i, rng, attempt)

    def _real_spec(self, i: int, attempt: int = 0) -> SampleSpec:
        return real_spec(self, i, attempt)

    @cached_property
    def real_sources(self) -> list[tuple[SourceItem, bool]]:
        """Plan version 2: the source of the j-th real and whether it is the j-th fake's own target (plan_reals)."""
        return real_sources(self)

    def clip(self, rng: np.random.Generator, item: SourceItem) -> dict:
        """A clip of a video source drawn from `rng`: its start and length (at most plan.clip_seconds)."""
        if item.kind != "video":
            return {}
        n = max(1, min(item.frames, int(round(self.plan.clip_seconds * item.fps))))
        return {"clip_start": int(rng.integers(item.frames - n + 1)), "clip_frames": n}

    @cached_property
    def expected(self) -> dict[str, int]:
        return {t: int((self.types == t).sum()) for t in SAMPLE_TYPES}
