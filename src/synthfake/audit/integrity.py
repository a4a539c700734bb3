"""Audit check 1, integrity: records valid, files present with their size and sha256, the plan covered once.

Every manifest line is parsed on its own (one bad line does not hide the others), streamed, and kept as a compact
RecordView (audit/records.py). A file is hashed once per (device, inode, size, mtime), in threads (hashlib
releases the GIL). Paths are checked to stay inside the dataset with one stat per file: symlinks are resolved only
where a folder on the way or the file itself is one. Problem lists keep EXAMPLES lines each and count all, so a
million records with a problem each cost a count, not a million strings.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from pathlib import Path

from pydantic import ValidationError

import numpy as np

from .base import EXAMPLES, FAIL, PASS, WARN, Check
from .records import Compactor, RecordView
from ..errors import ManifestError
from ..files import sha256_or_none
from ..manifest import Failure, Record, iter_jsonl, part_files, read_failures, resolve, source_file, why_invalid
from ..plan import SampleTable
from ..sample_spec import sample_id
from ..progress import sample_progress

HASH_THREADS = 4
HASH_BATCH = 256  # files a thread hashes per task (one task per file cost more than hashing a small one)
SMALL_FILE = 1 << 16  # bytes: below this, hashing is mostly system calls holding the GIL, so threads only add
# lock waits (10^6 files of 23 bytes: 26 us a file over 4 threads against 11 us in one); hashlib lets go of the
# GIL on large blocks, where threads pay
FAIL_KINDS = ("invalid_lines", "escaping_paths", "missing_files", "size_mismatch", "sha256_mismatch",
              "duplicate_ids", "duplicate_indices", "unplanned_indices", "id_mismatch", "type_mismatch",
              "missing_indices", "shared_paths", "invalid_failures", "sources_mismatch")
WARN_KINDS = ("torn_tail", "orphan_files")


class Found(list):
    """One kind of problem: every occurrence counted (len), the first EXAMPLES kept as lines."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def append(self, line: str) -> None:
        self.n += 1
        if super().__len__() < EXAMPLES:
            super().append(line)

    def __iadd__(self, lines):
        for line in lines:
            self.append(line)
        return self

    def __len__(self) -> int:
        return self.n

    def __bool__(self) -> bool:
        return self.n > 0


def parse_manifests(ds: Path, problems: dict[str, list[str]]) -> list[RecordView]:
    """Every schema-valid record of every worker file (compact views); each bad line goes to `problems`."""
    out, compact = [], Compactor()
    for f in part_files(ds / "manifest"):
        try:
            for no, item, torn_tail in iter_jsonl(f, Record):
                if not isinstance(item, ValidationError):
                    out.append(compact(item))
                    continue
                if torn_tail:
                    kind, why = "torn_tail", "unfinished last line (repaired by the next run)"
                else:
                    why = why_invalid(item)
                    loc = why.split(": ", 1)[0]
                    kind = "escaping_paths" if loc == "path" or loc.endswith(".path") else "invalid_lines"
                problems[kind].append(f"{f.relative_to(ds)}:{no}: {why}")
        except ManifestError as e:  # a part that is a folder or cannot be read
            problems["invalid_lines"].append(str(e))
    return out


def _read_failures(ds: Path, problems: dict[str, list[str]]) -> list[Failure]:
    try:
        return read_failures(ds)
    except ManifestError as e:
        problems["invalid_failures"].append(str(e))
        return []


