"""FaceForensics++ layout (ondyari/FaceForensics b952e41c, dataset/README.md and dataset/splits/*.json):

    original_sequences/youtube/c23/videos/NNN.mp4             reals, one number each
    manipulated_sequences/<backend>/c23/videos/T_S.mp4        fakes: T the target's original, S the source's
    splits/{train,val,test}.json (and the same at the root)   lists of [T, S] pairs, as FF++ ships them

FF++'s loaders read a split's pairs and address `T_S` under each method and `T` (and `S`) under the originals
(patch-forensics' faceforensics_process_frames.py opens `T_S.mp4` and `T.mp4`; DeepfakeBench's rearrange.py
maps each name a pair makes to its split and looks every file up: a name no pair makes is a KeyError). So every
file here is named that way and listed in its own split: a real gets
the next number; a fake's T is the number of its paired real (the very clip it was made on, `paired_with`) or
of a real from the same target file in its split, its S the number of a real of its source file in the split;
a number no real holds is new (an original that is not part of this export). Two fakes of one backend with the
same pair take a new S, and a real that no fake names is paired with the next such real of its split, so no
name needs a suffix and no file is left out of the splits. Images (generation) go to `.../images/NAME/0000.png`,
as FF++ stores frames. `names.json` maps every file to its record id, split and label; `numbers.json` every
number to its real's record (or null) and source file. Each file is copied (hard-linked with --link) to a
temporary name and renamed; a resumed export skips files present.
"""

from __future__ import annotations

from pathlib import Path

from synthfake.files import write_json_atomic
from synthfake.progress import sample_progress
from synthfake.shared_types import PAIR_ROLE

from .common import COMPRESSION, SPLITS, Item, Options, Result
from .copies import copy_atomic

VERSION = "2"  # 2: names follow T_S for every file (numbers per real file, new S for a repeated pair)
SETTINGS = ("link",)  # the Options fields this format reads


class Numbers:
    """FF++ numbers: one per real record (in export order), then new ones for originals not exported."""

    def __init__(self, items: list[Item]):
        reals = [it for it in items if it.record.label == 0]
        self.width = max(3, len(str(3 * len(items))))  # reals, then at most 3 new per fake
        self.info: dict[str, dict] = {}
        self.of_real: dict[str, str] = {}  # real record id -> number
        self.by_file: dict[tuple[str, str], list[str]] = {}  # (split, source path) -> numbers of its reals
        for it in reals:
            src = it.record.sources[0].path if it.record.sources else None
            n = self._new({"real": it.record.id, "source": src})
            self.of_real[it.record.id] = n
            if src:
                self.by_file.setdefault((it.record.split, src), []).append(n)

    def _new(self, info: dict) -> str:
        n = f"{len(self.info):0{self.width}d}"
        self.info[n] = info
        return n

    def of_file(self, split: str, path: str | None) -> str:
        """The number of a real of `path` in `split`, else a new number for that file's original."""
        if path is None:
            return self._new({"real": None, "source": None})
        found = self.by_file.get((split, path))
        if found:
            return found[0]
        n = self._new({"real": None, "source": path})
        self.by_file[(split, path)] = [n]
        return n

    def new(self, path: str | None) -> str:
        return self._new({"real": None, "source": path})


def fake_pair(it: Item, numbers: Numbers, paired: dict[str, str]) -> tuple[str, str]:
    """(T, S) of a fake: T its paired real (or a real of its target file), S a real of its other source."""
    r = it.record
    role = PAIR_ROLE.get(r.type)
    target = next((s for s in r.sources if s.role == role), r.sources[0] if r.sources else None)
    other = next((s for s in r.sources if s is not target), None)
    t = paired.get(r.id) or numbers.of_file(r.split, target.path if target else None)
    s = numbers.of_file(r.split, other.path if other else None)
    return t, (s if s != t else numbers.new(other.path if other else None))


def folder_of(it: Item) -> str:
    if it.record.label == 0:
        return f"original_sequences/youtube/{COMPRESSION}"
    return f"manipulated_sequences/{it.record.backend}/{COMPRESSION}"


def target_path(it: Item, name: str) -> str:
    if it.record.media.kind == "image":
        return f"{folder_of(it)}/images/{name}/0000{it.media.suffix.lower()}"
    return f"{folder_of(it)}/videos/{name}{it.media.suffix.lower()}"


def plan_names(items: list[Item]) -> tuple[dict[str, str], dict[str, list], Numbers]:
    """{record id: name}, {split: [[T, S], ...]} and the numbers, for every record."""
    numbers = Numbers(items)
    paired = {it.record.params["paired_with"]: numbers.of_real[it.record.id] for it in items
              if it.record.label == 0 and it.record.params.get("paired_with")}
    names: dict[str, str] = {}
    pairs: dict[str, list] = {s: [] for s in SPLITS}
    taken: set[tuple[str, str]] = set()  # (backend, name)
    for it in (i for i in items if i.record.label == 1):
        r = it.record
        t, s = fake_pair(it, numbers, paired)
        if (r.backend, f"{t}_{s}") in taken:  # the same pair again (a split out of combinations): a new S
            s = numbers.new(None)
        taken.add((r.backend, f"{t}_{s}"))
        names[r.id] = f"{t}_{s}"
        if [t, s] not in pairs.setdefault(r.split, []):
            pairs[r.split].append([t, s])
    for split in list(pairs):
        named = {x for p in pairs[split] for x in p}
        lone = [numbers.of_real[it.record.id] for it in items
                if it.record.label == 0 and it.record.split == split and numbers.of_real[it.record.id] not in named]
        for a, b in zip(lone[::2], lone[1::2] + [None]):
            pairs[split].append([a, b if b is not None else a])
    for it in (i for i in items if i.record.label == 0):
        names[it.record.id] = numbers.of_real[it.record.id]
    return names, pairs, numbers


def export(items: list[Item], out: Path, o: Options, res: Result) -> dict:
    names, pairs, numbers = plan_names(items)
    listing: dict[str, dict] = {}
    with sample_progress(len(items), "ffpp files", o.show, unit="files") as advance:
        for it in items:
            r = it.record
            rel = target_path(it, names[r.id])
            if not (out / rel).exists():
                copy_atomic(it.media, out / rel, o.link)
            listing[rel] = {"name": names[r.id], "id": r.id, "split": r.split, "label": r.label, "type": r.type,
                            "backend": r.backend}
            advance()
    for split, lst in pairs.items():
        for where in (out / "splits" / f"{split}.json", out / f"{split}.json"):
            write_json_atomic(where, sorted(lst))
    write_json_atomic(out / "names.json", listing)
    write_json_atomic(out / "numbers.json", numbers.info)
    res.exported = len(items)
    return {"compression": COMPRESSION}
