"""Crops streamed from decoding processes in small parts, so memory stays flat whatever the frame count.

Each worker process owns one pipe: it receives (seq, path) jobs and sends each file's crops in parts of
at most `chunk` crops as frames are decoded. A reader thread in the scorer's process takes the parts off
the pipes into a queue of `ahead` parts, so the workers keep decoding while the scorer runs the model; a
send blocks once that queue is full, so the scorer never holds a whole video's crops. A worker that dies
(a decoder crash) costs only the file it was reading, which gets a reason; its queued files go to a fresh
worker and the run goes on.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable, Iterable, Iterator

from synthfake.pools import quick_context

from .crops import DIED, CropSettings, FileCrops, crop_chunks, empty, init_worker


def _work(conn, s: CropSettings, chunk: int, fn: Callable) -> None:
    init_worker()
    try:
        while (job := conn.recv()) is not None:
            seq, path = job
            for part in fn(path, s, chunk):
                conn.send((seq, part))
    except (KeyboardInterrupt, BrokenPipeError, EOFError):
        pass  # Ctrl-C reaches the whole process group: the scorer's process reports it, once


@dataclass
class _Slot:
    proc: object
    conn: object
    jobs: deque = field(default_factory=deque)  # (seq, path) sent to this worker and not finished


def _start(s: CropSettings, chunk: int, fn: Callable) -> _Slot:
    ctx = quick_context(crop_chunks.__module__)  # a fork, or a forkserver that imports the crop code
    here, there = ctx.Pipe()
    proc = ctx.Process(target=_work, args=(there, s, chunk, fn), daemon=True)
    proc.start()
    there.close()
    return _Slot(proc, here)


def _feed(slot: _Slot, todo: Iterator, ahead: int = 2) -> None:
    """Keep `ahead` files queued at a worker so it never waits for the scorer to hand it the next one."""
    while len(slot.jobs) < ahead and (job := next(todo, None)) is not None:
        slot.jobs.append(job)
        slot.conn.send(job)


def _drain(slot: _Slot) -> Iterator[tuple[int, FileCrops]]:
    """Parts a dead worker sent before it died."""
    try:
        while slot.conn.poll():
            yield slot.conn.recv()
    except (EOFError, OSError):
        return


def stream_crops(paths: Iterable[str | Path], s: CropSettings, workers: int, chunk: int = 8,
                 fn: Callable = crop_chunks) -> Iterator[tuple[int, FileCrops]]:
    """(seq, part) for every file's crops: seq is the file's position in `paths`; parts of different files
    interleave, parts of one file come in frame order and its last part has `last=True`.

    The workers start, and get their first files, when this is called (not on the first read), so they
    decode while the caller loads its model; close the returned iterator to stop them early.
    """
    todo = ((i, str(p)) for i, p in enumerate(paths))
    if workers <= 0:
        return ((seq, part) for seq, path in todo for part in fn(path, s, chunk))
    served = _serve(todo, s, workers, chunk, fn)
    next(served)  # start the workers now; closing `served` from here on stops them
    return ReadAhead(served, 2 * workers)


_END = object()


class ReadAhead:
    """`items` drawn by a thread up to `ahead` items before the caller asks for them (the generator runs in
    that thread, its `finally` too), so the workers keep sending while the caller computes. `close()` stops
    the thread and closes `items`; an exception raised by `items` is raised to the caller."""

    def __init__(self, items: Iterator, ahead: int):
        self._buf: queue.Queue = queue.Queue(ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, args=(items,), name="read_ahead", daemon=True)
        self._thread.start()

    def _put(self, x) -> bool:
        while not self._stop.is_set():
            try:
                self._buf.put(x, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def _pump(self, items: Iterator) -> None:
        try:
            for x in items:
                if not self._put((x, None)):
                    break
        except BaseException as e:  # noqa: BLE001 - raised again in the caller's thread
            self._put((_END, e))
        finally:
            try:
                if hasattr(items, "close"):  # a generator: run its `finally` (stops the workers) in this thread
                    items.close()
            finally:
                self._put((_END, None))

    def __iter__(self):
        return self

    def __next__(self):
        if self._stop.is_set():
            raise StopIteration
        x, err = self._buf.get()
        if x is _END:
            self.close()
            if err is not None:
                raise err
            raise StopIteration
        return x

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _serve(todo: Iterator, s: CropSettings, workers: int, chunk: int, fn: Callable):
    slots = [_start(s, chunk, fn) for _ in range(workers)]
    try:
        for slot in slots:
            _feed(slot, todo)
        yield None  # primed: the workers are running
        while any(slot.jobs for slot in slots):
            busy = [slot for slot in slots if slot.jobs]
            ready = wait([x for slot in busy for x in (slot.conn, slot.proc.sentinel)])
            for slot in busy:
                if slot.conn in ready and slot.proc.sentinel not in ready:
                    try:
                        seq, part = slot.conn.recv()
                    except (EOFError, OSError):
                        continue  # it died: its sentinel says so on the next wait
                    yield from _hand_on(slot, seq, part)
                    if part.last:
                        _feed(slot, todo)
                elif slot.proc.sentinel in ready:
                    yield from _replace_dead(slots, slot, s, chunk, fn, todo)
    finally:
        for slot in slots:  # idle workers are told to stop; one still sending (the run was cut short) is ended
            try:
                if slot.jobs:
                    slot.proc.terminate()
                else:
                    slot.conn.send(None)
            except OSError:
                pass
        for slot in slots:
            slot.proc.join(timeout=5)
            if slot.proc.is_alive():
                slot.proc.kill()
            slot.conn.close()


def _hand_on(slot: _Slot, seq: int, part: FileCrops) -> Iterator[tuple[int, FileCrops]]:
    """Yield a worker's part; its file's last part takes the job off the slot's queue."""
    yield seq, part
    if part.last:
        slot.jobs.popleft()


def _replace_dead(slots: list[_Slot], slot: _Slot, s: CropSettings, chunk: int, fn: Callable,
                  todo: Iterator) -> Iterator[tuple[int, FileCrops]]:
    for seq, part in _drain(slot):
        yield from _hand_on(slot, seq, part)
    slot.proc.join()
    slot.conn.close()
    fresh = _start(s, chunk, fn)
    slots[slots.index(slot)] = fresh
    if slot.jobs:
        seq, path = slot.jobs.popleft()
        yield seq, empty(path, s.size, DIED)
    for job in slot.jobs:  # queued but never started: the fresh worker reads them
        fresh.jobs.append(job)
        fresh.conn.send(job)
    _feed(fresh, todo)
