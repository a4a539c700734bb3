"""Workers: worker (rank, world_size) makes the samples i with i % world_size == rank, datatrove-style.

Where a sample is planned (`SampleTable.spec`), generated (`backend.generate`), written (`commit_file`) and
recorded (`append_line`) is all in `make_sample` below; a backend that declares a batch size gets runs of
its samples in one `generate_batch` call (`make_batch`), each then written and recorded the same way.
Completion lives on disk: a worker skips every id already in any manifest file, so a rerun resumes and a
finished run does nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from . import generators as registry
from . import media
from .dataset import Dataset, as_dataset
from .errors import EXIT_BROKEN, EXIT_FAILED, EXIT_KILLED, EXIT_USAGE, EnvironmentBroken, SampleFailed, SynthfakeError, environment_cause
from .degrade import apply_chain, draw_chain
from .files import commit_file, lock_nowait, sha256_file
from .manifest import Failure, Record, SourceRef, append_line, repair_torn_tail
from .sample_spec import SampleSpec, sample_id
from .progress import sample_progress
from .sources import Sources

err = Console(stderr=True, soft_wrap=True)

ENV_WORLD = [("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"), ("SLURM_PROCID", "SLURM_NTASKS"),
             ("RANK", "WORLD_SIZE")]


def world_from_env(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """Flags first, then Slurm array, Slurm tasks, torchrun; else a single worker. Checked before anything
    is written: a bad value (RANK=x, rank >= world size) is one line naming where it came from."""
    where = "--rank/--world-size"
    if rank is not None or world_size is not None:
        r, w = rank or 0, world_size or 1
    else:
        r, w = 0, 1
        for kr, kw in ENV_WORLD:
            if os.environ.get(kr) is not None and os.environ.get(kw) is not None:
                where = f"${kr}/${kw}"
                try:
                    r, w = int(os.environ[kr]), int(os.environ[kw])
                except ValueError:
                    given = f"${kr}={os.environ[kr]!r} / ${kw}={os.environ[kw]!r}"
                    raise SynthfakeError(f"{given}: expected whole numbers") from None
                break
    if not (w >= 1 and 0 <= r < w):
        raise SynthfakeError(f"{where}: rank {r} / world size {w}: need 0 <= rank < world size")
    return r, w


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


def _lock(path: Path):
    fh = lock_nowait(path)
    if fh is None:
        raise SynthfakeError(f"{path}: held by another live worker of the same rank; not starting twice") from None
    return fh


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _refs(spec: SampleSpec) -> list[SourceRef]:
    return [SourceRef(path=it.path, sha256=it.sha256, identity=it.identity, role=role) for it, role in spec.sources]


def _inputs(ds: Dataset, spec: SampleSpec, rank: int, world: int) -> tuple[Sources, Path]:
    """A sample's sources and the temporary stem its backend writes to."""
    ds.media_dir(spec.split, spec.type).mkdir(parents=True, exist_ok=True)
    root = Path(ds.index.root)
    return (Sources.of(spec.sources, root, ds.cache_dir, ds.table.glasses),
            ds.tmp_stem(spec.split, spec.type, spec.id, rank, world))


def batch_size(backend, ctx: registry.Context) -> int:
    """How many samples a backend takes at once: its `batch_size(ctx)` or `BATCH_SIZE`, else 1."""
    declared = getattr(backend, "batch_size", None)
    return max(1, int(declared(ctx) if callable(declared) else getattr(backend, "BATCH_SIZE", 1)))


def make_batch(ds: Dataset, specs: list[SampleSpec], ctx: registry.Context, rank: int, world: int,
               res: WorkerResult) -> list[Record | Exception]:
    """Generate samples of one batching backend in one call; each then takes the one-sample write path."""
    t0 = time.perf_counter()
    backend = registry.get(specs[0].backend)
    inputs = [_inputs(ds, spec, rank, world) for spec in specs]
    try:
        outs = backend.generate_batch(specs, [i[0] for i in inputs], [i[1] for i in inputs], ctx)
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
                        finish_sample(ds, spec, backend, out, rank, world, res, time.perf_counter() - share))
        except Exception as e:
            done.append(e)
    return done


def make_sample(ds: Dataset, spec: SampleSpec, ctx: registry.Context, rank: int, world: int,
                res: WorkerResult) -> Record:
    """Generate one sample into a temporary file, commit it under its final name, and build its record."""
    t0 = time.perf_counter()
    sources, stem = _inputs(ds, spec, rank, world)
    backend = registry.get(spec.backend)
    return finish_sample(ds, spec, backend, backend.generate(spec, sources, stem, ctx), rank, world, res, t0)