def check_files(ds: Path, records: list[RecordView], problems: dict[str, list[str]],
                show: bool) -> tuple[dict[str, str], set[str], set[str]]:
    """Existence, size and sha256 of each record's file: (id -> sha256 of the file on disk, ids whose path escapes
    the root through a symlink, ids whose file matches its record's size and sha256: the only ones the decoding
    checks open). A file is counted once, under the first test it fails: missing, then size, then sha256 (a cut
    file is a size mismatch, not a sha256 one as well)."""
    first: dict[tuple, int] = {}  # (device, inode, size, mtime) -> the position of the first record of that file
    more: dict[tuple, list[int]] = {}  # ... and of any other record of the same file
    linked: dict[int, str] = {}  # record position -> where its symlink leads
    paths: dict[str, str] = {}  # path -> the first id naming it
    shared: dict[str, list[str]] = {}
    plain_dirs: dict[str, bool] = {}  # folder -> no symlink on the way (checked once per folder)
    escaped: set[str] = set()
    wrong_size: set[int] = set()  # positions of records whose file has another size
    broken: set[str] = set()  # ids of a record whose file is missing, unreadable, escaping or not as recorded
    root = str(ds).rstrip("/") + "/"

    def flag(kind: str, r: RecordView, what: str) -> None:
        """A problem of this kind with r's file; r is not checked further."""
        problems[kind].append(f"{r.id}: {what}")
        broken.add(r.id)

    for pos, r in enumerate(records):
        if r.path in paths:
            shared.setdefault(r.path, [paths[r.path]]).append(r.id)
        else:
            paths[r.path] = r.id
        folder = r.path.rpartition("/")[0]
        if folder not in plain_dirs:
            plain_dirs[folder] = not _has_link(ds, folder)
        full = root + r.path
        try:
            st = os.lstat(full)
            if not plain_dirs[folder] or stat.S_ISLNK(st.st_mode):
                full = linked[pos] = str(resolve(ds, r))  # a link: where it points must stay inside the root
                st = os.stat(full)
        except ManifestError as e:
            flag("escaping_paths", r, str(e))
            escaped.add(r.id)
            continue
        except OSError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            why = "not found" if st is None else "is not a regular file"
            flag("missing_files", r, f"{r.path} {why}")
            continue
        if st.st_size != r.bytes:
            problems["size_mismatch"].append(f"{r.id}: {r.path} has {st.st_size} bytes, record says {r.bytes}")
            wrong_size.add(pos)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key in first:
            more.setdefault(key, []).append(pos)
        else:
            first[key] = pos
    problems["shared_paths"] += (f"{p}: {len(ids)} records ({', '.join(ids[:4])})" for p, ids in shared.items())
    keys = list(first)
    small = [k for k in keys if k[2] < SMALL_FILE]
    large = [k for k in keys if k[2] >= SMALL_FILE]

    def digest(k: tuple) -> str | None:
        size = k[2] if k[2] < SMALL_FILE else None  # a small file: one read of the size its stat gave
        return sha256_or_none(linked.get(first[k]) or root + records[first[k]].path, size)

    def hash_batch(batch: list[tuple]) -> list[str | None]:
        return [digest(k) for k in batch]

    batches = [large[k:k + HASH_BATCH] for k in range(0, len(large), HASH_BATCH)]
    actual: dict[str, str] = {}
    whole: set[str] = set()
    pool = ThreadPoolExecutor(HASH_THREADS)
    try:
        with sample_progress(len(keys), "integrity: sha256", show and len(keys) > 200) as advance:
            threaded = (d for batch in pool.map(hash_batch, batches) for d in batch)  # large files: threads
            for key, sha in chain(((k, digest(k)) for k in small), zip(large, threaded)):  # small ones: here
                advance()
                for p in (first[key], *more.get(key, ())):
                    r = records[p]
                    if sha is None:
                        flag("missing_files", r, f"{r.path} cannot be read")
                        continue
                    actual[r.id] = r.sha256 if sha == r.sha256 else sha  # the record's string when equal
                    if p in wrong_size:  # counted once: as a size mismatch
                        broken.add(r.id)
                    elif sha != r.sha256:
                        flag("sha256_mismatch", r, f"{r.path} sha256 {sha[:12]}..., record says {r.sha256[:12]}...")
                    else:
                        whole.add(r.id)
    finally:  # on Ctrl-C the batches not started are dropped (a `with` block would hash every one first)
        pool.shutdown(cancel_futures=True)
    return actual, escaped, whole - broken


def _has_link(ds: Path, rel: str) -> bool:
    """True when a folder on the way from the root to `rel` is a symlink."""
    p = ds
    for part in Path(rel).parts:
        p = p / part
        if p.is_symlink():
            return True
    return False



