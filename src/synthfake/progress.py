"""Rich progress bars with samples/s and ETA, shared by workers and the local launcher."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} samples/s" if speed else "- samples/s", style="progress.data.speed")


def make_progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=Console(stderr=True))


@contextmanager
def sample_progress(total: int, description: str, show: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield `advance(k=1)`; draws a bar on stderr when `show`."""
    if not show:
        yield lambda k=1: None
        return
    with make_progress() as prog:
        task = prog.add_task(description, total=total)
        yield lambda k=1: prog.advance(task, k)
