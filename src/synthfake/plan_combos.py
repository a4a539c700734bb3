"""Plan version 5's source pools of one split, and the combinations of people a fake's other roles can take.

A fake's roles other than its pair role (the source of a swap, the parents of a morph, the speech of a lip sync)
take distinct people, none the target's. `Combos` counts those combinations and gives the c-th one (a mixed-radix
number whose digits choose among the people still free), so the k-th fake of a target can take the k-th
combination of a seeded permutation: no two fakes of one group and target repeat people until every combination
was used. For a backend that avoids glasses the combinations without a person who wears them come first in
every round ("bare" tier), then those with one ("rest" tier), as plan version 4 preferred.
"""

from __future__ import annotations

from .sample_spec import PICK_ORDER, SALT_V5_FILES, random_stream
from .sources import SourceItem

IDENTITY_KINDS = ("video", "face")  # roles that take a person (audio takes a file, anyone's)


class Names:
    """A sorted list of names with their positions: the d-th name not in an excluded set, in O(excluded)."""

    def __init__(self, names):
        self.names = sorted(names)
        self.pos = {n: k for k, n in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)

    def free(self, excluded: set[str]) -> int:
        return len(self.names) - sum(1 for e in excluded if e in self.pos)

    def nth(self, d: int, excluded: set[str]) -> str:
        idx = d
        for q in sorted(self.pos[e] for e in excluded if e in self.pos):
            if q <= idx:
                idx += 1
        return self.names[idx]


class SplitPool:
    """One split's face files in the order targets and reals take them (drawn from the seed), its people per
    kind (all, without glasses, with glasses), each person's files, and the speech files (shared by all splits)."""

    def __init__(self, faces: list[SourceItem], audio: list[SourceItem], glasses: set[str], seed: int, pos: int):
        order = random_stream(seed, SALT_V5_FILES, pos).permutation(len(faces)) if faces else []
        self.order = [faces[k] for k in order]
        self.videos = [it for it in self.order if it.kind == "video"]
        self.audio = audio
        self.files: dict[str, dict[str, list[SourceItem]]] = {"face": {}, "video": {}}
        for it in self.order:
            self.files["face"].setdefault(it.identity, []).append(it)
            if it.kind == "video":
                self.files["video"].setdefault(it.identity, []).append(it)
        self.people = {k: Names(self.files[k]) for k in IDENTITY_KINDS}
        self.bare = {k: Names(p for p in self.files[k] if p not in glasses) for k in IDENTITY_KINDS}
        self.worn = {k: Names(p for p in self.files[k] if p in glasses) for k in IDENTITY_KINDS}


class Combos:
    """The combinations of people (and speech files) for `roles` (required, not the pair role) of one split,
    none of them `exclude` (the target's person) and no person twice."""

    def __init__(self, pool: SplitPool, roles: list[tuple[int, str, str]], exclude: str | None):
        self.pool = pool
        self.roles = sorted(roles, key=lambda r: (PICK_ORDER[r[2]], r[0]))  # a video first: the most constrained
        self.excluded = {exclude} if exclude is not None else set()

    def _names(self, kind: str, tier: str) -> Names:
        return (self.pool.bare if tier == "bare" else self.pool.people)[kind]

    def count(self, tier: str = "all", start: int = 0, excluded: set[str] | None = None, extra: int = 0) -> int:
        """Combinations of roles[start:] given `excluded` people and `extra` picks of this tier already made:
        "all", "bare" (every person without glasses) or "rest" (all minus bare: at least one with glasses)."""
        if tier == "rest":
            return self.count("all", start, excluded, extra) - self.count("bare", start, excluded, extra)
        excluded = self.excluded if excluded is None else excluded
        total, picks = 1, extra
        for _, _, kind in self.roles[start:]:
            if kind == "audio":
                total *= len(self.pool.audio)
                continue
            total *= max(0, self._names(kind, tier).free(excluded) - picks)  # video people are face people too
            picks += 1
        return total

    def unrank(self, c: int, tier: str = "all") -> list[tuple[int, str, str | SourceItem]]:
        """The c-th combination of the tier: (role position, role kind, person or speech file) per role."""
        excluded, out = set(self.excluded), []
        mode = "pending" if tier == "rest" else tier  # pending: no one with glasses picked yet, one must come
        for j, (k, _, kind) in enumerate(self.roles):
            tail = "rest" if mode == "pending" else mode
            if kind == "audio":
                d, c = divmod(c, self.count(tail, j + 1, excluded))
                out.append((k, kind, self.pool.audio[d]))
                continue
            if mode != "pending":  # a plain digit: the d-th free person of the tier
                d, c = divmod(c, self.count(mode, j + 1, excluded, extra=1))
                person = self._names(kind, mode).nth(d, excluded)
            else:  # first the people with glasses (then anyone after), then the bare ones (then one must come)
                per_worn = self.count("all", j + 1, excluded, extra=1)
                n_worn = self.pool.worn[kind].free(excluded)
                if c < n_worn * per_worn:
                    d, c = divmod(c, per_worn)
                    person, mode = self.pool.worn[kind].nth(d, excluded), "all"
                else:
                    d, c = divmod(c - n_worn * per_worn, self.count("rest", j + 1, excluded, extra=1))
                    person = self.pool.bare[kind].nth(d, excluded)
            excluded.add(person)
            out.append((k, kind, person))
        return out

    def file_of(self, kind: str, person: str, turn: int) -> SourceItem:
        """The `turn`-th file of a person for a role of `kind` (files go round as a person is taken again)."""
        files = self.pool.files[kind][person]
        return files[turn % len(files)]
