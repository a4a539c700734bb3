"""Who is who among the sources: `identities.csv` when the folder has one, else files whose face embeddings lie
within the threshold of each other are one person (union-find over the close pairs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .checks import not_found_reason, read_csv
from .errors import SynthfakeError


def _close_pairs(emb: np.ndarray, threshold: float, block: int = 1024):
    """(a, b), a < b, of the embeddings closer than `threshold`: candidates from a blocked Gram matrix (BLAS, a
    second for 10^4 files, where comparing each file with every other one took a minute), each then decided by
    the very expression the one-by-one comparison used, so the same pairs come out to the last bit."""
    sq = np.einsum("ij,ij->i", emb, emb)
    for a0 in range(0, len(emb), block):
        a1 = min(len(emb), a0 + block)
        d2 = sq[a0:a1, None] + sq[None, a0:] - 2.0 * (emb[a0:a1] @ emb[a0:].T)
        rows, cols = np.nonzero(d2 < threshold * threshold + 1e-6)  # a margin far above rounding: a superset
        for a in range(a0, a1):
            cand = cols[rows == a - a0] + a0
            cand = cand[cand > a]
            if len(cand):
                d = np.linalg.norm(emb[cand] - emb[a], axis=1)
                yield from ((a, int(b)) for b in cand[d < threshold])


def read_identities(root: Path) -> dict[str, str] | None:
    """{path: identity} of the sources' `identities.csv` (None when there is none); a file without the path and
    identity columns, a path listed twice, a row without an identity or a path with no file under the folder is
    one line naming the file and row."""
    table = root / "identities.csv"
    if not table.exists():
        return None
    rows = read_csv(table, ("path", "identity"), "an identities table", unique="path")
    for i, r in zip(rows.lines, rows):
        if not r["path"] or not r["identity"]:
            raise SynthfakeError(f"{table}:{i}: a row needs both a path and an identity")
        if not (root / r["path"]).is_file():
            raise SynthfakeError(f"{table}:{i}: {r['path']!r} is no file under {root} (paths are relative to it): "
                                 f"{not_found_reason(root / r['path'])}")
    return {r["path"]: r["identity"] for r in rows}


def file_names(paths: list[str]) -> dict[str, str]:
    """A name per source path for identities: its stem where no other file shares it (talk_d3), else its path
    without the extension (alice/IMG_0001), else the whole path: two people's IMG_0001.JPG stay two names."""
    def unique(key) -> dict[str, str]:
        keys = [key(p) for p in paths]
        return {p: k for p, k in zip(paths, keys) if keys.count(k) == 1}

    stems, bare = unique(lambda p: Path(p).stem), unique(lambda p: Path(p).with_suffix("").as_posix())
    return {p: stems.get(p) or bare.get(p) or p for p in paths}


def assign_identities(root: Path, items: list["SourceItem"], threshold: float,  # noqa: F821 - sources.SourceItem
                      given: dict[str, str] | None = None) -> None:
    """Set every item's identity. Faces within `threshold` of each other are one person; a group with files
    listed in `given` (identities.csv) takes the first listed one's identity (listed files always keep their
    own), else the name of its first video (else photo). A file without a face is its own person; audio is a
    voice ("voice:NAME"), never a face's person."""
    given = given or {}
    names = file_names([it.path for it in items])
    faced = [it for it in items if it.embedding is not None]
    parent = list(range(len(faced)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    emb = np.array([it.embedding for it in faced]) if faced else np.zeros((0, 128))
    for a, b in _close_pairs(emb, threshold):
        parent[find(b)] = find(a)
    groups: dict[int, list] = {}
    for k, it in enumerate(faced):
        groups.setdefault(find(k), []).append(it)
    for members in groups.values():
        listed = sorted(m.path for m in members if m.path in given)
        lead = sorted(members, key=lambda m: (m.kind != "video", m.path))[0]
        name = given[listed[0]] if listed else names[lead.path]
        for m in members:
            m.identity = name
    for it in items:
        if it.path in given and it.kind != "audio":
            it.identity = given[it.path]
        elif not it.identity:
            it.identity = ("voice:" if it.kind == "audio" else "") + given.get(it.path, names[it.path])
