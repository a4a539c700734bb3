"""Drawing the fake samples of a plan: which sources, clip and seed fake `i` uses."""

from __future__ import annotations

import itertools

import numpy as np

from .errors import PlanError
from .plan import (_PICK_ORDER, DISTINCT_TRIES, PAIR_ROLE, SALT_DISTINCT, SALT_FAKE_SPEC, SampleSpec, SampleTable,
                   _rng, sample_id)
from .sources import SourceItem


def fake_spec(table: SampleTable, i: int, rng: np.random.Generator, attempt: int = 0) -> SampleSpec:
    """Fake `i` drawn from `rng`: its sources (distinct identities, the most constrained pool first), clip, seed."""
    t = str(table.types[i])
    split, backend = table.split_of[i], table.backend(i)
    pool = table.pools[split]
    roles = table.roles[backend]
    used: set[str] = set()
    order = sorted(range(len(roles)), key=lambda k: _PICK_ORDER[roles[k][1]])
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
    params = table._clip(rng, pair) if pair else {}
    return SampleSpec(i, sample_id(table.hash, i), t, backend, split,
                      int(rng.integers(2**31)), chosen, params, degrade_key=i, attempt=attempt)


def combination(spec: SampleSpec) -> tuple:
    """What makes two fakes the same manipulation of the same faces: backend, split, (role, path) of each source."""
    return spec.backend, spec.split, tuple((r, it.path) for it, r in spec.sources)


def distinct_fakes(table: SampleTable) -> dict[int, SampleSpec]:
    """Plan version 3: every fake's first draw, in index order. A fake whose sources repeat an earlier fake's of
    the same backend and split draws again (up to DISTINCT_TRIES), so two fakes are the same manipulation of the
    same faces only once the split's combinations run out (a near-duplicate a detector would memorise)."""
    seen: set[tuple] = set()
    out = {}
    for i in map(int, table.fakes):
        first = fake_spec(table, i, _rng(table.plan.seed, SALT_FAKE_SPEC, i))
        tries = (fake_spec(table, i, _rng(table.plan.seed, SALT_FAKE_SPEC, i, SALT_DISTINCT, k))
                 for k in range(1, DISTINCT_TRIES + 1))
        # the first draw whose sources are new; the first draw itself when this split's combinations are used up
        spec = next((s for s in itertools.chain([first], tries) if combination(s) not in seen), first)
        seen.add(combination(spec))
        out[i] = spec
    return out
