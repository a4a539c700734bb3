"""Progress with samples/s and ETA, shared by workers, the local launcher, the audit and the sources scan.

On a terminal: rich bars. With stderr not a terminal (Slurm, nohup, a pipe) rich would print nothing until the
end, so a plain line goes out instead at the start, every $SYNTHFAKE_PROGRESS_INTERVAL seconds (default 30)
and at the end: `shard 0/2: 12/50 (24%), 0.41 samples/s, elapsed 0:00:29, ETA 0:01:32`.
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
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text

INTERVAL_ENV = "SYNTHFAKE_PROGRESS_INTERVAL"


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} samples/s" if speed else "- samples/s", style="progress.data.speed")


def _hms(seconds: float) -> str:
    return str(timedelta(seconds=int(seconds)))


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

    def add_task(self, description: str, total: int) -> int:
        now = time.monotonic()
        self.tasks.append({"description": description, "total": total, "done": 0, "t0": now, "last": now})
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
        rate = done / elapsed if elapsed > 0 and done else 0.0
        eta = _hms((total - done) / rate) if rate else "-"
        pct = f" ({100 * done / total:.0f}%)" if total else ""
        print(f"{t['description']}: {done}/{total}{pct}, {rate:.2f} samples/s, elapsed {_hms(elapsed)}, ETA {eta}",
              file=self.stream, flush=True)


def make_progress():
    """Rich bars on a terminal; plain timed lines when stderr is not one."""
    console = Console(stderr=True)
    if not console.is_terminal:
        return PlainProgress()
    return Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                    RateColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console)


@contextmanager
def sample_progress(total: int, description: str, show: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield `advance(k=1)`; draws progress on stderr when `show`."""
    if not show:
        yield lambda k=1: None
        return
    with make_progress() as prog:
        task = prog.add_task(description, total=total)
        yield lambda k=1: prog.advance(task, k)
