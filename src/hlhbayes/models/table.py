"""Units for ``random-effects`` from a user's table or from the evidence base."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

import numpy as np

from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import EvidenceBase
from hlhbayes.evidence.schema import MAX_COUNT
from hlhbayes.inputs import read_text_input
from hlhbayes.models.units import Filters, Units, build_units
from hlhbayes.quoting import cut_line, quoted

STUDY_COLUMNS = ("study", "name", "trial")
EVENT_COLUMNS = ("events", "r", "responders", "x")
TOTAL_COLUMNS = ("total", "n", "trials")
_COUNT = re.compile(r"\s*(\d{1,15})(?:\.0*)?\s*")


def _pick(columns: list[str], wanted: str | None, aliases: tuple[str, ...], what: str, file: str):
    lower = {c.strip().lower(): c for c in columns}
    if wanted is not None:
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise HlhBayesError(
            f"{file}: no column {quoted(wanted)} for {what}; "
            f"columns: {cut_line(', '.join(columns))}"
        )
    for alias in aliases:
        if alias in lower:
            return lower[alias]
    raise HlhBayesError(
        f"{file}: no {what} column (looked for {', '.join(aliases)}); name it with --{what}-col"
    )


def units_from_table(
    path: Path,
    study_col: str | None = None,
    events_col: str | None = None,
    total_col: str | None = None,
) -> Units:
    """Read ``study, events, total`` (or ``r``/``n``, ``responders``/``total``) from a CSV.

    Counts are whole numbers of at most :data:`~hlhbayes.evidence.schema.MAX_COUNT`. Every bad
    cell, short or long row and unreadable byte is an error naming file, row and column.
    """
    file = str(path)
    rows = _read_rows(path, file)
    if not rows:
        raise HlhBayesError(f"{file}: empty: expected a header row and one row per study")
    (_, header), body = rows[0], rows[1:]
    cols = [c.strip() for c in header]
    s_col = _pick(cols, study_col, STUDY_COLUMNS, "study", file)
    e_col = _pick(cols, events_col, EVENT_COLUMNS, "events", file)
    t_col = _pick(cols, total_col, TOTAL_COLUMNS, "total", file)
    at = {c: cols.index(c) for c in (s_col, e_col, t_col)}
    problems, studies, events, totals = [], [], [], []
    for number, cells in body:
        line = f"{file}: row {number}"
        if len(cells) != len(cols):
            problems.append(f"{line}: {_ragged(cells, cols)}")
            continue
        name = cells[at[s_col]].strip()
        e, t = _count(cells[at[e_col]]), _count(cells[at[t_col]])
        if not name:
            problems.append(f"{line}: {s_col}: empty study name")
        if name in studies:
            problems.append(f"{line}: {s_col}: duplicate study {quoted(name)}")
        if t is None or t <= 0:
            problems.append(
                f"{line}: {t_col}: must be a whole number from 1 to {MAX_COUNT}, "
                f"got {quoted(cells[at[t_col]])}"
            )
        if e is None:
            problems.append(
                f"{line}: {e_col}: must be a whole number from 0 to {MAX_COUNT}, "
                f"got {quoted(cells[at[e_col]])}"
            )
        elif t is not None and t > 0 and e > t:
            problems.append(f"{line}: {e_col}: events {e} > total {t}")
        studies.append(name)
        events.append(e)
        totals.append(t)
    if not body:
        problems.append(f"{file}: no rows")
    if problems:
        raise HlhBayesError("\n".join(problems))
    return _study_units(studies, np.array(events), np.array(totals))


def _read_rows(path: Path, file: str) -> list[tuple[int, list[str]]]:
    """Non-blank rows with their physical line number (strict CSV: a stray quote is an error)."""
    reader = csv.reader(io.StringIO(read_text_input(path, file), newline=""), strict=True)
    rows = []
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise HlhBayesError(
            f"{file}: row {reader.line_num}: not valid CSV: {cut_line(exc)}"
        ) from None
    return rows


def _ragged(cells: list[str], columns: list[str]) -> str:
    if len(cells) < len(columns):
        return (
            f"{columns[len(cells)]}: missing: the row has {len(cells)} cells, "
            f"the header {len(columns)}"
        )
    return (
        f"column {len(columns) + 1}: a cell beyond the header: the row has {len(cells)} "
        f"cells, the header {len(columns)}"
    )


def units_by_study(base: EvidenceBase, filters: Filters) -> Units:
    """One count per study from the evidence base: its patients and strata added up."""
    units = build_units(base, filters)
    events = np.zeros(len(units.studies), dtype=np.int64)
    totals = np.zeros(len(units.studies), dtype=np.int64)
    np.add.at(events, units.pat_study, units.pat_y)
    np.add.at(totals, units.pat_study, 1)
    np.add.at(events, units.agg_study, units.agg_events)
    np.add.at(totals, units.agg_study, units.agg_total)
    result = _study_units(list(units.studies), events, totals)
    result.excluded.update(units.excluded)
    return result


def _study_units(studies: list[str], events: np.ndarray, totals: np.ndarray) -> Units:
    n = len(studies)
    return Units(
        studies=tuple(studies),
        pat_ids=(),
        pat_study=np.zeros(0, dtype=np.int64),
        pat_y=np.zeros(0, dtype=np.int64),
        pat_w=np.zeros((0, 5)),
        pat_later=np.zeros(0),
        agg_ids=tuple(studies),
        agg_study=np.arange(n, dtype=np.int64),
        agg_events=events.astype(np.int64),
        agg_total=totals.astype(np.int64),
        agg_w=np.full((n, 5), np.nan),
        agg_v=np.full(n, np.nan),
        agg_derived=np.zeros(n, dtype=bool),
    )


def _count(text: str) -> int | None:
    """A whole number from 0 to MAX_COUNT (``12`` or ``12.0``), else ``None``."""
    match = _COUNT.fullmatch(text)
    if match is None:
        return None
    value = int(match.group(1))
    return value if value <= MAX_COUNT else None


def table_hash(path: Path) -> str:
    """SHA-256 of a user's table file: the data hash of a fit to it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