def finish_sample(ds: Dataset, spec: SampleSpec, backend, out: registry.Generated, rank: int,
                  world: int, res: WorkerResult, t0: float) -> Record:
    """Check, degrade and commit what a backend wrote for one sample, and build its record."""
    out_dir = ds.media_dir(spec.split, spec.type)
    if spec.label == 1 and out.manipulated_frames < ds.plan.min_manipulated * out.frames:
        raise SampleFailed(f"only {out.manipulated_frames}/{out.frames} frames manipulated "
                           f"(minimum {ds.plan.min_manipulated:.0%}); a fake of real frames is label noise")
    applied = _degrade(ds, spec, out) if ds.plan.degrade else []
    t1 = time.perf_counter()
    final = out_dir / f"{spec.id}{out.path.suffix}"
    info = media.probe(out.path)
    sha, size = sha256_file(out.path), out.path.stat().st_size
    commit_file(out.path, final)
    rec = Record(
        id=spec.id, index=spec.index, type=spec.type, label=spec.label, backend=spec.backend,
        backend_version=backend.VERSION, weights=out.weights, weights_unverified=out.weights_unverified,
        params={**spec.params, **out.params},
        seed=spec.seed, sources=_refs(spec), identities=sorted({it.identity for it, _ in spec.sources}),
        path=final.relative_to(ds.root).as_posix(), sha256=sha, bytes=size,
        media=info.model_copy(update={"frames": out.frames, "fps": round(info.fps, 4),
                                      "duration": round(info.duration, 4)}),
        manipulated_frames=out.manipulated_frames, degradations=applied, attempt=spec.attempt, split=spec.split,
        rank=rank, world_size=world, host=socket.gethostname(), elapsed_s=round(time.perf_counter() - t0, 3),
        created=_now())
    res.generate_s += t1 - t0
    res.bookkeeping_s += time.perf_counter() - t1
    return rec


