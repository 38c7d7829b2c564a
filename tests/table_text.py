"""Reading a terminal table back (``hlhbayes.cli.tables``): cells by the rule under each column.

A table printed to a pipe has one header line, a rule of ``─`` under each column (the columns'
rules parted by a blank), then one line per row. The rule says where each column is, so a cell
is the text under its column's rule, whatever it holds (spaces, brackets, nothing).
"""

from __future__ import annotations

import re

RULE = "─"


def is_rule(line: str) -> bool:
    """A table's rule line: ``─`` under every column, blanks between."""
    return RULE in line and set(line) <= {RULE, " "}


def spans(rule: str) -> list[tuple[int, int]]:
    """Where each column is: ``(start, end)`` of its rule."""
    return [(m.start(), m.end()) for m in re.finditer(f"{RULE}+", rule)]


def _cell(line: str, span: tuple[int, int]) -> str:
    return line[span[0] : span[1]].strip()


def _is_row(line: str, columns: list[tuple[int, int]]) -> bool:
    """A line of the table: blank where the columns are parted, no wider than the table."""
    if not line.strip() or len(line) > columns[-1][1]:
        return False
    parted = [i for _, end in columns[:-1] for i in (end - 1, end)]  # padding, then the divider
    return all(i >= len(line) or line[i] == " " for i in parted)


def read_table(text: str, after: str | None = None) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` of the first table in ``text`` (after the line ``after``, if given).

    Rows run from the rule to the first line that is blank or not laid out as the table.
    """
    lines = text.splitlines()
    start = lines.index(after) + 1 if after is not None else 0
    at = next(i for i in range(start, len(lines)) if is_rule(lines[i]))
    columns = spans(lines[at])
    header = [_cell(lines[at - 1], s) for s in columns]
    rows = []
    for line in lines[at + 1 :]:
        if not _is_row(line, columns):
            break
        rows.append([_cell(line, s) for s in columns])
    return header, rows


def records(text: str, after: str | None = None) -> list[dict[str, str]]:
    """The rows of :func:`read_table` as ``{header: cell}``."""
    header, rows = read_table(text, after)
    return [dict(zip(header, row, strict=True)) for row in rows]
