"""Exact counts of a plan: largest-remainder apportioning, and identities per split."""

from __future__ import annotations


def largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Integer counts summing to `total`, proportional to weights (ties go to the earlier key)."""
    s = sum(weights.values())
    if total == 0 or s <= 0:
        return {k: 0 for k in weights}
    raw = {k: total * w / s for k, w in weights.items()}
    counts = {k: int(v) for k, v in raw.items()}
    order = sorted(weights, key=lambda k: -(raw[k] - counts[k]))
    for k in order[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def split_identity_counts(n_ids: int, splits: dict[str, float], minimum: int = 1) -> dict[str, int]:
    """Identities per split; every split with a positive fraction gets `minimum` when there are enough."""
    counts = largest_remainder(n_ids, splits)
    positive = [k for k, w in splits.items() if w > 0]
    if n_ids >= minimum * len(positive):
        for k in positive:
            while counts[k] < minimum:
                donor = max(counts, key=counts.get)
                counts[donor] -= 1
                counts[k] += 1
    return counts


def _at_least_two(assign: dict[str, str], splits: list[str], movable_first: set[str]) -> dict[str, str]:
    """Give every split two identities (a swap needs two people) by moving some from the largest split."""
    by_split = {s: [i for i in assign if assign[i] == s] for s in splits}
    for s in splits:
        while len(by_split[s]) < 2:
            donor = max(by_split, key=lambda k: len(by_split[k]))
            if len(by_split[donor]) <= 2:
                return assign
            pool = [i for i in by_split[donor] if i in movable_first] or by_split[donor]
            ident = pool[-1]
            by_split[donor].remove(ident)
            by_split[s].append(ident)
            assign[ident] = s
    return assign
