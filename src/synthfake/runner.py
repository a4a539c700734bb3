"""A shard: worker (rank, world_size) makes the samples i with i % world_size == rank, datatrove-style.

Where a sample is planned (`SampleTable.spec`), generated (`backend.generate`), and written and recorded
(`writer.commit_sample`) is all in `Shard.make` below; a backend that declares a batch size gets runs of its
samples in one `generate_batch` call (`Shard.make_batch`), each then committed the same way. Completion lives
on disk: a shard skips every id already in any manifest file, so a rerun resumes and a finished run does nothing.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator

from rich.console import Console
from rich.text import Text

from . import generators as registry
from .dataset import Dataset, as_dataset
from .errors import (EXIT_BROKEN, EXIT_FAILED, EXIT_KILLED, EXIT_USAGE, EnvironmentBroken, SampleFailed, SynthfakeError,
                     PATH_ERRNOS, environment_cause, os_error)
from .files import lock_nowait
from .manifest import Failure, Record, append_line, repair_torn_tail
from .pools import die_with_parent
from .progress import sample_progress
from .record_check import drop_unusable, say_dropped
from .run_config import RunSettings
from .sample_spec import SampleSpec
from .software import note as note_software
from .source_files import Sources
from .writer import commit_sample, now, source_refs

err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)  # text as written


@dataclass
class WorkerResult:
    rank: int
    world_size: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    generate_s: float = 0.0
    bookkeeping_s: float = 0.0
    reasons: list[str] = field(default_factory=list)


def batch_size(backend, ctx: registry.Context) -> int:
    """How many samples a backend takes at once: its `batch_size(ctx)` or `BATCH_SIZE`, else 1."""
    declared = getattr(backend, "batch_size", None)
    return max(1, int(declared(ctx) if callable(declared) else getattr(backend, "BATCH_SIZE", 1)))


def one_line(e: BaseException) -> str:
    """An exception as the one line a failure records."""
    text = str(e) if isinstance(e, SynthfakeError) else f"{type(e).__name__}: {e}"
    return " ".join(text.split())[:500] or type(e).__name__


class Shard:
    """Shard (rank, world) of a dataset with the run's settings: `run()` makes every sample of it that no manifest
    holds yet, appending records to its own manifest file and failures to its own failures file, under a lock."""

    def __init__(self, dataset: str | Path | Dataset, settings: RunSettings, rank: int = 0, world: int = 1):
        self.ds, self.settings, self.rank, self.world = as_dataset(dataset), settings, rank, world
        self.ctx = settings.context(self.ds.cache_dir, self.ds.plan.backend_opts)
        self.res = WorkerResult(rank, world)
        self.manifest: IO | None = None
        self.failures: IO | None = None

    @property
    def label(self) -> str:
        return f"shard {self.rank}/{self.world}"

    def run(self, limit: int | None = None) -> WorkerResult:
        """Make every sample of this shard that no manifest holds yet (at most `limit`)."""
        ds = self.ds
        ds.manifest_dir.mkdir(exist_ok=True)
        ds.failures_dir.mkdir(exist_ok=True)
        manifest_file, failures_file, lock_file = ds.worker_files(self.rank, self.world)
        # a shard with nothing left takes the claim (a live other world size is still refused) but leaves
        # claim.json naming the world size that wrote last: a rerun of a finished dataset changes nothing
        claim = ds.claim(self.world, lambda: bool(ds.todo(self.rank, self.world, self.settings.retry_failed)))
        lock = lock_nowait(lock_file)
        if lock is None:
            claim.close()
            raise SynthfakeError(f"{lock_file}: held by another live worker of the same rank; not starting twice")
        try:
            repair_torn_tail(manifest_file)
            repair_torn_tail(failures_file)
            if self.settings.check_records:
                say_dropped(manifest_file, drop_unusable(ds.root, manifest_file), self._say)
            held = ds.held((self.rank, self.world) if self.world > 1 else None)  # only parts that can hold mine
            if held.summary():
                err.print(f"{self.label}: {held.summary()}", markup=False, highlight=False)
            todo = ds.todo(self.rank, self.world, self.settings.retry_failed, held)
            mine = range(self.rank, ds.plan.total, self.world)
            self.res.skipped = len(mine) - len(todo)
            todo = todo[:limit] if limit is not None else todo
            self._remove_stale_tmp()
            if not todo:
                self._say_nothing_to_do(mine, held)
                return self.res
            note_software(manifest_file, self._say)
            with open(manifest_file, "a") as self.manifest, open(failures_file, "a") as self.failures, \
                    sample_progress(len(todo), self.label, self.settings.show_progress) as advance:
                for group in self.batches(ds.table.spec(i) for i in todo):  # each planned as its turn comes
                    self._make_group(group, advance)
        finally:
            lock.close()
            claim.close()
        return self.res

    def _remove_stale_tmp(self) -> None:
        """Remove this worker's leftover temporary media files, and those of any other worker (another rank, or a
        world size since given up) whose lock no live process holds: a kill -9 under world size 1 left one for
        ever once world size 2 finished the dataset (7 Dec sweep)."""
        free: dict[tuple[int, int], bool] = {(self.rank, self.world): True}
        for p in self.ds.tmp_files(-1, -1):
            m = re.search(r"\.r(\d+)of(\d+)\.tmp", p.name)
            if not m:
                continue
            key = (int(m.group(1)), int(m.group(2)))
            if key not in free:
                lock = lock_nowait(self.ds.worker_files(*key)[2]) if key[1] > 0 else None
                free[key] = lock is not None
                if lock is not None:
                    lock.close()
            if free[key]:
                p.unlink(missing_ok=True)

    def _say(self, line: str) -> None:
        err.print(f"{self.label}: {line}", markup=False, highlight=False)

    def _say_nothing_to_do(self, mine: range, held) -> None:
        if not self.settings.show_progress:
            return
        err.print(f"{self.label}: nothing to do ({len(mine)} samples: {len(held.done)} done, {len(held.failed)} "
                  f"failed" + (f", {len(held.foreign)} held by a record of another id" if len(held.foreign) else "")
                  + ")")

    def _make_group(self, group: list[SampleSpec], advance) -> None:
        """Make one sample (or one backend batch), redraw what failed a quality gate, record each failure; stop
        the shard after the group when the environment broke (nothing recorded for those samples)."""
        if len(group) > 1:
            results = self.make_batch(group)
        else:
            try:
                results = [self.make(group[0])]
            except Exception as e:  # one bad sample never stops the run: record it and go on
                results = [e]
        broken = None
        for spec, result in zip(group, results):
            spec, result = self.redraw(spec, result)
            cause = environment_cause(result) if isinstance(result, BaseException) else None
            if cause is not None:  # not this sample's fault: record nothing, stop after the group (nor counted
                self.clean(spec)   # on the progress line: it is still to do)
                broken = broken or (spec, cause)
                continue
            if isinstance(result, Exception):
                self.fail(spec, result)
            else:
                self.res.done += 1
            advance()
        if broken:
            raise EnvironmentBroken(f"{self.label} stopped at sample {broken[0].index}: {broken[1]}; nothing "
                                    f"recorded as failed: fix it and rerun the same command to resume")

    def _inputs(self, spec: SampleSpec) -> tuple[Sources, Path]:
        """A sample's sources and the temporary stem its backend writes to."""
        ds = self.ds
        ds.media_dir(spec.split, spec.type).mkdir(parents=True, exist_ok=True)
        return (Sources.of(spec.sources, Path(ds.index.root), ds.cache_dir, ds.table.glasses),
                ds.tmp_stem(spec.split, spec.type, spec.id, self.rank, self.world))

    def _commit(self, spec: SampleSpec, backend, out: registry.Generated, t0: float) -> Record:
        rec, commit_s = commit_sample(self.ds, spec, backend.VERSION, out, (self.rank, self.world), self.manifest, t0)
        self.res.generate_s += time.perf_counter() - t0 - commit_s
        self.res.bookkeeping_s += commit_s
        return rec

    def make(self, spec: SampleSpec) -> Record:
        """Generate one sample into a temporary file, then commit it and its record (the writer)."""
        t0 = time.perf_counter()
        sources, stem = self._inputs(spec)
        backend = registry.get(spec.backend)
        return self._commit(spec, backend, backend.generate(spec, sources, stem, self.ctx), t0)

    def make_batch(self, specs: list[SampleSpec]) -> list[Record | Exception]:
        """Generate samples of one batching backend in one call; each then takes the one-sample commit."""
        t0 = time.perf_counter()
        backend = registry.get(specs[0].backend)
        inputs = [self._inputs(spec) for spec in specs]
        try:
            outs = backend.generate_batch(specs, [i[0] for i in inputs], [i[1] for i in inputs], self.ctx)
        except Exception as e:  # the whole call failed: every sample of the batch records the reason
            outs = [e] * len(specs)
        if len(outs) != len(specs):
            outs = [SynthfakeError(f"backend '{specs[0].backend}': generate_batch returned {len(outs)} results "
                                   f"for {len(specs)} samples")] * len(specs)
        share = (time.perf_counter() - t0) / len(specs)
        done: list[Record | Exception] = []
        for spec, out in zip(specs, outs):
            try:
                done.append(out if isinstance(out, Exception) else
                            self._commit(spec, backend, out, time.perf_counter() - share))
            except Exception as e:
                done.append(e)
        return done

    def redraw(self, spec: SampleSpec, result) -> tuple[SampleSpec, Record | Exception]:
        """A sample that failed a quality gate (SampleFailed: its own sources or draw were at fault) is drawn again,
        attempt 1, 2 ... up to plan.redraws, each attempt a pure function of (plan, index, attempt); other errors
        (a backend not ready, a bug) are not the draw's fault and fail at once."""
        while isinstance(result, SampleFailed) and spec.attempt < self.ds.plan.redraws:
            self.clean(spec)
            err.print(Text.assemble(("redraw", "yellow"), f" sample {spec.index} ({spec.type}), attempt "
                                    f"{spec.attempt + 1}: {one_line(result)}"))
            try:
                spec = self.ds.table.spec(spec.index, spec.attempt + 1)
                result = self.make(spec)
            except Exception as e:  # a redraw the sources cannot supply ends the redraws with its reason
                result = e
        return spec, result

    def clean(self, spec: SampleSpec) -> None:
        """Remove a sample's temporary files."""
        for p in self.ds.tmp_files(self.rank, self.world, spec.split, spec.type, spec.id):
            p.unlink(missing_ok=True)

    def batches(self, specs: Iterable[SampleSpec]) -> Iterator[list[SampleSpec]]:
        """The todo list in order, runs of one batching backend grouped up to its batch size, others alone;
        yielded as they fill, so a shard of a million samples plans one group at a time."""
        cur: list[SampleSpec] = []
        size = 1
        for spec in specs:
            if cur and (size <= 1 or cur[0].backend != spec.backend or len(cur) >= size):
                yield cur
                cur = []
            if not cur:
                try:
                    backend = registry.get(spec.backend)
                    size = batch_size(backend, self.ctx) if hasattr(backend, "generate_batch") else 1
                except Exception:  # make() reports an unusable backend as this sample's failure
                    size = 1
            cur.append(spec)
        if cur:
            yield cur

    def _log_bug(self, spec: SampleSpec, e: BaseException) -> Path:
        """Append an unexpected exception's traceback to the worker's log in the dataset; returns the log."""
        log = self.ds.worker_log(self.rank, self.world)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as fh:
            fh.write(f"--- {now()} sample {spec.index} ({spec.id}, {spec.type}/{spec.backend})\n")
            fh.write("".join(traceback.format_exception(type(e), e, e.__traceback__)))
        return log

    def fail(self, spec: SampleSpec, e: BaseException) -> None:
        """Remove the sample's temporary files and append its failure with a one-line reason; an unexpected
        exception (a bug, not a bad sample) also leaves its traceback in the worker's log, which the reason names."""
        self.clean(spec)
        reason = one_line(e)
        if isinstance(e, OSError) and e.errno in PATH_ERRNOS:  # a folder where its file goes: the path's fault
            reason = f"{os_error(e)[0]}: this path cannot take the sample's file (move what is there and rerun)"
        elif not isinstance(e, SynthfakeError):
            reason = f"{reason[:300]} (unexpected: traceback in {self._log_bug(spec, e)})"
        append_line(self.failures, Failure(
            id=spec.id, index=spec.index, type=spec.type, backend=spec.backend, split=spec.split,
            sources=source_refs(spec), reason=reason, attempts=spec.attempt + 1, rank=self.rank,
            world_size=self.world, host=socket.gethostname(), created=now()))
        self.res.failed += 1
        self.res.reasons.append(reason)
        err.print(Text.assemble(("failed", "red"), f" sample {spec.index} ({spec.type}): {reason}"))


def worker_process(dataset: str, settings: RunSettings, rank: int, world: int, gpus: list[str],
                   parent: int | None = None) -> None:
    """Body of one local worker process: pin its GPU, run its shard; exit 1 when samples failed, 2 with a
    one-line error (bad input), 3 when the environment broke (nothing recorded), 143 on SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the launcher's to handle: it stops us
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_KILLED))  # finally-blocks release the locks
    if parent is not None:
        die_with_parent(parent)
    if settings.device == "cuda" and gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[rank % len(gpus)]
    try:
        res = Shard(dataset, settings, rank, world).run()
    except SynthfakeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_BROKEN if isinstance(e, EnvironmentBroken) else EXIT_USAGE)
    except OSError as e:  # a full disk or a damaged dataset folder before any sample: one line, as the CLI says it
        line, code = os_error(e)
        print(f"error: {line}", file=sys.stderr)
        sys.exit(code)
    sys.exit(EXIT_FAILED if res.failed else 0)
