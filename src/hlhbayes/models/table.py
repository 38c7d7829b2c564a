"""Units for ``random-effects`` from a user's table or from the evidence base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hlhbayes.evidence import EvidenceBase
from hlhbayes.models.units import Filters, Units, build_units
from hlhbayes.quoting import quoted

STUDY_COLUMNS = ("study", "name", "trial")
EVENT_COLUMNS = ("events", "r", "responders", "x")
TOTAL_COLUMNS = ("total", "n", "trials")


def _pick(columns: list[str], wanted: str | None, aliases: tuple[str, ...], what: str, file: str):
    lower = {c.strip().lower(): c for c in columns}
    if wanted is not None:
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise ValueError(
            f"{file}: no column {quoted(wanted)} for {what}; columns: {', '.join(columns)}"
        )
    for alias in aliases:
        if alias in lower:
            return lower[alias]
    raise ValueError(
        f"{file}: no {what} column (looked for {', '.join(aliases)}); name it with --{what}-col"
    )


def units_from_table(
    path: Path,
    study_col: str | None = None,
    events_col: str | None = None,
    total_col: str | None = None,
) -> Units:
    """Read ``study, events, total`` (or ``r``/``n``, ``responders``/``total``) from a CSV.

    Every bad cell is an error naming file, row and column.
    """
    file = str(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{file}: cannot read as CSV: {exc}") from None
    cols = list(frame.columns)
    s_col = _pick(cols, study_col, STUDY_COLUMNS, "study", file)
    e_col = _pick(cols, events_col, EVENT_COLUMNS, "events", file)
    t_col = _pick(cols, total_col, TOTAL_COLUMNS, "total", file)
    problems, studies, events, totals = [], [], [], []
    for i, row in frame.iterrows():
        line = f"{file}: row {int(i) + 2}"
        name = row[s_col].strip()
        e, t = _int(row[e_col]), _int(row[t_col])
        if not name:
            problems.append(f"{line}: {s_col}: empty study name")
        if name in studies:
            problems.append(f"{line}: {s_col}: duplicate study {quoted(name)}")
        if t is None or t <= 0:
            problems.append(
                f"{line}: {t_col}: must be a whole number > 0, got {quoted(row[t_col])}"
            )
        if e is None or e < 0:
            problems.append(
                f"{line}: {e_col}: must be a whole number >= 0, got {quoted(row[e_col])}"
            )
        elif t is not None and e > t:
            problems.append(f"{line}: {e_col}: events {e} > total {t}")
        studies.append(name)
        events.append(e)
        totals.append(t)
    if not len(frame):
        problems.append(f"{file}: no rows")
    if problems:
        raise ValueError("\n".join(problems))
    return _study_units(studies, np.array(events), np.array(totals))


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


def _int(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None
