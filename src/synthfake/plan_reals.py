"""Drawing the real samples of a plan: which source and clip the j-th real uses, paired or not."""

from __future__ import annotations

import numpy as np

from .sample_spec import SALT_REAL_ORDER, SALT_REAL_SPEC, SampleSpec, random_stream, sample_id
from .shared_types import PAIR_ROLE
from .sources import SourceItem

# `table` below is the plan's SampleTable (plan.py), which calls these; they read its pools and its fakes' specs.


def real_spec(table: "SampleTable", i: int, attempt: int = 0) -> SampleSpec:
    """Real sample `i` of the table (SampleTable.spec for a real)."""
    j = int(np.searchsorted(table.reals, i))
    fake = table.spec(int(table.fakes[j])) if j < len(table.fakes) else None
    key = fake.index if fake else i  # a pair is degraded alike
    if attempt or table.plan.version >= 2:
        rng = random_stream(table.plan.seed, SALT_REAL_SPEC, i, *([attempt] if attempt else []))
        split = fake.split if fake else table.split_of[i]
        if attempt:  # a redraw: any face of the split, unpaired
            cands = table.pools[split]["face"]
            item, paired = cands[int(rng.integers(len(cands)))], False
        else:
            item, paired = table.real_sources[j]
        params = dict(fake.params) if paired else table.clip(rng, item)
        params = {k: params[k] for k in ("clip_start", "clip_frames") if k in params}
        if paired:
            params["paired_with"] = fake.id
        return SampleSpec(i, sample_id(table.hash, i), "real", table.backend(i), split,
                          int(rng.integers(2**31)), [(item, "real")], params, degrade_key=key, attempt=attempt)
    rng = random_stream(table.plan.seed, SALT_REAL_SPEC, i)  # plan version 1: drawn with replacement
    item = next((it for it, r in fake.sources if r == PAIR_ROLE[fake.type]), None) if fake else None
    if fake and item:  # paired: the very target the j-th fake used, same clip
        split, params = fake.split, {"clip_start": fake.params["clip_start"], "clip_frames": fake.params[
            "clip_frames"]} if "clip_start" in fake.params else {}
        params["paired_with"] = fake.id
    else:
        split = fake.split if fake else table.split_of[i]
        cands = table.pools[split]["face"]
        item = cands[int(rng.integers(len(cands)))]
        params = table.clip(rng, item)
    return SampleSpec(i, sample_id(table.hash, i), "real", table.backend(i), split,
                      int(rng.integers(2**31)), [(item, "real")], params, degrade_key=key)


def real_sources(table: "SampleTable") -> list[tuple[SourceItem, bool]]:
    """Plan version 2: the source of the j-th real and whether it is the j-th fake's own target. A split's
    faces are used once each before any is used again: a fake's target when not yet a real, else the next
    unused face of the split in an order drawn from the seed."""
    order = {s: [p["face"][k] for k in random_stream(table.plan.seed, SALT_REAL_ORDER, n).permutation(len(p["face"]))]
             for n, (s, p) in enumerate(table.pools.items())}
    used: dict[str, set[str]] = {s: set() for s in table.pools}
    out = []
    for j, i in enumerate(table.reals):
        fake = table.spec(int(table.fakes[j])) if j < len(table.fakes) else None
        split = fake.split if fake else table.split_of[int(i)]
        seen = used[split]
        if len(seen) >= len(order[split]):
            seen.clear()  # every distinct face of the split is a real already: the next round begins
        target = next((it for it, r in fake.sources if r == PAIR_ROLE[fake.type]), None) if fake else None
        if target is not None and target.path not in seen:
            item, paired = target, True
        else:
            item, paired = next(it for it in order[split] if it.path not in seen), False
        seen.add(item.path)
        out.append((item, paired))
    return out
