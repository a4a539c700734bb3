"""One planned sample (`SampleSpec`: what the plan hands a backend), its id, and the plan's random streams.

Below the plan and the backends alike: the plan builds specs, a backend reads them, neither imports the other
for it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .sources import SourceItem

PICK_ORDER = {"video": 0, "face": 1, "audio": 2, "face?": 3}  # pools drawn first: the most constrained
DISTINCT_TRIES = 16  # plan version 3: draws a fake makes looking for sources no earlier fake of its kind used


@dataclass
class SampleSpec:
    """One planned sample: everything a generator needs, nothing it makes up."""

    index: int
    id: str
    type: str
    backend: str
    split: str
    seed: int
    sources: list[tuple[SourceItem, str]]  # (item, role)
    params: dict = field(default_factory=dict)
    degrade_key: int = -1  # index whose draw sets the degradations: its own, or a paired real's fake's
    attempt: int = 0  # 0, or k when drawn again after k failed quality gates (plan.redraws at most)

    @property
    def degrade_seed(self) -> list[int]:
        return [SALT_DEGRADE, self.degrade_key]

    @property
    def label(self) -> int:
        return 0 if self.type == "real" else 1


# Salts of the plan's random streams, each seeded with (plan seed, salt[, index]); changing one changes every dataset.
SALT_TYPE_ORDER = 1  # which index gets which type
SALT_SPLIT_BASE = 2  # + the type's position in plan.ratios: which samples of that type go to which split
SALT_EXTRA_REAL_SPLITS = 9  # splits of the reals that have no fake to pair with
SALT_FAKE_SPEC = 100  # a fake's sources, clip and seed
SALT_REAL_SPEC = 200  # an unpaired real's source and clip
SALT_DEGRADE = 300  # the degradation chain drawn for a sample
SALT_BACKEND_BASE = 400  # + the type's position: which samples of a mixed type get which backend
SALT_REAL_ORDER = 500  # + nothing: the order in which a split's faces are taken as reals (plan version 2)
SALT_DISTINCT = 600  # + try: a fake's draw again when its sources repeat an earlier fake's (plan version 3)
SALT_FINISH = 700  # + the pair's key: the JPEG quality both samples of a pair end with (finish.py)
# plan version 5 (plan_layout.py, plan_indexed.py): keyed permutations and streams, each from i alone
SALT_V5_TYPES = 710  # the position of sample i among the plan's type blocks
SALT_V5_GROUPS = 711  # + the type's position: its rank within the (backend, split) sub-blocks of its type
SALT_V5_FILES = 712  # + the split's position: the order in which a split's face files are taken (targets, reals)
SALT_V5_OFFSET = 713  # where a group starts in its split's order of targets
SALT_V5_COMBOS = 714  # the order of the other roles' people for one target (per group, target person, round)
SALT_V5_FAKE = 715  # + index[, attempt]: a fake's optional roles, clip and seed; a redraw's other roles
SALT_V5_REAL = 716  # + index[, attempt]: a real's clip when unpaired, and its seed
SALT_V7_REAL = 717  # + the split's position: the order in which a split's reals take its fakes (plan version 7)
SALT_V8_STILL = 718  # + index: where in its clip a still pair's frame lies (plan version 8)


def random_stream(*key: int) -> np.random.Generator:
    """The random stream of one key (plan seed, salt[, index, ...])."""
    return np.random.default_rng([int(k) for k in key])


def sample_id(plan_hash: str, index: int) -> str:
    """A sample's id: deterministic from the plan's hash and its index."""
    return hashlib.sha256(f"{plan_hash}:{index}".encode()).hexdigest()[:16]
