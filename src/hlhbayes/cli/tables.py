"""Terminal tables: a frame drawn with ``rich``, fitted to the terminal, numbers as people read them.

One rule for every command's ``--format table`` (:func:`print_table`):

- a header, a rule under each column, one row per record; columns two characters apart;
- text is left-aligned, numbers right-aligned;
- numbers follow the rounding rule of :mod:`hlhbayes.rounding`: by default three significant
  digits without trailing zeros (:func:`hlhbayes.rounding.compact`), so that counts print as
  integers (``4``, not ``4.0``); a command names a column's own format where it has one
  (rates and probabilities to three decimals); missing values are blank (or the table's
  ``missing`` text);
- in a terminal the table fits its width where its columns allow: text cells fold onto more
  lines between words (inside a word only beyond :data:`TEXT_MIN` characters), headers between
  words (inside one only where nothing else makes the table fit), numbers never fold, and no
  column is dropped; written to a file or a pipe the table is as wide as its content, each row
  on one line, and never carries colour or other escape codes;
- in a command that has ``--wide``, long columns (a URL, a DOI link, or any text over
  :data:`LONG_TEXT` characters) are left out unless it asks for them, with a note on stderr
  naming them; in a command without ``--wide`` (``wide=None``) long text folds like any other;
  ``--format csv`` and ``json`` always carry every column.
"""

from __future__ import annotations

import numbers
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click
import pandas as pd

from hlhbayes.rounding import compact, rate

Format = Callable[[Any], str]
"""A column's own format: one present value (never a missing one) to its printed text."""

LONG_TEXT = 60
"""A text column whose longest value is longer than this is shown only with ``--wide``."""

TEXT_MIN = 10
"""A text column squeezed to fit the terminal folds between words, and inside a word only
where the word is longer than this."""

COLUMN_GAP = 2
"""Characters between two columns of the table."""

PIPE_WIDTH = 10_000
"""Width given to ``rich`` when stdout is not a terminal: rows are never wrapped there."""

_HEADER_BREAKS = re.compile(r"[^ _]+_?")
"""The pieces a header may fold into: words, each with the underscore that ends it."""


def is_long(values: pd.Series) -> bool:
    """Whether a column holds URLs or text too long for a terminal table."""
    if is_numeric(values):
        return False
    text = values.dropna().astype(str)
    if text.empty:
        return False
    return bool(text.str.contains("://", regex=False).any() or text.str.len().max() > LONG_TEXT)


def is_missing(value: Any) -> bool:
    """``None``, NaN or ``pd.NA`` (a list or other container is a value)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list, an array: not one missing value
        return False


def is_numeric(values: pd.Series) -> bool:
    """Whether a column holds numbers (booleans are not): it is right-aligned."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    if pd.api.types.is_numeric_dtype(dtype):
        return True
    present = [v for v in values if not is_missing(v)]
    return bool(present) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in present
    )


def cell_texts(
    values: pd.Series, fmt: Format | None = None, missing: str = ""
) -> tuple[list[str], bool]:
    """The printed cells of a column and whether it is numeric (right-aligned).

    ``fmt`` formats each present value (default: :func:`hlhbayes.rounding.compact` for
    numbers, ``str`` for the rest); a missing value prints as ``missing``.
    """
    numeric = is_numeric(values)
    if fmt is None:
        fmt = compact if numeric else str
    return [missing if is_missing(v) else fmt(v) for v in values], numeric


def shown_columns(frame: pd.DataFrame, wide: bool | None) -> tuple[list[str], list[str]]:
    """``(shown, left_out)``: the columns a table prints, and the long ones it leaves out.

    Only ``wide=False`` (a command with ``--wide``, not given) leaves long columns out.
    """
    if wide is None or wide:
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


def _rule_box() -> Any:
    """``rich``'s simple head box with a gap in the rule between columns (no edges)."""
    from rich.box import Box

    # eight lines of four characters: top, head, head rule, mid, row, foot rule, foot, bottom;
    # the head rule is (edge, line, crossing, edge): a blank crossing parts the columns' rules
    return Box("    \n    \n ─  \n    \n    \n    \n    \n    \n")


