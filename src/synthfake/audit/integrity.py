"""Audit check 1, integrity: records valid, files present with their size and sha256, the plan covered once.

Every manifest line is parsed on its own (one bad line does not hide the others). A file is hashed once
per (device, inode, size, mtime), in threads (hashlib releases the GIL).
"""

from __future__ import annotations

import os
import stat
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import ValidationError

from .base import EXAMPLES, FAIL, PASS, WARN, Check
from ..errors import ManifestError
from ..files import sha256_file
from ..manifest import Failure, Record, iter_jsonl, read_failures, resolve, source_file
from ..plan import SampleTable
from ..sample_spec import sample_id
from ..progress import sample_progress

HASH_THREADS = 4
FAIL_KINDS = ("invalid_lines", "escaping_paths", "missing_files", "size_mismatch", "sha256_mismatch",
              "duplicate_ids", "duplicate_indices", "unplanned_indices", "id_mismatch", "type_mismatch",
              "missing_indices", "shared_paths", "invalid_failures", "sources_mismatch")
WARN_KINDS = ("torn_tail", "orphan_files")


def parse_manifests(ds: Path, problems: dict[str, list[str]]) -> list[Record]:
    """Every schema-valid record of every worker file; each bad line goes to `problems` with file:line."""
    out = []
    for f in sorted((ds / "manifest").glob("part-*.jsonl")):
        try:
            lines = list(iter_jsonl(f, Record))
        except ManifestError as e:  # a part that is a folder or cannot be read
            problems["invalid_lines"].append(str(e))
            continue
        for no, item, torn_tail in lines:
            if not isinstance(item, ValidationError):
                out.append(item)
                continue
            where = f"{f.relative_to(ds)}:{no}"
            if torn_tail:
                problems["torn_tail"].append(f"{where}: unfinished last line (repaired by the next run)")
                continue
            err = item.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            kind = "escaping_paths" if loc == "path" or loc.endswith(".path") else "invalid_lines"
            problems[kind].append(f"{where}: {loc}: {err['msg']}")
    return out


def _read_failures(ds: Path, problems: dict[str, list[str]]) -> list[Failure]:
    try:
        return read_failures(ds)
    except ManifestError as e:
        problems["invalid_failures"].append(str(e))
        return []


def check_files(ds: Path, records: list[Record], problems: dict[str, list[str]], show: bool) -> dict[str, str]:
    """Existence, size and sha256 of each record's file; returns id -> sha256 of the file on disk."""
    by_key: dict[tuple, list[Record]] = defaultdict(list)
    paths: dict[str, list[str]] = defaultdict(list)
    plain_dirs: dict[str, bool] = {}  # folder -> no symlink on the way (checked once per folder)
    root = str(ds)
    for r in records:
        paths[r.path].append(r.id)
        folder = r.path.rpartition("/")[0]
        if folder not in plain_dirs:
            plain_dirs[folder] = not _has_link(ds, folder)
        full = os.path.join(root, r.path)
        try:
            st = os.lstat(full)
            if not plain_dirs[folder] or stat.S_ISLNK(st.st_mode):
                full = str(resolve(ds, r))  # a link: where it points must stay inside the root
                st = os.stat(full)
        except ManifestError as e:
            problems["escaping_paths"].append(f"{r.id}: {e}")
            continue
        except OSError:
            problems["missing_files"].append(f"{r.id}: {r.path} not found")
            continue
        if not stat.S_ISREG(st.st_mode):
            problems["missing_files"].append(f"{r.id}: {r.path} is not a regular file")
            continue
        if st.st_size != r.bytes:
            problems["size_mismatch"].append(f"{r.id}: {r.path} has {st.st_size} bytes, record says {r.bytes}")
        by_key[(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)].append((r, full))
    problems["shared_paths"] += [f"{p}: {len(ids)} records ({', '.join(ids[:4])})" for p, ids in paths.items()
                                 if len(ids) > 1]
    keys = list(by_key)
    sums: dict[tuple, str | None] = {}
    with sample_progress(len(keys), "integrity: sha256", show and len(keys) > 200) as advance, \
            ThreadPoolExecutor(HASH_THREADS) as pool:
        for key, digest in zip(keys, pool.map(_sha_or_none, (by_key[k][0][1] for k in keys))):
            sums[key] = digest
            advance()
    actual = {}
    for key, recs in by_key.items():
        digest = sums[key]
        for r, _ in recs:
            if digest is None:
                problems["missing_files"].append(f"{r.id}: {r.path} cannot be read")
                continue
            actual[r.id] = digest
            if digest != r.sha256:
                problems["sha256_mismatch"].append(f"{r.id}: {r.path} sha256 {digest[:12]}..., "
                                                   f"record says {r.sha256[:12]}...")
    return actual