def check_plan_coverage(layout: SampleTable, records: list[RecordView], failures: list[Failure],
                        problems: dict[str, list[str]]) -> dict:
    """Every planned index exactly once or failed; ids derived from the plan; types as planned (vectorised:
    a million records cost seconds)."""
    total = layout.total
    ids = Counter(r.id for r in records)
    problems["duplicate_ids"] += (f"{i}: {c} records" for i, c in ids.items() if c > 1)
    del ids
    idx = np.fromiter((r.index for r in records), np.int64, len(records))
    uniq, counts = np.unique(idx, return_counts=True)
    problems["duplicate_indices"] += (f"index {i}: {c} records" for i, c in zip(uniq[counts > 1].tolist(),
                                                                                 counts[counts > 1].tolist()))
    inside = idx < total
    planned = np.full(len(records), "", object)
    planned[inside] = layout.types_of(idx[inside])
    for r, want in zip(records, planned):
        if not want:
            problems["unplanned_indices"].append(f"{r.id}: index {r.index} outside the plan (0..{total - 1})")
            continue
        if r.id != sample_id(layout.hash, r.index):
            problems["id_mismatch"].append(f"{r.id}: index {r.index} has id {sample_id(layout.hash, r.index)} "
                                           f"in this plan")
        if r.type != want or r.label != (0 if r.type == "real" else 1):
            problems["type_mismatch"].append(f"{r.id}: {r.type} (label {r.label}), planned {want}")
    present = uniq[uniq < total]
    failed = np.setdiff1d(np.unique(np.fromiter((f.index for f in failures), np.int64, len(failures))), present)
    failed = failed[failed < total]
    covered = np.union1d(present, failed)
    missing, shown = problems["missing_indices"], 0
    for start in range(0, total, 1 << 16):  # the first examples; the count from the sizes
        if shown >= EXAMPLES:
            break
        span = np.arange(start, min(total, start + (1 << 16)))
        for i in span[~np.isin(span, covered)][:EXAMPLES - shown].tolist():
            missing.append(f"index {i} ({layout.type_of(i)}): no record and no failure")
            shown += 1
    missing.n += total - len(covered) - shown
    return {"planned": total, "present": len(present), "failed": len(failed)}


def readable(ds: Path, sources_root: str, records: list[RecordView], problems: dict[str, list[str]],
             escaped: set[str]) -> set[str]:
    """Ids of the records whose media and sources all resolve inside their roots (the only ones later checks
    may open); a source that escapes is an escaping path (a media path that escapes is one already). Each source
    path is checked once."""
    ok_source: dict[str, str | None] = {}
    out = set()
    for r in records:
        if r.id in escaped:
            continue  # counted by check_files
        why = None
        for ref in r.sources:
            if ref.path not in ok_source:
                try:
                    source_file(sources_root, ref)
                    ok_source[ref.path] = None
                except ManifestError as e:
                    ok_source[ref.path] = str(e)
            why = why or ok_source[ref.path]
        if why:
            problems["escaping_paths"].append(f"{r.id}: {why}")
            continue
        out.add(r.id)
    return out


def orphan_files(ds: Path, records: list[RecordView]) -> list[str]:
    """Media files no record points to (hidden temporary files of live workers are not counted)."""
    known = {r.path for r in records}
    out = []
    for dirpath, dirnames, filenames in os.walk(ds / "media"):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(ds).as_posix()
        out += [f"{rel}/{f}" for f in sorted(filenames) if not f.startswith(".") and f"{rel}/{f}" not in known]
    return sorted(out)


def check_integrity(ds: Path, layout: SampleTable,
                    show: bool) -> tuple[Check, list[RecordView], list[Failure], dict, set[str]]:
    """Run check 1; returns the check, the valid records (first per id), the failures, the on-disk hashes and the
    ids of the records whose file is whole (its recorded size and sha256: `check_files`)."""
    problems: dict[str, Found] = {k: Found() for k in (*FAIL_KINDS, *WARN_KINDS)}
    if layout.plan.sources_digest != layout.index.digest:
        problems["sources_mismatch"].append(f"{ds / 'sources.json'}: digest {layout.index.digest}, plan.json says "
                                            f"{layout.plan.sources_digest}")
    records = parse_manifests(ds, problems)
    failures = _read_failures(ds, problems)
    coverage = check_plan_coverage(layout, records, failures, problems)
    actual, escaped, whole = check_files(ds, records, problems, show)
    problems["orphan_files"] += orphan_files(ds, records)
    safe = readable(ds, layout.index.root, records, problems, escaped)
    seen, unique = set(), []
    for r in records:
        if r.id not in seen and r.id in safe:
            seen.add(r.id)
            unique.append(r)
    counts = {k: len(v) for k, v in problems.items()}
    status = FAIL if any(counts[k] for k in FAIL_KINDS) else WARN if any(counts[k] for k in WARN_KINDS) else PASS
    bad = [f"{counts[k]} {k.replace('_', ' ')}" for k in (*FAIL_KINDS, *WARN_KINDS) if counts[k]]
    first = next((problems[k][0] for k in (*FAIL_KINDS, *WARN_KINDS) if problems[k]), "")
    summary = (f"{len(records)} records, {coverage['present']}/{coverage['planned']} planned present, "
               f"{coverage['failed']} failed; " + ("; ".join(bad) + f" (e.g. {first})" if bad else
                                                    f"{len(whole)} files match size and sha256"))
    details = {"records": len(records), "files_hashed": len(actual), "files_whole": len(whole), **coverage,
               "counts": counts,
               "examples": {k: list(v)[:EXAMPLES] for k, v in problems.items() if v}}
    return Check("integrity", status, summary, details), unique, failures, actual, whole
