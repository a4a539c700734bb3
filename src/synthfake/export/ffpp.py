"""FaceForensics++ layout (ondyari/FaceForensics b952e41c, dataset/README.md and dataset/splits/*.json):

    original_sequences/youtube/c23/videos/NNN.mp4             reals
    manipulated_sequences/<backend>/c23/videos/T_S.mp4        fakes, T = target, S = source
    splits/{train,val,test}.json (and the same at the root)   lists of [T, S] pairs, as FF++ ships them

Numbers are given to our source files (sorted by path), so a real clip is named after its source file and a
fake after its target (the video or photo whose frames it was made on: the role its paired real shows) and its
source (the other face or the audio). Images (generation) go to `.../images/NAME/0000.png`, as FF++ stores
frames. Names that would repeat get `_k` appended; `names.json` maps every name to its record id, split and
label. Each file is linked or copied to a temporary name and renamed; a resumed export skips files present.
"""

from __future__ import annotations

from pathlib import Path

from synthfake.files import write_json_atomic
from synthfake.progress import sample_progress

from synthfake.shared_types import PAIR_ROLE

from .common import COMPRESSION, SPLITS, Item, Options, Result, copy_atomic

VERSION = "1"
SETTINGS = ()  # the Options fields this format reads


def ready(o: Options) -> str | None:
    """Needs nothing beyond the core install."""
    return None





def source_numbers(items: list[Item]) -> dict[str, str]:
    """Every source file used, numbered in path order with at least three digits (FF++'s 000..999)."""
    paths = sorted({s.path for it in items for s in it.record.sources})
    width = max(3, len(str(max(len(paths) - 1, 0))))
    return {p: f"{i:0{width}d}" for i, p in enumerate(paths)}


def pair_of(it: Item, numbers: dict[str, str]) -> tuple[str, str] | None:
    """(target, source) numbers of a record: target = the source its frames come from."""
    srcs = it.record.sources
    if not srcs:
        return None
    role = PAIR_ROLE.get(it.record.type)
    target = next((s for s in srcs if s.role == role), srcs[0])
    other = next((s for s in srcs if s is not target), target)
    return numbers[target.path], numbers[other.path]


def base_name(it: Item, numbers: dict[str, str]) -> str:
    pair = pair_of(it, numbers)
    if pair is None:
        return it.record.id  # no source at all (text-to-image): the record id
    return pair[0] if it.record.label == 0 else f"{pair[0]}_{pair[1]}"


def folder_of(it: Item) -> str:
    if it.record.label == 0:
        return f"original_sequences/youtube/{COMPRESSION}"
    return f"manipulated_sequences/{it.record.backend}/{COMPRESSION}"


def target_path(it: Item, name: str) -> str:
    if it.record.media.kind == "image":
        return f"{folder_of(it)}/images/{name}/0000{it.media.suffix.lower()}"
    return f"{folder_of(it)}/videos/{name}{it.media.suffix.lower()}"


def export(items: list[Item], out: Path, o: Options, res: Result) -> dict:
    numbers = source_numbers(items)
    used: dict[str, set] = {}
    names: dict[str, dict] = {}
    pairs: dict[str, list] = {s: [] for s in SPLITS}
    with sample_progress(len(items), "ffpp files", o.show) as advance:
        for it in items:
            r = it.record
            name = base = base_name(it, numbers)
            taken = used.setdefault(folder_of(it), set())
            k = 1
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            taken.add(name)
            rel = target_path(it, name)
            if not (out / rel).exists():
                copy_atomic(it.media, out / rel)
            names[rel] = {"name": name, "id": r.id, "split": r.split, "label": r.label, "type": r.type,
                          "backend": r.backend}
            pair = pair_of(it, numbers)
            if r.label == 1 and pair is not None and list(pair) not in pairs.setdefault(r.split, []):
                pairs[r.split].append(list(pair))
            advance()
    for split, lst in pairs.items():
        for where in (out / "splits" / f"{split}.json", out / f"{split}.json"):
            write_json_atomic(where, sorted(lst))
    write_json_atomic(out / "names.json", names)
    write_json_atomic(out / "source_numbers.json", numbers)
    res.exported = len(items)
    return {"compression": COMPRESSION}