def _has_link(ds: Path, rel: str) -> bool:
    """True when a folder on the way from the root to `rel` is a symlink."""
    p = ds
    for part in Path(rel).parts:
        p = p / part
        if p.is_symlink():
            return True
    return False


def _sha_or_none(path: str) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def check_plan_coverage(layout: SampleTable, records: list[Record], failures: list[Failure],
                        problems: dict[str, list[str]]) -> dict:
    """Every planned index exactly once or failed; ids derived from the plan; types as planned."""
    total = len(layout.types)
    ids = Counter(r.id for r in records)
    problems["duplicate_ids"] += [f"{i}: {c} records" for i, c in ids.items() if c > 1]
    idx = Counter(r.index for r in records)
    problems["duplicate_indices"] += [f"index {i}: {c} records" for i, c in sorted(idx.items()) if c > 1]
    for r in records:
        if r.index >= total:
            problems["unplanned_indices"].append(f"{r.id}: index {r.index} outside the plan (0..{total - 1})")
            continue
        if r.id != sample_id(layout.hash, r.index):
            problems["id_mismatch"].append(f"{r.id}: index {r.index} has id {sample_id(layout.hash, r.index)} "
                                           f"in this plan")
        planned = str(layout.types[r.index])
        if r.type != planned or r.label != (0 if r.type == "real" else 1):
            problems["type_mismatch"].append(f"{r.id}: {r.type} (label {r.label}), planned {planned}")
    failed = {f.index for f in failures} - set(idx)
    missing = [i for i in range(total) if i not in idx and i not in failed]
    problems["missing_indices"] += [f"index {i} ({layout.types[i]}): no record and no failure" for i in missing]
    return {"planned": total, "present": sum(1 for i in idx if i < total), "failed": len(failed)}


def readable(ds: Path, sources_root: str, records: list[Record], problems: dict[str, list[str]]) -> set[str]:
    """Ids of the records whose media and sources all resolve inside their roots (the only ones later checks
    may open); a source that escapes is an escaping path (a media path that escapes is one already)."""
    out = set()
    for r in records:
        try:
            resolve(ds, r)
        except ManifestError:
            continue  # counted by check_files
        try:
            for ref in r.sources:
                source_file(sources_root, ref)
        except ManifestError as e:
            problems["escaping_paths"].append(f"{r.id}: {e}")
            continue
        out.add(r.id)
    return out


def orphan_files(ds: Path, records: list[Record]) -> list[str]:
    """Media files no record points to (hidden temporary files of live workers are not counted)."""
    known = {r.path for r in records}
    out = []
    for dirpath, dirnames, filenames in os.walk(ds / "media"):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = Path(dirpath).relative_to(ds).as_posix()
        out += [f"{rel}/{f}" for f in filenames if not f.startswith(".") and f"{rel}/{f}" not in known]
    return sorted(out)


def check_integrity(ds: Path, layout: SampleTable, show: bool) -> tuple[Check, list[Record], list[Failure], dict]:
    """Run check 1; returns the check, the valid records (first per id), the failures and the on-disk hashes."""
    problems: dict[str, list[str]] = {k: [] for k in (*FAIL_KINDS, *WARN_KINDS)}
    if layout.plan.sources_digest != layout.index.digest:
        problems["sources_mismatch"].append(f"{ds / 'sources.json'}: digest {layout.index.digest}, plan.json says "
                                            f"{layout.plan.sources_digest}")
    records = parse_manifests(ds, problems)
    failures = _read_failures(ds, problems)
    coverage = check_plan_coverage(layout, records, failures, problems)
    actual = check_files(ds, records, problems, show)
    problems["orphan_files"] = orphan_files(ds, records)
    safe = readable(ds, layout.index.root, records, problems)
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
                                                    f"{len(actual)} files match size and sha256"))
    details = {"records": len(records), "files_hashed": len(actual), **coverage, "counts": counts,
               "examples": {k: v[:EXAMPLES] for k, v in problems.items() if v}}
    return Check("integrity", status, summary, details), unique, failures, actual
