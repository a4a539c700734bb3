"""What every version of the sample table shares: roles per backend, identities to splits, the source pools of
each split, the plan-time check that every split can supply what it holds, and clips.

Two tables answer the same questions (`SampleTable` in plan.py picks one by the plan's version):
`plan_legacy.LegacyTable` (versions 1-4: per-sample arrays and a pass over earlier samples, as those plans were
drawn) and `plan_indexed.IndexedTable` (version 5: sample i from i alone, no per-sample state). Their common
questions: `total`, `type_of(i)`, `types_of(indices)`, `backend(i)`, `spec(i, attempt)`, `group_counts()`.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections import Counter
from functools import cached_property
from typing import Iterator

import numpy as np

from .errors import PlanError
from .plan_counts import _at_least_two, split_identity_counts
from .sample_spec import SampleSpec
from .shared_types import ROLES, SAMPLE_TYPES
from .sources import COPY_OF, SourceIndex, SourceItem, glasses_identities


def roles_for(sample_type: str, backend: str) -> list[tuple[str, str]]:
    """The backend's own ROLES when it declares them, else the type's (shared_types.ROLES)."""
    return list(_backend_attr(backend, "ROLES", ROLES[sample_type]))


def _backend_attr(backend: str, name: str, default):
    from . import generators

    try:
        return getattr(generators.get(backend), name, default)
    except Exception:  # unknown or not importable: the readiness check reports it
        return default


CHUNK = 1 << 16  # indices looked at together when a table is walked (vectorised, memory bounded)


class TableBase(ABC):
    """The parts of a sample table that do not depend on how samples are drawn."""

    def __init__(self, plan: "Plan", index: SourceIndex):  # noqa: F821 - plan.Plan (plan.py imports this module)
        self.plan, self.index, self.hash = plan, index, plan.hash
        self.total = plan.n + plan.reals
        self.roles = {b: roles_for(t, b) for t in plan.ratios for b in plan.mix(t)}
        self.avoid_glasses = {b: plan.version >= 4 and bool(_backend_attr(b, "AVOID_GLASSES", False))
                              for b in self.roles}
        self.pair_still = {b: plan.version >= 6 and bool(_backend_attr(b, "PAIR_STILL", False)) for b in self.roles}
        # plan 7: the long side a backend works at (a generator's output size), given to its fakes and their reals
        self.pair_max_side = {b: _backend_attr(b, "PAIR_MAX_SIDE", None) if plan.version >= 7 else None
                              for b in self.roles}
        self.glasses = glasses_identities(index.items)  # people who wear glasses
        self.identity_split = self._split_identities()
        self.pools = self._pools()

    # ------------------------------------------------------------------ what every version answers
    @abstractmethod
    def spec(self, i: int, attempt: int = 0) -> SampleSpec:
        """Sample i's spec at an attempt (a redraw after a failed quality gate draws anew)."""

    @abstractmethod
    def type_of(self, i: int) -> str:
        """Sample i's planned type."""

    @abstractmethod
    def types_of(self, indices: np.ndarray) -> np.ndarray:
        """The planned type of each index (an array of str)."""

    @abstractmethod
    def backend(self, i: int) -> str:
        """Sample i's backend."""

    @abstractmethod
    def group_counts(self) -> Counter:
        """Planned samples per (type, backend, split), reals in the split they are made in; exact."""

    def indices(self, real: bool) -> Iterator[int]:
        """The indices of every fake (real=False) or every real, in index order, a chunk at a time."""
        for start in range(0, self.total, CHUNK):
            idx = np.arange(start, min(self.total, start + CHUNK))
            yield from idx[(self.types_of(idx) == "real") == real].tolist()

    def check_index(self, i: int) -> None:
        if not 0 <= i < self.total:
            raise PlanError(f"index {i} outside the plan (0..{self.total - 1})")

    @cached_property
    def expected(self) -> dict[str, int]:
        counts = Counter()
        for (t, _, _), c in self.group_counts().items():
            counts[t] += c
        return {t: counts[t] for t in SAMPLE_TYPES}

    # ------------------------------------------------------------------ identities and pools
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

    # ------------------------------------------------------------------ plan-time check
    def validate(self) -> None:
        """Plan-time check that every split can supply every type (and backend) it holds, with what to change."""
        problems, short = [], set()
        held_by_split = self._held()
        for split, pool in self.pools.items():
            ids = {it.identity for it in pool["face"]}
            held = held_by_split.get(split, set())
            needs = [(t, need) for t, b in sorted(held) if (need := self._shortage(t, b, ids, pool))]
            if needs:
                short |= {need for _, need in needs}
                problems.append(f"split '{split}' has {len(ids)} face identities ({', '.join(sorted(ids)) or 'none'}) "
                                f"but {'; '.join(sorted({f'{t} {need}' for t, need in needs}))}")
        if problems:
            wanted = [what for need, what in (("identit", "face sources"), ("face video", "face videos"),
                                              ("speech audio", "speech audio (a recording of someone talking)"))
                      if any(need in n for n in short)]
            raise PlanError(" | ".join(problems) + f". Add {' and '.join(wanted) or 'sources'}, or change the split "
                            f"fractions (now {self.plan.splits}), or drop the type with --type{left_out(self.index)}.")

    def _held(self) -> dict[str, set[tuple[str, str]]]:
        """{split: {(type, backend)}} of what each split holds; reals as ("real", "")."""
        out: dict[str, set] = {}
        for (t, b, s), c in self.group_counts().items():
            if c:
                out.setdefault(s, set()).add(("real", "") if t == "real" else (t, b))
        return out

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

    def clip(self, rng: np.random.Generator, item: SourceItem) -> dict:
        """A clip of a video source drawn from `rng`: its start and length (at most plan.clip_seconds)."""
        if item.kind != "video":
            return {}
        n = max(1, min(item.frames, int(round(self.plan.clip_seconds * item.fps))))
        return {"clip_start": int(rng.integers(item.frames - n + 1)), "clip_frames": n}


def left_out(index: SourceIndex) -> str:
    """What the scan kept out of the sources, counted by reason, for an error about too few faces: a folder of
    symlinks to files outside it had read as "0 face identities" and nothing more."""
    reasons = Counter(_reason(it.excluded) for it in index.items if it.excluded)
    if not reasons:
        return ""
    top = "; ".join(f"{n} x {why}" for why, n in reasons.most_common(3))
    more = f"; {len(reasons) - 3} other reason(s)" if len(reasons) > 3 else ""
    return (f" ({sum(reasons.values())} of the {len(index.items)} file(s) under {index.root} were kept out: "
            f"{top}{more}; `gen sources scan {index.root}` lists each)")


def _reason(why: str) -> str:
    """A file's exclusion reason without what is the file's own (its link's target, the copy's original, counts)."""
    if why.startswith("symlink to "):
        return "symlink to a file outside the sources root (not followed: copy the files in, or give --sources " \
               "the folder they lead to)"
    if why.startswith(COPY_OF):
        return "copy of another file"
    return re.sub(r"\d+(\.\d+)?", "N", why)
