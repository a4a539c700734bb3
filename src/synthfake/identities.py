"""Who is who among the sources: `identities.csv` when the folder has one, else files whose face embeddings lie
within the threshold of each other are one person (union-find over the close pairs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .checks import read_csv
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
    identity columns, a path listed twice or a row without an identity is one line naming the file and row."""
    table = root / "identities.csv"
    if not table.exists():
        return None
    rows = read_csv(table, ("path", "identity"), "an identities table", unique="path")
    blank = next((i for i, r in enumerate(rows, start=2) if not r["path"] or not r["identity"]), None)
    if blank is not None:
        raise SynthfakeError(f"{table}:{blank}: a row needs both a path and an identity")
    return {r["path"]: r["identity"] for r in rows}


def assign_identities(root: Path, items: list["SourceItem"], threshold: float,  # noqa: F821 - sources.SourceItem
                      given: dict[str, str] | None = None) -> None:
    """Set every item's identity: from `given` (identities.csv), else faces within `threshold` of each other are one
    person, named by the stem of the group's first video (else photo); a file without a face is its own."""
    if given is not None:
        for it in items:
            it.identity = given.get(it.path, Path(it.path).stem)
        return
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
        lead = sorted(members, key=lambda m: (m.kind != "video", m.path))[0]
        for m in members:
            m.identity = Path(lead.path).stem
    for it in items:
        if not it.identity:
            it.identity = ("voice:" if it.kind == "audio" else "") + Path(it.path).stem
