"""The CLI's tables: borderless, and fitted to the terminal by dropping columns, never by cutting
an id. A key column (an id, a name the next command takes) never wraps or shortens; when the
table is wider than the terminal (80 columns in a pipe), the columns with the lowest ``keep`` go
first, and a note on stderr says which (``--json`` always has every column). What is left still
too wide folds its other cells onto more lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console

GAP = 1
"""Cells of padding rich puts on each side of a column (``pad_edge=False``: not at the edges)."""


@dataclass(frozen=True)
class Col:
    """One column: its header, how long it stays when space runs out (higher stays longer),
    whether it is a key column (never dropped, wrapped or cut) and whether its cells are prose
    that reads well wrapped (it then asks for at most :data:`PROSE_WIDTH` cells)."""

    header: str
    keep: int = 0
    key: bool = False
    justify: Literal["left", "right"] = "left"
    prose: bool = False


PROSE_WIDTH = 24
"""The width a prose column needs at least before it is dropped (it wraps below its natural width)."""


def _width(cell: str) -> int:
    from rich.text import Text  # deferred: rich renderables, only when a table is printed

    return max((Text.from_markup(line).cell_len for line in cell.splitlines()), default=0)


def fit(columns: Sequence[Col], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """The indexes of the columns that fit ``width`` cells, in order; key columns always."""
    natural = [max([_width(c.header), *(_width(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    natural = [min(n, PROSE_WIDTH) if c.prose else n for n, c in zip(natural, columns, strict=True)]
    kept = list(range(len(columns)))

    def total() -> int:
        return sum(natural[i] for i in kept) + 2 * GAP * (len(kept) - 1)

    for i in sorted((i for i, c in enumerate(columns) if not c.key), key=lambda i: (columns[i].keep, -i)):
        if total() <= width:
            break
        kept.remove(i)
    return kept


def print_table(
    console: Console, columns: Sequence[Col], rows: Sequence[Sequence[str]], note: Console
) -> None:
    """Print ``rows`` (cells as markup) under ``columns`` fitted to ``console``'s width; which
    columns were left out goes to ``note`` (stderr)."""
    from rich.table import Table  # deferred: rich renderables, only when a table is printed

    kept = fit(columns, rows, console.width)
    table = Table(box=None, pad_edge=False)
    for i in kept:
        c = columns[i]
        if c.key:
            longest = max([_width(c.header), *(_width(r[i]) for r in rows)])
            table.add_column(c.header, justify=c.justify, no_wrap=True, min_width=longest)
        else:
            table.add_column(c.header, justify=c.justify, overflow="fold")
    for r in rows:
        table.add_row(*(r[i] for i in kept))
    console.print(table)
    dropped = [columns[i].header for i in range(len(columns)) if i not in kept]
    if dropped:
        note.print(f"[dim]({', '.join(dropped)} left out at {console.width} columns; --json has them)[/dim]")
