"""Terminal tables: a frame drawn with ``rich``, fitted to the terminal, numbers as people read them.

One rule for every command's ``--format table``:

- text is left-aligned, numbers right-aligned;
- a column of whole numbers prints as integers (``4``, not ``4.0``), other numbers with three
  decimals; missing values are blank;
- in a terminal the table fits its width: headers and text cells fold onto more lines (text
  keeps :data:`TEXT_MIN` characters a line), numbers never fold; written to a file or a pipe
  the table is as wide as its content, each row on one line;
- long columns (a URL, a DOI link, or any text over :data:`LONG_TEXT` characters) are left out
  unless ``--wide`` asks for them, with a note on stderr naming them; ``--format csv`` and
  ``json`` always carry every column.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence

import click
import pandas as pd

LONG_TEXT = 60
"""A text column whose longest value is longer than this is shown only with ``--wide``."""

TEXT_MIN = 10
"""A text column squeezed to fit the terminal keeps at least this many characters."""

COLUMN_GAP = 3
"""Characters between two columns of the table (padding and the invisible rule)."""

PIPE_WIDTH = 10_000
"""Width given to ``rich`` when stdout is not a terminal: rows are never wrapped there."""


def is_long(values: pd.Series) -> bool:
    """Whether a column holds URLs or text too long for a terminal table."""
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return False
    text = values.dropna().astype(str)
    if text.empty:
        return False
    return bool(text.str.contains("://", regex=False).any() or text.str.len().max() > LONG_TEXT)


def _whole(values: pd.Series) -> bool:
    present = values.dropna()
    if present.empty:
        return False
    try:
        numbers = pd.to_numeric(present)
    except (TypeError, ValueError):
        return False
    return bool((numbers == numbers.round()).all())


def cell_texts(values: pd.Series) -> tuple[list[str], bool]:
    """The printed cells of a column and whether it is numeric (right-aligned)."""
    dtype = values.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if numeric and _whole(values):
        cells = ["" if pd.isna(v) else f"{int(v)}" for v in values]
    elif numeric:
        cells = ["" if pd.isna(v) else f"{float(v):.3f}" for v in values]
    else:
        cells = [
            "" if v is None or (not isinstance(v, list) and pd.isna(v)) else str(v) for v in values
        ]
    return cells, numeric


def shown_columns(frame: pd.DataFrame, wide: bool) -> tuple[list[str], list[str]]:
    """``(shown, left_out)``: the columns a table prints, and the long ones it leaves out."""
    if wide:
        return list(frame.columns), []
    left_out = [c for c in frame.columns if is_long(frame[c])]
    return [c for c in frame.columns if c not in left_out], left_out


def column_widths(natural: list[int], least: list[int], room: int) -> list[int]:
    """Widths that fit ``room`` characters of cells, none below its ``least``.

    Every column starts at its least width; the room left is shared in proportion to what each
    column would still need to reach its ``natural`` width. With no room at all, the least
    widths (the table is then wider than ``room``, and nothing is lost).
    """
    widths = list(least)
    spare = room - sum(least)
    wanted = [n - m for n, m in zip(natural, least, strict=True)]
    if spare <= 0 or not any(wanted):
        return widths
    total = sum(wanted)
    for i, want in enumerate(wanted):
        widths[i] += min(want, spare * want // total)
    left = min(spare, total) - (sum(widths) - sum(least))  # what rounding down kept back
    for i in sorted(range(len(widths)), key=lambda i: -wanted[i])[:left]:
        widths[i] += 1
    return widths


def render(frame: pd.DataFrame, wide: bool = False, title: str | None = None) -> str:
    """``frame`` as the text of a terminal table (see the module docstring)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    columns, _ = shown_columns(frame, wide)
    cells, numeric, natural, least = {}, {}, [], []
    for col in columns:
        texts, is_number = cell_texts(frame[col])
        cells[col], numeric[col] = texts, is_number
        longest = max((len(t) for t in texts), default=0)
        natural.append(max(longest, len(str(col))))
        # a number never folds (its header may); text keeps TEXT_MIN characters a line
        least.append(max(longest, 1) if is_number else max(1, min(natural[-1], TEXT_MIN)))
    gaps = COLUMN_GAP * max(0, len(columns) - 1)
    terminal = _isatty(sys.stdout)
    room = shutil.get_terminal_size().columns - gaps if terminal else PIPE_WIDTH
    widths = natural if sum(natural) <= room else column_widths(natural, least, room)
    table = Table(
        box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, show_edge=False
    )
    for col, width in zip(columns, widths, strict=True):
        table.add_column(
            str(col), justify="right" if numeric[col] else "left", overflow="fold", width=width
        )
    for i in range(len(frame)):
        table.add_row(*(cells[c][i] for c in columns))
    # explicit widths: rich never drops a column; the console is as wide as the table
    console = Console(
        width=sum(widths) + gaps + 1,
        force_terminal=False,
        no_color=True,
        highlight=False,
        soft_wrap=False,
    )
    with console.capture() as captured:
        console.print(table)
    lines = [line.rstrip() for line in captured.get().splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def print_table(frame: pd.DataFrame, wide: bool = False, title: str | None = None) -> None:
    """Print ``frame`` as a table on stdout; name on stderr the long columns left out."""
    click.echo(render(frame, wide, title), nl=False)
    _, left_out = shown_columns(frame, wide)
    if left_out:
        click.echo(
            f"(not shown: {', '.join(map(str, left_out))}; --wide or --format csv shows them)",
            err=True,
        )


def print_record(pairs: Sequence[tuple[str, object]], wide: bool = False) -> None:
    """Print ``name: value`` lines (one record), long values cut to the terminal unless wide."""
    width = shutil.get_terminal_size().columns if _isatty(sys.stdout) else PIPE_WIDTH
    label = max((len(name) for name, _ in pairs), default=0) + 2
    room = max(20, width - label)
    for name, value in pairs:
        text = " ".join(str(value).split()) if not wide else str(value)
        if not wide and len(text) > room:
            text = text[: room - 3].rstrip() + "..."
        click.echo(f"{name + ':':<{label}}{text}")


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False
