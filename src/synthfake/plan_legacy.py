"""The sample table of plan versions 1-4, kept so datasets they wrote resume with the same ids and samples.

It holds per-sample arrays (the type, split and backend of every index) and draws version 3's distinct fakes and
version 2's reals in one pass over the samples before the first one is made: memory and start-up grow with the
plan (PER_SAMPLE_BYTES each), so a plan too large for this machine's memory is refused before it is built.
Version 5 (plan_indexed.py) draws sample i from i alone.
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property

import numpy as np

from .errors import PlanError
from .plan_counts import largest_remainder
from .plan_fakes import distinct_fakes, fake_spec, redraw_spec
from .plan_reals import real_sources, real_spec
from .plan_table import TableBase
from .sample_spec import (SALT_BACKEND_BASE, SALT_EXTRA_REAL_SPLITS, SALT_FAKE_SPEC, SALT_SPLIT_BASE,
                          SALT_TYPE_ORDER, SampleSpec, random_stream)
from .sources import SourceIndex, SourceItem

PER_SAMPLE_BYTES = 1000  # measured (tracemalloc): 850 B a sample for a version 4 table with every first draw


def available_memory() -> int:
    """Bytes of memory this machine can still give (MemAvailable), or a large number where it cannot say."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


class LegacyTable(TableBase):
    """Versions 1-4: the resolved sample table, built once per process from (plan, index): type, split and
    source pools of every index. `spec(i)` is pure."""

    def __init__(self, plan, index: SourceIndex):
        need, have = (plan.n + plan.reals) * PER_SAMPLE_BYTES, available_memory()
        if need > have:
            raise PlanError(f"plan.json: a version {plan.version} plan keeps every one of its {plan.n + plan.reals} "
                            f"samples in memory (about {need / 1e9:.1f} GB) and this machine has "
                            f"{have / 1e9:.1f} GB free; resume it on a machine with more memory (plans made "
                            f"since version 5 need none per sample)")
        super().__init__(plan, index)
        counts = largest_remainder(plan.n, plan.ratios)
        labels = [t for t in plan.ratios for _ in range(counts[t])] + ["real"] * plan.reals
        self.types = np.array(labels, dtype=object)[random_stream(plan.seed, SALT_TYPE_ORDER).permutation(len(labels))]
        self.type_counts = {**counts, "real": plan.reals}
        self.backend_of = self._assign_backends()
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

    def _assign_splits(self, indices: np.ndarray, t: str, salt: int) -> None:
        counts = largest_remainder(len(indices), self.plan.splits)
        labels = [s for s in self.plan.splits for _ in range(counts[s])]
        order = random_stream(self.plan.seed, salt).permutation(len(labels))
        for i, k in zip(indices, order):
            self.split_of[int(i)] = labels[k]

    # ------------------------------------------------------------------ what every version answers
    def type_of(self, i: int) -> str:
        return str(self.types[i])

    def types_of(self, indices: np.ndarray) -> np.ndarray:
        return self.types[np.asarray(indices, np.int64)].astype(str)

    def backend(self, i: int) -> str:
        t = str(self.types[i])
        return self.backend_of[t][self._rank_in_type[i]]

    def backend_counts(self) -> dict[str, dict[str, int]]:
        """{type: {backend: count}} of the whole plan."""
        return {t: dict(Counter(b)) for t, b in self.backend_of.items() if b}

    def group_counts(self) -> Counter:
        """Per (type, backend, split); a real's split comes from its spec (its pair's), a pass over the reals."""
        out = Counter()
        for i, t in enumerate(self.types):
            t = str(t)
            split = self.spec(i).split if t == "real" else self.split_of[i]
            out[(t, self.backend(i), split)] += 1
        return out

    @cached_property
    def expected(self) -> dict[str, int]:
        return {t: int((self.types == t).sum()) for t in ("generation", "face_swap", "reenactment", "lip_sync",
                                                          "real")}

    def _held(self) -> dict[str, set[tuple[str, str]]]:
        """As versions 1-4 checked: what the type and split arrays hold, plus a real wherever any sample is."""
        out: dict[str, set] = {}
        for i, s in self.split_of.items():
            out.setdefault(s, set()).add((self.types[i], self.backend(i)))
        if self.plan.reals:
            for held in out.values():
                held.add(("real", ""))
        return out

    def spec(self, i: int, attempt: int = 0) -> SampleSpec:
        """Sample `i`: type, backend, split, sources, clip, seed. Attempt k > 0 (a redraw after a quality gate
        failed) keeps type, backend and split and draws other sources, clip and seed from its own stream."""
        if not 0 <= i < len(self.types):
            raise PlanError(f"index {i} outside the plan (0..{len(self.types) - 1})")
        t = str(self.types[i])
        if t == "real":
            return real_spec(self, i, attempt)
        if self.plan.version < 3:
            key = [attempt] if attempt else []
            return fake_spec(self, i, random_stream(self.plan.seed, SALT_FAKE_SPEC, i, *key), attempt)
        return redraw_spec(self, i, attempt) if attempt else self.distinct_fakes[0][i]

    @cached_property
    def distinct_fakes(self) -> tuple[dict[int, SampleSpec], tuple[set, set]]:
        """Plan version 3: every fake's first draw, none repeating an earlier fake's faces, and the combinations
        used (plan_fakes)."""
        return distinct_fakes(self)

    @cached_property
    def real_sources(self) -> list[tuple[SourceItem, bool]]:
        """Plan version 2: the source of the j-th real and whether it is the j-th fake's own target (plan_reals)."""
        return real_sources(self)
