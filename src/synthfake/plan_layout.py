"""Plan version 5's layout: which type, backend and split sample i has, and its rank k in that group, from i alone.

Counts are exact and fixed first (largest remainder: types over the fakes, each type's backends over its mix, each
(type, backend)'s splits over the split fractions; reals per split follow the fakes', see `real_split_counts`).
Then keyed permutations (plan_perm) place them: the plan's positions [0, n + reals) are cut into one block per
type (the reals last), and each type's block into one sub-block per (backend, split); sample i sits at position
P(i), and its rank inside its type's block is shuffled again, so neighbouring indices (a shard's, or a run cut
short) get a fair mix of every group. Every step has an inverse: `fake_index(group, k)` is the sample at rank k of
a group, which pairs reals with fakes without a table. Nothing here grows with n.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .plan_counts import largest_remainder
from .plan_perm import Permutation
from .sample_spec import SALT_V5_GROUPS, SALT_V5_TYPES


@dataclass(frozen=True)
class Group:
    """Samples of one (type, backend, split): `count` of them, at ranks [start, start + count) of their type's
    block (reals: of the reals' block, whose sub-blocks go split by split)."""

    type: str
    backend: str
    split: str
    start: int
    count: int


def real_split_counts(reals: int, fakes_per_split: dict[str, int], splits: dict[str, float]) -> dict[str, int]:
    """Reals per split: in proportion to the fakes of each split while there are no more reals than fakes (each
    can then pair with a fake of its split); beyond that every split gets as many reals as fakes, and the rest
    go by the split fractions."""
    n = sum(fakes_per_split.values())
    if reals <= n:
        return largest_remainder(reals, {s: float(fakes_per_split.get(s, 0)) for s in splits})
    extra = largest_remainder(reals - n, splits)
    return {s: fakes_per_split.get(s, 0) + extra[s] for s in splits}


class Layout:
    """Where every sample of a version 5 plan sits; all of it O(types x backends x splits)."""

    def __init__(self, plan):
        self.plan = plan
        self.total = plan.n + plan.reals
        self.types = [*plan.ratios, "real"]
        counts = {**largest_remainder(plan.n, plan.ratios), "real": plan.reals}
        self.type_count = [counts[t] for t in self.types]
        self.type_start = [sum(self.type_count[:k]) for k in range(len(self.types))]
        self.positions = Permutation(self.total, plan.seed, SALT_V5_TYPES)
        self.groups: list[list[Group]] = []  # per type, its groups in block order
        fakes_per_split: Counter = Counter()
        for t in plan.ratios:
            groups, start = [], 0
            for b, nb in largest_remainder(counts[t], plan.mix(t)).items():
                for s, c in largest_remainder(nb, plan.splits).items():
                    groups.append(Group(t, b, s, start, c))
                    fakes_per_split[s] += c
                    start += c
            self.groups.append(groups)
        groups, start = [], 0
        self.real_split_start: dict[str, int] = {}
        for s, ns in real_split_counts(plan.reals, fakes_per_split, plan.splits).items():
            self.real_split_start[s] = start
            for b, c in largest_remainder(ns, plan.mix("real")).items():
                groups.append(Group("real", b, s, start, c))
                start += c
        self.groups.append(groups)
        self.shuffles = [Permutation(c, plan.seed, SALT_V5_GROUPS, k) for k, c in enumerate(self.type_count)]
        self._starts = [[g.start for g in gs] for gs in self.groups]
        self.all_groups = [g for gs in self.groups for g in gs]
        self._group_id = {(g.type, g.backend, g.split): n for n, g in enumerate(self.all_groups)}

    # ------------------------------------------------------------------ one index
    # Block starts are non-decreasing and an empty block shares its start with the next one, so the last block
    # starting at or before a position (bisect_right - 1) is never empty.
    def locate(self, i: int) -> tuple[Group, int]:
        """(group, rank k within it) of sample i."""
        p = self.positions(i)
        t = bisect_right(self.type_start, p) - 1
        q = self.shuffles[t](p - self.type_start[t])
        g = self.groups[t][bisect_right(self._starts[t], q) - 1]
        return g, q - g.start

    def type_of(self, i: int) -> str:
        return self.types[bisect_right(self.type_start, self.positions(i)) - 1]

    def index_of(self, group: Group, k: int) -> int:
        """The sample at rank k of `group` (the inverse of `locate`)."""
        t = self.types.index(group.type)
        p = self.shuffles[t].inverse(group.start + k) + self.type_start[t]
        return self.positions.inverse(p)

    def real_rank_in_split(self, group: Group, k: int) -> int:
        """A real's rank among all reals of its split (its split's sub-blocks are contiguous)."""
        return group.start + k - self.real_split_start[group.split]

    # ------------------------------------------------------------------ many indices
    def group_ids(self, indices: np.ndarray) -> np.ndarray:
        """The group number (into `all_groups`) of each index, vectorised."""
        p = self.positions.array(indices)
        t = np.searchsorted(np.array(self.type_start), p, side="right") - 1
        out = np.empty(len(p), np.int64)
        first = 0
        for k, groups in enumerate(self.groups):
            sel = t == k
            if sel.any():
                q = self.shuffles[k].array(p[sel] - self.type_start[k])
                out[sel] = first + np.searchsorted(np.array(self._starts[k]), q, side="right") - 1
            first += len(groups)
        return out

    def types_of(self, indices: np.ndarray) -> np.ndarray:
        names = np.array([g.type for g in self.all_groups], dtype=object)
        return names[self.group_ids(indices)].astype(str) if len(indices) else np.array([], str)

    def group_counts(self) -> Counter:
        return Counter({(g.type, g.backend, g.split): g.count for g in self.all_groups if g.count})

    def group(self, t: str, b: str, s: str) -> Group:
        return self.all_groups[self._group_id[(t, b, s)]]
