"""Drawing the fake samples of a plan: which sources, clip and seed fake `i` uses."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .errors import PlanError
from .sample_spec import (DISTINCT_TRIES, PICK_ORDER, SALT_DISTINCT, SALT_FAKE_SPEC, SampleSpec, random_stream,
                          sample_id)
from .shared_types import PAIR_ROLE
from .sources import SourceItem

# `table` below is the plan's SampleTable (plan.py), which calls these; they read its pools, roles and draws.


def fake_spec(table: "SampleTable", i: int, rng: np.random.Generator, attempt: int = 0) -> SampleSpec:
    """Fake `i` drawn from `rng`: its sources (distinct identities, the most constrained pool first), clip, seed."""
    t = str(table.types[i])
    split, backend = table.split_of[i], table.backend(i)
    pool = table.pools[split]
    roles = table.roles[backend]
    used: set[str] = set()
    order = sorted(range(len(roles)), key=lambda k: PICK_ORDER[roles[k][1]])
    picked: dict[int, tuple[SourceItem, str]] = {}
    for k in order:  # a video first, so that a distinct identity is left for it
        role, kind = roles[k]
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        cands = [it for it in pool[kind] if kind == "audio" or it.identity not in used]
        if optional and (not cands or rng.random() < 0.5):
            continue
        if not cands:
            raise PlanError(f"sample {i} ({t}, split {split}): no '{kind}' source left for role {role}")
        it = cands[int(rng.integers(len(cands)))]
        picked[k] = (it, role)
        used.add(it.identity)
    chosen = [picked[k] for k in sorted(picked)]
    pair = next((it for it, r in chosen if r == PAIR_ROLE[t]), None)
    params = table.clip(rng, pair) if pair else {}
    return SampleSpec(i, sample_id(table.hash, i), t, backend, split,
                      int(rng.integers(2**31)), chosen, params, degrade_key=i, attempt=attempt)


def combination(spec: SampleSpec, by: str = "identity") -> tuple:
    """What makes two fakes the same manipulation of the same faces: backend, split and each source's role with
    its identity (`by="identity"`: a person's photo and video count as one face) or its file (`by="path"`)."""
    return spec.backend, spec.split, tuple((r, getattr(it, by)) for it, r in spec.sources)


def wears_glasses(table: "SampleTable", spec: SampleSpec) -> bool:
    """Plan version 4: the draw gives a backend that avoids glasses (AVOID_GLASSES) a face of someone wearing them."""
    return table.avoid_glasses[spec.backend] and any(it.identity in table.glasses for it, _ in spec.sources)


def _first_new(table: "SampleTable", draws: Iterator[SampleSpec], used: tuple[set, set]) -> SampleSpec:
    """The first draw whose faces no earlier fake used, else the first whose files none used, else the first; at
    each of these, one without glasses (for a backend that avoids them) before one with. Distinct faces come
    first: with few people, keeping glasses out would repeat near-identical fakes (a default run: 4 %)."""
    best: dict[int, SampleSpec] = {}
    for spec in draws:
        rank = (0 if combination(spec, "identity") not in used[0] else
                2 if combination(spec, "path") not in used[1] else 4) + wears_glasses(table, spec)
        if rank == 0:
            return spec
        best.setdefault(rank, spec)
    return best[min(best)]


def _draws(table: "SampleTable", i: int, attempt: int) -> Iterator[SampleSpec]:
    """Fake i's draw for an attempt, then DISTINCT_TRIES more from their own streams."""
    key = [attempt] if attempt else []
    yield fake_spec(table, i, random_stream(table.plan.seed, SALT_FAKE_SPEC, i, *key), attempt)
    for k in range(1, DISTINCT_TRIES + 1):
        yield fake_spec(table, i, random_stream(table.plan.seed, SALT_FAKE_SPEC, i, *key, SALT_DISTINCT, k), attempt)


def distinct_fakes(table: "SampleTable") -> tuple[dict[int, SampleSpec], tuple[set, set]]:
    """Plan version 3: every fake's first draw, in index order, and the combinations they use. A fake whose
    faces repeat an earlier fake's of the same backend and split draws again (up to DISTINCT_TRIES): two fakes
    are the same manipulation of the same people only once the split's combinations run out (a near-duplicate a
    detector memorises); then files that differ are preferred."""
    used: tuple[set, set] = (set(), set())
    out = {}
    for i in map(int, table.fakes):
        spec = out[i] = _first_new(table, _draws(table, i, 0), used)
        used[0].add(combination(spec, "identity"))
        used[1].add(combination(spec, "path"))
    return out, used


def redraw_spec(table: "SampleTable", i: int, attempt: int) -> SampleSpec:
    """Plan version 3: fake i drawn again after `attempt` failed quality gates, avoiding every first draw's faces."""
    return _first_new(table, _draws(table, i, attempt), table.distinct_fakes[1])
