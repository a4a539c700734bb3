"""Progress with a rate and ETA, shared by workers, the local launcher, the audit, the sources scan and downloads.

On a terminal: rich bars. With stderr not a terminal (Slurm, nohup, a pipe) rich would print nothing until the
end, so a plain line goes out instead at the start, every $SYNTHFAKE_PROGRESS_INTERVAL seconds (default 30)
and at the end: `shard 0/2: 12/50 (24%), 0.41 samples/s, elapsed 0:00:29, ETA 0:01:32`. The unit says what is
counted (samples, files, records; bytes for downloads, shown in MB).

The rate is the mean since the bar started, not rich's 30-second window: samples take seconds
each and the last ones finish on fewer workers, so a window swung from 2.49 to 0.09 samples/s (and the ETA
from 0:00:11 to 0:03:15) in the last seconds of a run; the mean moves by one sample's worth at a time.
"""

from __future__ import annotations

import math
import os
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn,
                           TextColumn, TimeElapsedColumn)
from rich.text import Text

INTERVAL_ENV = "SYNTHFAKE_PROGRESS_INTERVAL"
BYTES = "bytes"  # the unit of downloads: shown as MB and MB/s


def mean_rate(done: float, started: float | None, now: float) -> float | None:
    """Items per second since `started` (the clock when the task began)."""
    if started is None or not done or now <= started:
        return None
    return done / (now - started)


def _hms(seconds: float) -> str:
    return str(timedelta(seconds=int(seconds)))


def _rate_text(rate: float | None, unit: str, plain: bool = False) -> str:
    if rate is None or (not rate and not plain):
        return f"- {'MB' if unit == BYTES else unit}/s"
    return f"{rate / 1e6:.1f} MB/s" if unit == BYTES else f"{rate:.2f} {unit}/s"


class RateColumn(ProgressColumn):
    """The task's mean rate since it started, in its unit (the `unit` field)."""

    def render(self, task) -> Text:
        now = task.finished_time + task.start_time if task.finished else task.get_time()
        rate = mean_rate(task.completed, task.start_time, now)
        return Text(_rate_text(rate, task.fields.get("unit", "samples")), style="progress.data.speed")


class EtaColumn(ProgressColumn):
    """Time left at the mean rate (rich's own column divides by its 30-second window speed)."""

    def render(self, task) -> Text:
        if task.finished:
            return Text("ETA 0:00:00", style="progress.remaining")
        rate = mean_rate(task.completed, task.start_time, task.get_time())
        left = None if not rate or task.total is None else (task.total - task.completed) / rate
        return Text(f"ETA {_hms(left)}" if left is not None else "ETA -:--:--", style="progress.remaining")


class PlainProgress:
    """The subset of rich's Progress the callers use (add_task, update, advance), as plain timed lines."""

    def __init__(self, stream=None, interval: float | None = None):
        self.stream = stream or sys.stderr
        raw = os.environ.get(INTERVAL_ENV, "")
        try:
            self.interval = float(raw) if interval is None and raw else (30.0 if interval is None else interval)
        except ValueError:
            self.interval = 30.0
        if not math.isfinite(self.interval) or self.interval < 0:  # nan would never print, inf only at the ends
            self.interval = 30.0
        self.tasks: list[dict] = []

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc) -> None:
        for i in range(len(self.tasks)):
            self._line(i)

    def add_task(self, description: str, total: int, unit: str = "samples") -> int:
        now = time.monotonic()
        self.tasks.append({"description": description, "total": total, "done": 0, "t0": now, "last": now,
                           "unit": unit})
        self._line(len(self.tasks) - 1)
        return len(self.tasks) - 1

    def update(self, task: int, completed: int) -> None:
        """Record `completed`; print a line when the last one is `interval` seconds old."""
        t = self.tasks[task]
        t["done"] = completed
        if time.monotonic() - t["last"] >= self.interval:
            self._line(task)

    def advance(self, task: int, k: int = 1) -> None:
        self.update(task, self.tasks[task]["done"] + k)

    def _line(self, task: int) -> None:
        t = self.tasks[task]
        now = time.monotonic()
        t["last"] = now
        done, total, elapsed = t["done"], t["total"], now - t["t0"]
        rate = mean_rate(done, t["t0"], now)
        eta = _hms((total - done) / rate) if rate and total else "-"
        pct = f" ({100 * done / total:.0f}%)" if total else ""
        count = (f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if t["unit"] == BYTES and total
                 else f"{done / 1e6:.1f} MB" if t["unit"] == BYTES else f"{done}/{total}")
        speed = _rate_text(rate or 0.0, t["unit"], plain=True)  # a log line always carries a number
        print(f"{t['description']}: {count}{pct}, {speed}, elapsed {_hms(elapsed)}, ETA {eta}",
              file=self.stream, flush=True)


def make_progress(unit: str = "samples"):
    """Rich bars on a terminal; plain timed lines when stderr is not one. Add tasks with `unit=` to match."""
    console = Console(stderr=True)
    if not console.is_terminal:
        return PlainProgress()
    count = DownloadColumn() if unit == BYTES else MofNCompleteColumn()
    return Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), count, RateColumn(),
                    TimeElapsedColumn(), EtaColumn(), console=console)


@contextmanager
def sample_progress(total: int, description: str, show: bool = True,
                    unit: str = "samples") -> Iterator[Callable[[int], None]]:
    """Yield `advance(k=1)`; draws progress on stderr when `show`. `unit` names what is counted."""
    if not show:
        yield lambda k=1: None
        return
    with make_progress(unit) as prog:
        task = prog.add_task(description, total=total, unit=unit)
        yield lambda k=1: prog.advance(task, k)