def render(
    frame: pd.DataFrame,
    wide: bool | None = None,
    title: str | None = None,
    *,
    formats: Mapping[str, Format] | None = None,
    missing: str = "",
) -> str:
    """``frame`` as the text of a terminal table (see the module docstring).

    ``wide``: the command's ``--wide`` (``None`` for a command without it). ``title``: a line
    above the table. ``formats``: column name -> its :data:`Format`. ``missing``: the text of a
    missing value.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    formats = formats or {}
    columns, _ = shown_columns(frame, wide)
    cells, numeric, natural, least, least_words = {}, {}, [], [], []
    for col in columns:
        texts, is_number = cell_texts(frame[col], formats.get(col), missing)
        cells[col], numeric[col] = texts, is_number
        longest = max((len(t) for t in texts), default=0)
        natural.append(max(longest, len(str(col))))
        # a number never folds; text folds between words, and inside a word longer than
        # TEXT_MIN characters
        word = max((len(w) for t in texts for w in t.split()), default=0)
        least.append(max(longest, 1) if is_number else max(1, min(word, TEXT_MIN)))
        pieces = _HEADER_BREAKS.findall(str(col))
        least_words.append(max(least[-1], *(len(p) for p in pieces)) if pieces else least[-1])
    gaps = COLUMN_GAP * max(0, len(columns) - 1)
    terminal = _isatty(sys.stdout)
    room = shutil.get_terminal_size().columns - gaps if terminal else PIPE_WIDTH
    if sum(natural) <= room:
        widths = natural
    elif sum(least_words) <= room or sum(least) > room:  # headers fold between words ...
        widths = column_widths(natural, least_words, room)
    else:  # ... or, where that is what makes the table fit, inside as few words as it takes
        widths = column_widths(least_words, least, room)
    table = Table(
        box=_rule_box(),
        padding=(0, COLUMN_GAP - 1, 0, 0),  # with the column divider: COLUMN_GAP apart
        pad_edge=False,
        show_edge=False,
        header_style=None,
    )
    for col, width in zip(columns, widths, strict=True):
        table.add_column(
            Text(_header(str(col), width)),
            justify="right" if numeric[col] else "left",
            overflow="fold",
            width=width,
        )
    for i in range(len(frame)):
        table.add_row(*(Text(cells[c][i]) for c in columns))  # as written: no markup
    # explicit widths: rich never drops a column; the console is as wide as the table, and
    # never a terminal: no colour or other escape codes, whatever the environment says
    console = Console(
        width=sum(widths) + gaps + 1,
        force_terminal=False,
        no_color=True,
        markup=False,
        emoji=False,
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
    if title:
        lines.insert(0, title)
    return "\n".join(lines) + "\n"


def _header(name: str, width: int) -> str:
    """``name`` on lines of at most ``width`` characters, broken between its pieces."""
    lines: list[str] = []
    for piece in _HEADER_BREAKS.findall(name):
        if lines and len(lines[-1]) + len(piece) + (not lines[-1].endswith("_")) <= width:
            lines[-1] += piece if lines[-1].endswith("_") else f" {piece}"
        else:
            lines.append(piece)
    return "\n".join(lines) or name


def print_table(
    frame: pd.DataFrame,
    wide: bool | None = None,
    title: str | None = None,
    *,
    formats: Mapping[str, Format] | None = None,
    missing: str = "",
) -> None:
    """Print ``frame`` as a table on stdout (:func:`render`); name on stderr the columns left out.

    The one way a command prints a terminal table: build a frame (its column names are the
    headers), give the columns that have their own format (``formats``), print.
    """
    click.echo(render(frame, wide, title, formats=formats, missing=missing), nl=False)
    _, left_out = shown_columns(frame, wide)
    if left_out:
        click.echo(
            f"(not shown: {', '.join(map(str, left_out))}; --wide or --format csv shows them)",
            err=True,
        )


def interval(low: float | None, high: float | None) -> str:
    """A 95% interval of rates as one cell: ``[0.736, 0.992]`` (the rounding rule's rates)."""
    return f"[{rate(low)}, {rate(high)}]"


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
