"""Rich tables built one way: a title, named columns (text left, numbers right) and rows of text."""

from __future__ import annotations

from typing import Collection, Iterable, Sequence

from rich.table import Table


def table(title, columns: Sequence[str], rows: Iterable[Sequence] = (), left: Collection[str] | None = None,
          **kw) -> Table:
    """A Table with these columns, those in `left` (default: the first) left-aligned and the rest right-aligned,
    and these rows; `kw` goes to Table (caption, show_lines)."""
    t = Table(title=title, **kw)
    left = columns[:1] if left is None else left
    for c in columns:
        t.add_column(c, justify="left" if c in left else "right")
    for r in rows:
        t.add_row(*r)
    return t