def _degrade(ds: Dataset, spec: SampleSpec, out: registry.Generated) -> list[dict]:
    """Post-process the backend's output through the plan's chain, drawn for this sample; keep a 'before' still."""
    chain = draw_chain(ds.plan.degrade, [ds.plan.seed, *spec.degrade_seed], media.kind_of(out.path))
    if not chain:
        return []
    before = ds.pristine_still(spec.id)
    before.parent.mkdir(parents=True, exist_ok=True)
    frames = [media.read_image(out.path)] if media.kind_of(out.path) == "image" else \
        media.read_frames(out.path, out.frames // 2, 1)
    before.write_bytes(media.encode_png(frames[0]))
    new_path = apply_chain(out.path, Path(f"{out.path.with_suffix('')}.deg"), chain)
    out.path.unlink()
    n = media.probe(new_path).frames if new_path.suffix == ".mp4" else 1
    out.manipulated_frames = round(out.manipulated_frames * n / max(1, out.frames))  # frame-rate change
    out.path, out.frames = new_path, n
    return chain


def _one_line(e: BaseException) -> str:
    text = str(e) if isinstance(e, SynthfakeError) else f"{type(e).__name__}: {e}"
    return " ".join(text.split())[:500] or type(e).__name__


def run_worker(dataset: str | Path | Dataset, rank: int, world_size: int, device: str = "cpu",
               weights_dir: str | Path | None = None, retry_failed: bool = False, show_progress: bool = True,
               limit: int | None = None) -> WorkerResult:
    """Make every sample of shard (rank, world_size) that no manifest holds yet."""
    ds = as_dataset(dataset)
    ctx = registry.Context(cache_dir=ds.cache_dir, device=device,
                           weights_dir=Path(weights_dir) if weights_dir else None, backend_opts=ds.plan.backend_opts)
    ds.manifest_dir.mkdir(exist_ok=True)
    ds.failures_dir.mkdir(exist_ok=True)
    manifest_file, failures_file, lock_file = ds.worker_files(rank, world_size)
    claim = ds.claim(world_size)
    lock = _lock(lock_file)
    res = WorkerResult(rank, world_size)
    try:
        repair_torn_tail(manifest_file)
        repair_torn_tail(failures_file)
        todo = ds.todo(rank, world_size, retry_failed)
        mine = range(rank, ds.plan.total, world_size)
        res.skipped = len(mine) - len(todo)
        todo = todo[:limit] if limit is not None else todo
        for p in ds.tmp_files(rank, world_size):
            p.unlink(missing_ok=True)
        if not todo:
            if show_progress:
                records, failures = ds.finished()
                done, failed = {r.id for r in records}, {f.id for f in failures}
                err.print(f"shard {rank}/{world_size}: nothing to do ({len(mine)} samples: "
                          f"{len([i for i in mine if sample_id(ds.table.hash, i) in done])} done, "
                          f"{len([i for i in mine if sample_id(ds.table.hash, i) in failed])} failed)")
            return res
        with open(manifest_file, "a") as mf, open(failures_file, "a") as ff, \
                sample_progress(len(todo), f"shard {rank}/{world_size}", show_progress) as advance:
            for group in batches([ds.table.spec(i) for i in todo], ctx):
                if len(group) > 1:
                    results = make_batch(ds, group, ctx, rank, world_size, res)
                else:
                    try:
                        results = [make_sample(ds, group[0], ctx, rank, world_size, res)]
                    except Exception as e:  # one bad sample never stops the run: record it and go on
                        results = [e]
                broken = None
                for spec, result in zip(group, results):
                    spec, result = redraw(ds, spec, result, ctx, rank, world_size, res)
                    cause = environment_cause(result) if isinstance(result, BaseException) else None
                    if cause is not None:  # not this sample's fault: record nothing, stop after the group
                        _clean(ds, spec, rank, world_size)
                        broken = broken or (spec, cause)
                    elif isinstance(result, Exception):
                        _fail(ff, ds, spec, result, rank, world_size, res)
                    else:
                        append_line(mf, result)
                        res.done += 1
                    advance()
                if broken:
                    raise EnvironmentBroken(f"shard {rank}/{world_size} stopped at sample {broken[0].index}: "
                                            f"{broken[1]}; nothing recorded as failed: fix it and rerun the "
                                            f"same command to resume")
    finally:
        lock.close()
        claim.close()
    return res


def redraw(ds: Dataset, spec: SampleSpec, result, ctx: registry.Context, rank: int, world: int,
           res: WorkerResult) -> tuple[SampleSpec, Record | Exception]:
    """A sample that failed a quality gate (SampleFailed: its own sources or draw were at fault) is drawn again,
    attempt 1, 2 ... up to plan.redraws, each attempt a pure function of (plan, index, attempt); other errors
    (a backend not ready, a bug) are not the draw's fault and fail at once."""
    while isinstance(result, SampleFailed) and spec.attempt < ds.plan.redraws:
        _clean(ds, spec, rank, world)
        err.print(f"[yellow]redraw[/] sample {spec.index} ({spec.type}), attempt {spec.attempt + 1}: "
                  f"{escape(_one_line(result))}", highlight=False)
        try:
            spec = ds.table.spec(spec.index, spec.attempt + 1)
            result = make_sample(ds, spec, ctx, rank, world, res)
        except Exception as e:  # a redraw the sources cannot supply ends the redraws with its reason
            result = e
    return spec, result


def _clean(ds: Dataset, spec: SampleSpec, rank: int, world: int) -> None:
    for p in ds.tmp_files(rank, world, spec.split, spec.type, spec.id):
        p.unlink(missing_ok=True)


def batches(specs: list[SampleSpec], ctx: registry.Context) -> list[list[SampleSpec]]:
    """The todo list in order, runs of one batching backend grouped up to its batch size, others alone."""
    out: list[list[SampleSpec]] = []
    for spec in specs:
        try:
            backend = registry.get(spec.backend)
            size = batch_size(backend, ctx) if hasattr(backend, "generate_batch") else 1
        except Exception:  # make_sample reports an unusable backend as this sample's failure
            size = 1
        if size > 1 and out and out[-1][0].backend == spec.backend and len(out[-1]) < size:
            out[-1].append(spec)
        else:
            out.append([spec])
    return out


def _log_bug(ds: Dataset, spec: SampleSpec, e: BaseException, rank: int, world: int) -> Path:
    """Append an unexpected exception's traceback to the worker's log in the dataset; returns the log."""
    log = ds.worker_log(rank, world)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:
        fh.write(f"--- {_now()} sample {spec.index} ({spec.id}, {spec.type}/{spec.backend})\n")
        fh.write("".join(traceback.format_exception(type(e), e, e.__traceback__)))
    return log


def _fail(ff, ds: Dataset, spec: SampleSpec, e: BaseException, rank: int, world: int, res: WorkerResult) -> None:
    """Remove the sample's temporary files and append its failure with a one-line reason; an unexpected
    exception (a bug, not a bad sample) also leaves its traceback in the worker's log, which the reason names."""
    _clean(ds, spec, rank, world)
    reason = _one_line(e)
    if not isinstance(e, SynthfakeError):
        reason = f"{reason[:300]} (unexpected: traceback in {_log_bug(ds, spec, e, rank, world)})"
    append_line(ff, Failure(id=spec.id, index=spec.index, type=spec.type, backend=spec.backend, split=spec.split,
                            sources=_refs(spec), reason=reason, attempts=spec.attempt + 1, rank=rank,
                            world_size=world, host=socket.gethostname(), created=_now()))
    res.failed += 1
    res.reasons.append(reason)
    err.print(f"[red]failed[/] sample {spec.index} ({spec.type}): {escape(reason)}", highlight=False)


def die_with_parent(parent: int) -> None:
    """Linux: the kernel sends SIGTERM when the launcher dies (even by SIGKILL), so no orphan holds a lock."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the launcher died before prctl took effect
        sys.exit(EXIT_KILLED)


def worker_process(dataset, rank, world, device, weights_dir, retry_failed, gpus, parent=None):
    """Body of one local worker process: pin its GPU, run its shard; exit 1 when samples failed, 2 with a
    one-line error (bad input), 3 when the environment broke (nothing recorded), 143 on SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the launcher's to handle: it stops us
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_KILLED))  # finally-blocks release the locks
    if parent is not None:
        die_with_parent(parent)
    if device == "cuda" and gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[rank % len(gpus)]
    try:
        res = run_worker(dataset, rank, world, device, weights_dir, retry_failed, show_progress=False)
    except SynthfakeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_BROKEN if isinstance(e, EnvironmentBroken) else EXIT_USAGE)
    sys.exit(EXIT_FAILED if res.failed else 0)
