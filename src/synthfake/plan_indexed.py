"""Plan version 5's sample table: sample i (type, backend, split, sources, clip, seed) from i alone.

Where it sits: plan_layout (group and rank k, by keyed permutations). What it takes:
- a fake's pair role (a swap's target, a morph's base, a reenactment's driving video, a lip sync's video): the
  group's target people go round in a seeded order from an offset of its own, fake k taking person
  (offset + k) mod P, whose files go round as the person is taken again;
- its other roles: the people of `plan_combos.Combos` for that target, the r-th fake of a target person taking
  combination r of a seeded permutation (bare combinations first for a backend that avoids glasses), so fakes of a
  group repeat no one's faces while combinations are left, and a person's files go round as they are taken again;
- a real: the m-th real of a split takes the split's file m mod F (every file once before any twice), and pairs
  with that file's next fake not yet paired (same file, same clip; found in closed form per group) when there
  is one, else its own clip.
A redraw (attempt k > 0 after a failed quality gate) keeps the pair role's file and clip and draws the other roles
again, so a real paired with a fake stays paired with what that fake shows, whichever attempt is recorded.
Version 6 draws the backends of a type that take the same roles as one group (`family`), and pairs a real with a
PAIR_STILL fake made from a video as that clip's still. Version 7: the m-th real of a split takes the split's
fake p(m mod F) (p a keyed permutation of its F fakes) and is the file its fake was made on, paired with it (a
fake of no source, text to image: the split's photos in turn); beyond F, the same targets unpaired. So reals
are photos and clips in the fakes' share: version 6's went over every file once, and clips leaned fake.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .errors import PlanError
from .plan_combos import Combos, SplitPool
from .plan_layout import Group, Layout
from .plan_perm import Permutation
from .plan_table import TableBase, left_out
from .sample_spec import (SALT_V5_COMBOS, SALT_V5_FAKE, SALT_V5_OFFSET, SALT_V5_REAL, SALT_V7_REAL, SALT_V8_STILL,
                          SampleSpec, random_stream, sample_id)
from .shared_types import PAIR_ROLE, TYPE_INFO
from .sources import SourceItem


def _key(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


PAIR_KEYS = ("clip_start", "clip_frames", "max_side", "still_at")  # what a redraw keeps and a paired real takes


@dataclass
class Rotation:
    """How a group's fakes take their targets: the pair role's position in the roles, the target people in turn
    (fake k takes person (offset + k) mod P, and that person's files go round as they are taken again), and the
    other roles (required ones in `others`, optional ones drawn per sample)."""

    pair: int | None
    people: list[str]
    files: dict[str, list[SourceItem]]  # person -> their files for the pair role, in the split's order
    offset: int
    others: list[tuple[int, str, str]]
    optional: list[tuple[int, str, str]]

    def __post_init__(self):
        self.place = {p: n for n, p in enumerate(self.people)}

    def target(self, k: int) -> tuple[SourceItem, int]:
        """Fake k's target file, and how many of the group's fakes took that person before it."""
        u = self.offset + k
        person, turn = self.people[u % len(self.people)], u // len(self.people)
        first = 0 if self.place[person] >= self.offset else 1  # the cycle of this person's first fake
        files = self.files[person]
        return files[turn % len(files)], turn - first

    def fakes_of(self, item: SourceItem) -> tuple[int, int] | None:
        """(k0, step): the group's fakes whose target is `item` are ranks k0, k0 + step, ... (None: never)."""
        files = self.files.get(item.identity, [])
        j = next((n for n, it in enumerate(files) if it.path == item.path), None)
        if j is None:
            return None
        p, n = self.place[item.identity], len(self.people)
        turn = 0 if p >= self.offset else 1
        turn += (j - turn) % len(files)  # the first turn of this person that takes file j
        return p + turn * n - self.offset, n * len(files)


class IndexedTable(TableBase):
    """Version 5: the layout, each split's pools, and each group's rotation of targets; nothing per sample."""

    def __init__(self, plan, index):
        super().__init__(plan, index)
        self.layout = Layout(plan)
        self.split_pools = {s: SplitPool(self.pools[s]["face"], self.pools[s]["audio"], self.glasses, plan.seed, n)
                            for n, s in enumerate(plan.splits)}
        self._rotations: dict[Group, Rotation] = {}
        self._families: dict[Group, tuple[Group, int, int]] = {}
        self._split_fakes: dict[str, tuple[list[Group], Permutation, list[SourceItem]]] = {}
        self.validate()

    # ------------------------------------------------------------------ what every version answers
    def type_of(self, i: int) -> str:
        self.check_index(i)
        return self.layout.type_of(i)

    def types_of(self, indices: np.ndarray) -> np.ndarray:
        return self.layout.types_of(np.asarray(indices, np.int64))

    def backend(self, i: int) -> str:
        self.check_index(i)
        return self.layout.locate(i)[0].backend

    def group_counts(self) -> Counter:
        return self.layout.group_counts()

    def spec(self, i: int, attempt: int = 0) -> SampleSpec:
        self.check_index(i)
        group, k = self.layout.locate(i)
        if group.type == "real":
            return self._real(i, group, k, attempt)
        spec, code = self._fake(i, group, k)
        return self._redraw(spec, group, code, attempt) if attempt else spec

    # ------------------------------------------------------------------ groups
    def family(self, g: Group) -> tuple[Group, int, int]:
        """(the group whose draws g continues, g's first rank in them, their fakes together). Plan version 6 draws
        the backends of one type and split that take the same roles as one group, so that two backends do not
        make fakes of the same people while others are left (version 5 drew each apart: a mixed plan pasted one
        source onto one target photo by landmark_swap and by aligned_swap, and `gen audit` found the two alike).
        Before version 6, and for a type with one such backend, (g, 0, g.count): the same draws."""
        if g not in self._families:
            same = [g]
            if self.plan.version >= 6 and g.type != "real":
                same = [h for h in self.layout.all_groups if (h.type, h.split) == (g.type, g.split) and
                        self.roles[h.backend] == self.roles[g.backend] and
                        self.avoid_glasses[h.backend] == self.avoid_glasses[g.backend]]
            before = same[:same.index(g)]
            self._families[g] = (same[0], sum(h.count for h in before), sum(h.count for h in same))
        return self._families[g]

    def rotation(self, g: Group) -> Rotation:
        """A group's target people (plan time, from the group's size): every person of the split who can take the
        pair role, in a seeded order; for a backend that avoids glasses, only people without them while their
        combinations are enough for the group's fakes (version 4's rule: new faces before avoiding glasses)."""
        head, _, count = self.family(g)
        if head is not g:
            return self.rotation(head)
        if g not in self._rotations:
            roles = self.roles[g.backend]
            pair = next((n for n, (r, kind) in enumerate(roles) if r == PAIR_ROLE[g.type] and
                         not kind.endswith("?")), None)
            others = [(n, r, kind) for n, (r, kind) in enumerate(roles) if n != pair and not kind.endswith("?")]
            optional = [(n, r, kind.rstrip("?")) for n, (r, kind) in enumerate(roles) if kind.endswith("?")]
            files: dict[str, list[SourceItem]] = {}
            if pair is not None:
                files = dict(self.split_pools[g.split].files["video" if roles[pair][1] == "video" else "face"])
                bare = {p: f for p, f in files.items() if p not in self.glasses}
                sp = self.split_pools[g.split]
                if self.avoid_glasses[g.backend] and bare and \
                        sum(Combos(sp, others, p).count("all") for p in bare) >= count:
                    files = bare
            gid = self.layout.all_groups.index(g)
            people = sorted(files)
            order = random_stream(self.plan.seed, SALT_V5_OFFSET, gid).permutation(len(people)) if people else []
            people = [people[k] for k in order] or [None]
            offset = _key(f"{self.plan.seed}:{SALT_V5_OFFSET}:{gid}") % len(people)
            self._rotations[g] = Rotation(pair, people, files, offset, others, optional)
        return self._rotations[g]

    @lru_cache(maxsize=4096)
    def _combos(self, g: Group, person: str | None) -> tuple[Combos, int, int]:
        """The other roles' combinations for a target person: (combos, all, bare)."""
        combos = Combos(self.split_pools[g.split], self.rotation(g).others, person)
        return combos, combos.count("all"), combos.count("bare") if self.avoid_glasses[g.backend] else 0

    def validate(self) -> None:
        super().validate()
        problems = []
        for g in self.layout.all_groups:
            if g.type == "real" or not g.count:
                continue
            rot = self.rotation(g)
            people = set(rot.people)
            kinds = {}  # the count of combinations depends on a person only through these memberships
            for person in sorted(people, key=str):
                kinds.setdefault((person in self.split_pools[g.split].people["video"].pos, person in self.glasses),
                                 person)
            for person in kinds.values():
                if self._combos(g, person)[1] == 0:
                    problems.append(f"split '{g.split}': {g.type} by {g.backend} finds no one for its other roles "
                                    f"({', '.join(r for _, r, _ in rot.others)})" + (f" beside {person}" if person
                                                                                      else ""))
                    break
        if problems:
            raise PlanError(" | ".join(problems) + f". Add face sources or change the split fractions"
                            f"{left_out(self.index)}.")

    # ------------------------------------------------------------------ fakes
    def _fake(self, i: int, g: Group, k: int) -> tuple[SampleSpec, tuple[str, int]]:
        """Fake i at rank k of group g, and the (tier, number) of its other roles' combination."""
        rot = self.rotation(g)
        head, first, _ = self.family(g)
        picked: dict[int, tuple[SourceItem, str]] = {}
        target, turn = None, k
        if rot.pair is not None:
            target, turn = rot.target(first + k)  # turn: this person's how-manieth fake in the group's family
            picked[rot.pair] = (target, self.roles[g.backend][rot.pair][0])
        combos, n_all, n_bare = self._combos(g, target.identity if target else None)
        rounds, q = divmod(turn, n_all)
        key = (self.plan.seed, SALT_V5_COMBOS, self.layout.all_groups.index(head),
               _key(str(target and target.identity)), rounds)
        if q < n_bare:
            code = ("bare", Permutation(n_bare, *key, 0)(q))
        elif n_bare:
            code = ("rest", Permutation(n_all - n_bare, *key, 1)(q - n_bare))
        else:
            code = ("all", Permutation(n_all, *key)(q))
        self._take(picked, combos, combos.unrank(code[1], code[0]), rounds + code[1], g)
        rng = random_stream(self.plan.seed, SALT_V5_FAKE, i)
        self._optional(picked, rot, g, rng)
        params = self.clip(rng, target) if target is not None else {}
        if self.pair_max_side[g.backend]:
            params["max_side"] = self.pair_max_side[g.backend]
        if self.plan.version >= 8 and self.pair_still[g.backend] and target is not None and target.kind == "video":
            params["still_at"] = round(float(random_stream(self.plan.seed, SALT_V8_STILL, i).random()), 4)
        return self._spec(i, g, picked, params, int(rng.integers(2**31)), i, 0), code

    def _take(self, picked: dict, combos: Combos, drawn, turn: int | None, g: Group, rng=None) -> None:
        roles = self.roles[g.backend]
        for k, kind, who in drawn:
            if kind == "audio":
                picked[k] = (who, roles[k][0])
            else:
                files = combos.pool.files[kind][who]
                n = int(rng.integers(len(files))) if rng is not None else turn % len(files)
                picked[k] = (files[n], roles[k][0])

    def _optional(self, picked: dict, rot: Rotation, g: Group, rng: np.random.Generator) -> None:
        """Optional roles ("face?"): half the time, when a person is left, a free one (bare first where avoided)."""
        sp = self.split_pools[g.split]
        for k, role, kind in rot.optional:
            used = {it.identity for it, _ in picked.values()}
            names = sp.bare[kind] if self.avoid_glasses[g.backend] and sp.bare[kind].free(used) else sp.people[kind]
            free = names.free(used)
            if not free or rng.random() < 0.5:
                continue
            person = names.nth(int(rng.integers(free)), used)
            files = sp.files[kind][person]
            picked[k] = (files[int(rng.integers(len(files)))], role)

    def _redraw(self, first: SampleSpec, g: Group, code: tuple[str, int], attempt: int) -> SampleSpec:
        """Attempt k: the first draw's target and clip, other people (another combination when there is one)."""
        rot = self.rotation(g)
        picked = {rot.pair: first.sources[[r for _, r in first.sources].index(self.roles[g.backend][rot.pair][0])]} \
            if rot.pair is not None else {}
        target = picked[rot.pair][0] if rot.pair is not None else None
        combos, n_all, n_bare = self._combos(g, target.identity if target else None)
        rng = random_stream(self.plan.seed, SALT_V5_FAKE, first.index, attempt)
        tier, size = ("bare", n_bare) if n_bare else ("all", n_all)
        first_code = code[1] if code[0] == tier else None
        c = int(rng.integers(size - 1 if first_code is not None and size > 1 else size))
        if first_code is not None and size > 1 and c >= first_code:
            c += 1  # never the first draw's combination when another is left
        self._take(picked, combos, combos.unrank(c, tier), None, g, rng)
        self._optional(picked, rot, g, rng)
        params = {k: first.params[k] for k in PAIR_KEYS if k in first.params}
        return self._spec(first.index, g, picked, params, int(rng.integers(2**31)), first.index, attempt)

    def _spec(self, i: int, g: Group, picked: dict, params: dict, seed: int, degrade_key: int,
              attempt: int) -> SampleSpec:
        return SampleSpec(i, sample_id(self.hash, i), g.type, g.backend, g.split, seed,
                          [picked[k] for k in sorted(picked)], params, degrade_key=degrade_key, attempt=attempt)

    # ------------------------------------------------------------------ reals
    def _real(self, i: int, g: Group, k: int, attempt: int) -> SampleSpec:
        sp = self.split_pools[g.split]
        if attempt:  # a redraw: any face of the split, unpaired
            rng = random_stream(self.plan.seed, SALT_V5_REAL, i, attempt)
            item = sp.order[int(rng.integers(len(sp.order)))]
            return self._spec(i, g, {0: (item, "real")}, self.clip(rng, item), int(rng.integers(2**31)), i, attempt)
        m = self.layout.real_rank_in_split(g, k)
        rng = random_stream(self.plan.seed, SALT_V5_REAL, i)
        if self.plan.version >= 7 and (drawn := self._split_fake(g.split, m)) is not None:
            item, fake, paired = drawn
        else:
            item, turn = sp.order[m % len(sp.order)], m // len(sp.order)
            fake = self.paired_fake(g.split, item, turn)
            paired = fake is not None
        if not paired:  # its own clip; at its fake's working size where that fake has one (plan 7)
            params = self.clip(rng, item)
            if fake is not None and "max_side" in fake.params:
                params["max_side"] = fake.params["max_side"]
            return self._spec(i, g, {0: (item, "real")}, params, int(rng.integers(2**31)), i, 0)
        params = {k: fake.params[k] for k in PAIR_KEYS if k in fake.params}
        params["paired_with"] = fake.id
        photo_of_clip = self.pair_still[fake.backend] or (  # an image of the clip: plan 6; any such type: plan 7
            self.plan.version >= 7 and TYPE_INFO[fake.type].outputs == ("image",))
        if photo_of_clip and item.kind == "video":
            params["still"] = True
        return self._spec(i, g, {0: (item, "real")}, params, int(rng.integers(2**31)), fake.index, 0)

    def _split_fake(self, split: str, m: int) -> tuple[SourceItem, SampleSpec | None, bool] | None:
        """Version 7: the m-th real of a split's file, the fake it takes it from (None for a fake of no source,
        whose real takes the split's photos in turn) and whether they pair (not beyond the split's fakes); None
        when the split has no fakes."""
        if split not in self._split_fakes:
            groups = [h for h in self.layout.all_groups if h.type != "real" and h.split == split and h.count]
            order = Permutation(sum(h.count for h in groups), self.plan.seed, SALT_V7_REAL,
                                list(self.plan.splits).index(split))
            photos = [it for it in self.split_pools[split].order if it.kind == "image"]
            self._split_fakes[split] = groups, order, photos or self.split_pools[split].order
        groups, order, photos = self._split_fakes[split]
        if not order.n:
            return None
        turn, j = divmod(m, order.n)
        j = order(j)
        for h in groups:  # fake j of the split: rank j of the first group that holds it
            if j < h.count:
                break
            j -= h.count
        rot = self.rotation(h)
        if rot.pair is None:  # text to image: no file of the split made it
            return photos[m % len(photos)], None, False
        fake = self._fake(self.layout.index_of(h, j), h, j)[0]
        role = self.roles[h.backend][rot.pair][0]
        return next(it for it, r in fake.sources if r == role), fake, not turn

    def paired_fake(self, split: str, item: SourceItem, turn: int) -> SampleSpec | None:
        """The `turn`-th fake of the split whose target is `item` (groups in plan order), or None."""
        for g in self.layout.all_groups:
            if g.type == "real" or g.split != split or not g.count:
                continue
            rot = self.rotation(g)
            if rot.pair is None:
                continue
            _, first, _ = self.family(g)
            found = rot.fakes_of(item)  # ranks of the family; g holds [first, first + g.count) of them
            k0 = None if found is None else found[0] + -(-max(first - found[0], 0) // found[1]) * found[1] - first
            here = 0 if k0 is None or k0 >= g.count else (g.count - 1 - k0) // found[1] + 1
            if turn < here:
                k = k0 + turn * found[1]
                return self._fake(self.layout.index_of(g, k), g, k)[0]
            turn -= here
        return None
