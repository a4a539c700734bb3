"""A shard's own records checked when it starts: a record whose media file is gone, cut short or replaced by one of
another size, or whose line is not a valid record (a path that escapes the dataset, a field deleted), is dropped from
its part file so the sample is made again. Counting reads only a line's id and index, so such a sample had counted
as done for ever: the same `gen run` said "nothing to do" while `gen audit` and `gen export` found it missing.
The dropped lines are kept, as they were, in logs/dropped-<part>."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from pydantic import ValidationError

from .files import atomic_file, lock_nowait
from .manifest import Record, iter_lines, part_shard, why_invalid

NOTES = 10  # dropped records said one line each; past that, a count


def unusable(root: Path, line: bytes) -> tuple[int | None, str | None]:
    """(index, why the record on `line` cannot stand for its sample in dataset `root`; None when it can), checked
    by its fields and its media file's size, not its sha256 (`gen audit --check integrity` reads every byte). The
    index is None for a line without a readable one (left for the counting to refuse, as before)."""
    try:
        rec = Record.model_validate_json(line)
    except ValidationError as e:
        return _index(line), f"not a valid record ({why_invalid(e)})"
    try:  # the path is relative without '..' (the record's validator); lstat, not a resolve (100 us a record,
        st = os.lstat(os.path.join(root, rec.path))  # 10^6 records had taken 150 s): a symlink is not the file
    except FileNotFoundError:
        return rec.index, f"{rec.path}: media file missing"
    except OSError as e:
        return rec.index, f"{rec.path}: media file cannot be read ({e.strerror or type(e).__name__})"
    if not stat.S_ISREG(st.st_mode):
        return rec.index, f"{rec.path}: not a file (a folder or a link where the record's file was)"
    if st.st_size != rec.bytes:
        return rec.index, f"{rec.path}: {st.st_size} bytes where the record says {rec.bytes} (cut short or replaced)"
    return rec.index, None


def _index(line: bytes) -> int | None:
    try:
        index = json.loads(line).get("index")
    except (ValueError, AttributeError):
        return None
    return index if isinstance(index, int) and not isinstance(index, bool) and index >= 0 else None


def drop_unusable(root: Path, part: Path) -> list[tuple[int, str]]:
    """Rewrite `part` (a shard's own manifest part, its lock held, its torn tail already cut) without the records
    that cannot stand (`unusable`); returns (index, reason) of each one dropped. Streamed twice, the second time
    only when something is dropped: a part of 10^6 records is never held whole (41 s, measured)."""
    if not part.is_file():
        return []
    bad, said = set(), []
    for no, _, line, _ in iter_lines(part):
        index, why = unusable(root, line)
        if why and index is not None:
            bad.add(no)
            said.append((index, why))
    if not bad:
        return []
    log = Path(root) / "logs" / f"dropped-{part.name}"
    log.parent.mkdir(exist_ok=True)
    with atomic_file(part) as tmp, open(tmp, "wb") as kept, open(log, "ab") as dropped:
        for no, _, line, _ in iter_lines(part):
            (dropped if no in bad else kept).write(line + b"\n")
        dropped.flush()
        os.fsync(dropped.fileno())  # before the part loses them: a kill between the two loses no line
    return said


def drop_in_parts(ds, parts: list[Path], say) -> int:
    """`drop_unusable` on each of `parts` whose worker lock is free (a live worker's part is its own to check),
    each dropped record said in one line through `say` (the first NOTES of them); returns how many were dropped."""
    total = 0
    for part in parts:
        shard = part_shard(part)
        lock = lock_nowait(ds.worker_files(*shard)[2]) if shard else None
        if lock is None:
            continue
        try:
            total += say_dropped(part, drop_unusable(ds.root, part), say)
        finally:
            lock.close()
    return total


def say_dropped(part: Path, dropped: list[tuple[int, str]], say) -> int:
    """One line through `say` per record dropped from `part` (the first NOTES of them, then a count)."""
    for index, why in dropped[:NOTES]:
        say(f"{part.name}: dropped the record of sample {index}, to be made again: {why} (its line is kept in "
            f"logs/dropped-{part.name})")
    if len(dropped) > NOTES:
        say(f"{part.name}: ... and {len(dropped) - NOTES} more dropped records (logs/dropped-{part.name})")
    return len(dropped)
