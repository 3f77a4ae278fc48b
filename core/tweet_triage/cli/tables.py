"""List tables that read in an 80-column terminal; ``--wide`` shows every column as it always was.

By default a list command prints a compact table: short headers, one line per row, the values a reader acts on (ids,
versions, labels, times, numbers) never wrapped nor cut, and free text (tweets, reasons, titles) cut with an ellipsis
to the width the other columns leave. When that would leave free text less than :data:`MIN_TEXT` columns, the
columns marked ``squeeze`` (long names such as an approver's) are cut too, the widest first. With ``--wide`` it
prints every column with its full header and value, in the boxed table rich wraps to the terminal. ``--json`` output
never goes through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table

WideOption = Annotated[
    bool,
    typer.Option(
        "--wide", help="Every column with its full value (the default fits 80 columns: fewer, shorter columns)."
    ),
]

GAP = 2  # columns between two compact columns (collapsed padding plus the separator)
MIN_TEXT = 12  # free text is cut to no fewer columns than this; squeezed columns make room for it
MIN_SQUEEZED = 8  # a squeezed column keeps at least this many


@dataclass(frozen=True)
class Column:
    """One column of a :class:`ListTable`.

    ``wide``: the header under ``--wide`` (None: ``header``). ``text``: free text, cut to fit in the compact table.
    ``squeeze``: a value that may be cut when free text would get less than :data:`MIN_TEXT` columns. ``compact``:
    shown in the compact table (every column is shown with ``--wide``).
    """

    header: str
    wide: str | None = None
    text: bool = False
    squeeze: bool = False
    compact: bool = True
    justify: JustifyMethod = "left"


class ListTable:
    """The rows of a list command, rendered compact (the default) or as the full table (``wide``).

    Every row gives a cell for every column, in order; in the compact table the cells of columns not shown are
    dropped. String cells are rich markup, as in :class:`rich.table.Table` (escape free text).
    """

    def __init__(self, *columns: Column, wide: bool = False) -> None:
        self.columns = columns
        self.wide = wide
        self.rows: list[tuple[RenderableType, ...]] = []

    def add_row(self, *cells: RenderableType) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"a row needs {len(self.columns)} cells, got {len(cells)}")
        self.rows.append(cells)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.full_table() if self.wide else self.compact_table(console, options)

    def full_table(self) -> Table:
        """Every column, full headers, rich's default box: the table the commands printed before ``--wide``."""
        table = Table(*(column.wide or column.header for column in self.columns))
        for row in self.rows:
            table.add_row(*row)
        return table

    def compact_table(self, console: Console, options: ConsoleOptions) -> Table:
        """One line per row within ``options.max_width``: whole values, free text cut to the width that is left."""
        shown = [i for i, column in enumerate(self.columns) if column.compact]
        rows = [[_one_line(row[i]) if self.columns[i].text else row[i] for i in shown] for row in self.rows]
        natural = [
            max([cell_len(self.columns[i].header)] + [Measurement.get(console, options, r[n]).maximum for r in rows])
            for n, i in enumerate(shown)
        ]
        widths = _widths(natural, [self.columns[i] for i in shown], options.max_width - GAP * (len(shown) - 1))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
        for n, i in enumerate(shown):
            column = self.columns[i]
            table.add_column(
                column.header, justify=column.justify, no_wrap=True, overflow="ellipsis", max_width=widths[n]
            )
        for row in rows:
            table.add_row(*row)
        return table


def _one_line(cell: RenderableType) -> RenderableType:
    """Free text on one line: runs of whitespace (newlines in a tweet) become one space."""
    return " ".join(cell.split()) if isinstance(cell, str) else cell


def _widths(natural: Sequence[int], columns: Sequence[Column], budget: int) -> list[int]:
    """The width of each column within ``budget`` (the terminal's less the gaps): whole values at their natural width,
    except that squeezable ones are cut, the widest first, while free text would get less than :data:`MIN_TEXT`;
    free text shares what is left."""
    widths = list(natural)
    texts = [n for n, column in enumerate(columns) if column.text]
    whole = [n for n in range(len(columns)) if n not in texts]
    excess = sum(widths[n] for n in whole) + sum(min(MIN_TEXT, natural[n]) for n in texts) - budget
    while excess > 0:
        squeezable = [n for n in whole if columns[n].squeeze and widths[n] > MIN_SQUEEZED]
        if not squeezable:
            break
        widths[max(squeezable, key=widths.__getitem__)] -= 1
        excess -= 1
    room = budget - sum(widths[n] for n in whole)
    for n, width in zip(texts, _share(room, [natural[n] for n in texts]), strict=True):
        widths[n] = width
    return widths


def _share(room: int, wants: Sequence[int]) -> list[int]:
    """Widths for the free-text columns: what each wants if they all fit in ``room``, else shares in proportion
    (never below :data:`MIN_TEXT`, or what a column wants if that is less)."""
    if sum(wants) <= room:
        return list(wants)
    total = sum(wants)
    return [min(want, max(MIN_TEXT, room * want // total)) for want in wants]


def key_value_table(*, title: str | None = None, grid: bool = False) -> Table:
    """Two columns, no header: keys kept on one line, values wrapped at words to the width the keys leave (so every
    line fits the terminal). ``grid``: no box (for a block inside a panel)."""
    table = Table.grid(padding=(0, 1)) if grid else Table(title=title, show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    return table


def short_time(moment: datetime, now: datetime) -> str:
    """``12-07 20:01`` in ``now``'s year, ``2025-12-07`` before: at most 11 columns."""
    return moment.strftime("%m-%d %H:%M" if moment.year == now.year else "%Y-%m-%d")


def age(moment: datetime, now: datetime) -> str:
    """How long ago, in one unit: ``45s``, ``12m``, ``3h``, ``5d`` (``0s`` for a moment ahead of ``now``)."""
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def short_number(text: str, digits: int = 2) -> str:
    """``0.8123`` as ``0.81``; text that is not a number (or is empty) as it is."""
    try:
        return f"{float(text):.{digits}f}"
    except ValueError:
        return text
