"""Datasets made without generating anything, at any size: a sources folder of tiny files with a matching cached
index, and a dataset whose records (one per planned index, over W part files) point to tiny media files. Counting,
resume, status, audit (no decoding) and export read them as they read a real dataset; tests use a few samples,
benchmarks/bench_scale.py a million. Works with the plan code of any version (it asks the table what it has)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

LANDMARKS = [[float(x), float(y)] for x, y in zip(range(68), range(68))]


def write_sources(folder: Path, files: int, people: int, video_share: float = 0.3, audio: int = 2,
                  embeddings: bool = False, seed: int = 0):
    """`files` face files of `people` people (a share of them videos) plus `audio` speech files under `folder`,
    and the index a scan would make of them (to be saved as DATASET/sources.json, the scan's cache). Without
    `embeddings`, an identities.csv names each file's person; with them, the scan groups files by embedding."""
    from synthfake.sources import SourceIndex, SourceItem

    folder = Path(folder)
    (folder / "faces").mkdir(parents=True, exist_ok=True)
    (folder / "audio").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 128))
    centres *= 0.6 / np.linalg.norm(centres, axis=1, keepdims=True)  # people 0.85 apart, files 0.02 from theirs
    items, rows = [], ["path,identity"]
    for k in range(files):
        person = k % people
        video = (person / people) < video_share
        rel = f"faces/f{k:06d}_{person}.{'mp4' if video else 'jpg'}"
        items.append(_item(folder, rel, "video" if video else "image", f"p{person}",
                           (centres[person] + rng.normal(scale=0.002, size=128)).round(6).tolist() if embeddings
                           else None))
        rows.append(f"{rel},p{person}")
    for k in range(audio):
        items.append(_item(folder, f"audio/speech{k}.wav", "audio", f"voice:speech{k}", None))
    if not embeddings:
        (folder / "identities.csv").write_text("\n".join(rows) + "\n")
    return SourceIndex(root=str(folder.resolve()), items=[SourceItem(**it) for it in items])


def _item(folder: Path, rel: str, kind: str, identity: str, embedding) -> dict:
    p = folder / rel
    p.write_bytes(rel.encode())
    st = p.stat()
    face = kind != "audio"
    return dict(path=rel, kind=kind, sha256=hashlib.sha256(rel.encode()).hexdigest(), bytes=st.st_size,
                mtime_ns=st.st_mtime_ns, width=64 if face else 0, height=64 if face else 0,
                frames=250 if kind == "video" else (1 if face else 0),
                fps=25.0 if kind == "video" else 0.0, duration=10.0 if kind != "image" else 0.0, audio=kind != "image",
                faces_found=1 if face else 0, faces_sampled=1 if face else 0, box=[8, 8, 40, 40] if face else None,
                landmarks=LANDMARKS if face else None, embedding=embedding, identity=identity,
                glasses=0.3 if face else None)


def plan_dataset(out: Path, sources: Path, index, n: int, reals: int, seed: int = 0, version: int | None = None):
    """Write plan.json and sources.json of a dataset over `sources` (the plan the CLI's defaults make)."""
    from synthfake.dataset import Dataset
    from synthfake.shared_types import DEFAULT_BACKENDS, DEFAULT_RATIOS
    from synthfake.sources import save_index

    out.mkdir(parents=True, exist_ok=True)
    if index is not None:  # else the caller put the scan's cache there
        save_index(out / "sources.json", index)
    fields = dict(n=n, reals=reals, seed=seed, ratios=dict(DEFAULT_RATIOS), backends=dict(DEFAULT_BACKENDS))
    if version is not None:
        fields["version"] = version
    ds = Dataset.prepare(out, sources, fields, 0.4)
    ds.save()
    return ds


def _where(table, indices: np.ndarray):
    """(type, backend, split) of each index, as cheaply as the table's version allows."""
    if hasattr(table, "layout"):  # plan version 5
        groups = table.layout.all_groups
        return [(groups[g].type, groups[g].backend, groups[g].split) for g in table.layout.group_ids(indices)]
    out = []
    for i in indices.tolist():  # versions 1-4: a real's split is its pair's (the j-th fake's)
        t = str(table.types[i])
        if t == "real":
            j = int(np.searchsorted(table.reals, i))
            split = table.split_of[int(table.fakes[j])] if j < len(table.fakes) else table.split_of[i]
        else:
            split = table.split_of[i]
        out.append((t, table.backend(i), split))
    return out


def write_records(ds, world: int = 1, upto: int | None = None, media: bool = True, chunk: int = 1 << 15) -> int:
    """One record per planned index below `upto` (all by default), in part files of `world` shards as its
    workers would have written them, each pointing to a tiny media file (written when `media`)."""
    from synthfake.sample_spec import sample_id

    table, root = ds.table, Path(ds.root)
    total = min(ds.plan.total, upto if upto is not None else ds.plan.total)
    (root / "manifest").mkdir(exist_ok=True)
    parts = [open(root / "manifest" / f"part-{r:05d}-of-{world:05d}.jsonl", "a") for r in range(world)]
    made, sources = set(), {}
    try:
        for start in range(0, total, chunk):
            idx = np.arange(start, min(total, start + chunk))
            for i, (t, backend, split) in zip(idx.tolist(), _where(table, idx)):
                sid = sample_id(table.hash, i)
                rel = f"media/{split}/{t}/{sid}.png"
                body = f"{sid}:{i}".encode()
                if media:
                    folder = root / "media" / split / t
                    if folder not in made:
                        folder.mkdir(parents=True, exist_ok=True)
                        made.add(folder)
                    with open(root / rel, "wb") as fh:
                        fh.write(body)
                key = (split, i % 97, t == "real")  # a few people per split, none in two splits
                if key not in sources:
                    path = f"faces/{split}-{key[1]}.jpg"
                    sources[key] = {"path": path, "sha256": hashlib.sha256(path.encode()).hexdigest(),
                                    "identity": f"{split}-{key[1]}", "role": "real" if key[2] else "target"}
                source = sources[key]
                rec = {"id": sid, "index": i, "type": t, "label": 0 if t == "real" else 1, "backend": backend,
                       "backend_version": "1", "weights": {}, "weights_unverified": [], "params": {}, "seed": i,
                       "sources": [source], "identities": [source["identity"]], "path": rel,
                       "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body),
                       "media": {"kind": "image", "width": 8, "height": 8, "frames": 1, "fps": 0.0, "duration": 0.0,
                                 "codec": "png", "audio": False},
                       "manipulated_frames": 0 if t == "real" else 1, "degradations": [], "attempt": 0,
                       "split": split, "rank": i % world, "world_size": world, "host": "synthetic",
                       "elapsed_s": 0.0, "created": "2026-01-01T00:00:00+00:00"}
                parts[i % world].write(json.dumps(rec, separators=(",", ":")) + "\n")
    finally:
        for fh in parts:
            fh.close()
    return total


def lines_of(ds) -> list[tuple[Path, int, dict]]:
    """(part, line number, record) of every manifest line, for tests that edit one."""
    out = []
    for f in sorted((Path(ds.root) / "manifest").glob("part-*.jsonl")):
        for no, line in enumerate(f.read_text().splitlines(), 1):
            out.append((f, no, json.loads(line)))
    return out


def append_line(part: Path, record: dict) -> None:
    with open(part, "a") as fh:
        fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
