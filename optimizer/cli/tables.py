"""Terminal tables that stay readable at 80 columns and in logs.

Rules: a cell never breaks inside a word (names, numbers and statuses do not wrap
at all; free text wraps at spaces only); when the table is wider than the
terminal, headers wrap at their spaces first, then the columns of lowest priority
are left out (the caller's CSV files keep every column) and a line under the table
says which.  In a pipe, the width is ``COLUMNS`` or 80.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.table import Table

__all__ = ["Col", "fit_table"]


@dataclass
class Col:
    name: str
    justify: str = "left"
    priority: int = 5
    """Higher stays longer; columns are left out lowest first (ties: rightmost first)."""
    wrap: bool = False
    """Free text: may wrap at spaces (never inside a word)."""


def _longest_word(s: str) -> int:
    return max((len(w) for w in s.split()), default=0)


def _need(col: Col, cells: Sequence[str]) -> tuple[int, int]:
    """(minimum, natural) width of a column."""
    head_min = _longest_word(col.name)
    if col.wrap:
        lo = max([head_min, *[_longest_word(c) for c in cells]])
        lo = max(lo, min(24, max((len(c) for c in cells), default=0)))  # free text: at least ~24 wide when it can
    else:
        lo = max([head_min, *[len(c) for c in cells]])
    nat = max([len(col.name), *[len(c) for c in cells]])
    return lo, nat


def _wrap_words(text: str, width: int) -> str:
    lines: list[str] = []
    for w in text.split():
        if lines and len(lines[-1]) + 1 + len(w) <= width:
            lines[-1] += " " + w
        else:
            lines.append(w)
    return "\n".join(lines)


def fit_table(title: str | None, cols: Sequence[Col], rows: Sequence[Sequence[str]], width: int) -> tuple[Table, list[str]]:
    """A rich Table of ``rows`` that fits ``width`` characters; returns it and the names of columns left out."""
    rows = [[str(c) for c in r] for r in rows]
    keep = list(range(len(cols)))
    needs = [_need(c, [r[i] for r in rows]) for i, c in enumerate(cols)]

    def total(ix: list[int]) -> int:
        return sum(needs[i][0] for i in ix) + 3 * len(ix) + 1  # padding 1 each side + a separator between columns

    dropped: list[str] = []
    while len(keep) > 1 and total(keep) > width:
        victim = min(keep, key=lambda i: (cols[i].priority, -i))
        keep.remove(victim)
        dropped.append(cols[victim].name)
    # spare width: let headers of fixed-width columns unwrap (left to right)
    slack = width - total(keep)
    widths = {i: needs[i][0] for i in keep}
    for i in keep:
        if not cols[i].wrap and slack > 0:
            grow = min(slack, needs[i][1] - widths[i])
            widths[i] += grow
            slack -= grow
    t = Table(title=title, box=box.SIMPLE_HEAD, show_header=True, title_justify="left", pad_edge=True,
              safe_box=True)
    for i in keep:
        c = cols[i]
        lo = widths[i]
        head = c.name if c.wrap or len(c.name) <= lo else _wrap_words(c.name, lo)
        t.add_column(head, justify=c.justify, no_wrap=not c.wrap, min_width=lo,  # type: ignore[arg-type]
                     max_width=None if c.wrap else lo, overflow="fold" if c.wrap else "ellipsis")
    for r in rows:
        t.add_row(*[r[i] for i in keep])
    return t, dropped
