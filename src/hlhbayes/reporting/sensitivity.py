"""How sensitive is this answer: the fit's sensitivity table as one report block.

The table is the run's (``sensitivity.json``: made by ``fit``, or added by ``report
--sensitivity`` through :func:`ensure_sensitivity`); a run without one gets a sentence saying so
and how to make it. For a clinician: one row per reported cell and scenario, each rate as
patients of 100 with its 95% interval, how far the lower end of the range expected in a new
centre moves from this analysis's, and the scenario's status (a scenario that failed its
convergence gate is shown, flagged, never left out); above it one sentence in plain words: the
scenario that moves that lower end most, and by how much.

Numbers are whole patients of 100: the scenario fits keep no draws, so the Monte Carlo error of
their interval ends is judged by the fit's own (same sampler settings), which the note states.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from hlhbayes.living.reviewer import BASELINE, add_to_run, largest_shift
from hlhbayes.reporting import plain, precision
from hlhbayes.reporting.loading import CheckedRun
from hlhbayes.reporting.tables import cell_draws, make_table, row
from hlhbayes.reporting.text import shown_path

Cell = tuple[str | None, str | None]
Log = Callable[[str], None]

STATUS_WORDS = {
    "ok": "ok",
    "not converged": "NOT CONVERGED: do not use",
    "not estimable": "not estimable",
    "not run": "not run",
}
"""How each status of the table reads in the report."""


def _silent(_message: str) -> None:
    return None


def ensure_sensitivity(
    run: CheckedRun, cells: list[Cell], log: Log = _silent, command: list[str] | None = None
) -> None:
    """Make the run's sensitivity table when it lacks one of ``cells`` and store it in the run.

    The table is fitted as ``fit`` would have fitted it (the run's data, sampler settings and
    seed), for the cells it already had and ``cells``, and kept in the run folder
    (:func:`hlhbayes.living.reviewer.add_to_run`), so the next report reads it.
    """
    record = run.run.sensitivity
    have = [tuple(c) for c in record["cells"]] if record is not None else []
    wanted = [c for c in cells if c not in have]
    if not wanted:
        return
    run.run.sensitivity = add_to_run(run.path, [*have, *wanted], log, command, run.base)


def sensitivity_context(run: CheckedRun, cells: list[Cell]) -> dict[str, Any]:
    """The block for the templates.

    ``shown``: whether the run has a table; then ``table`` (the report table), ``sentence``
    (the plain-words summary) and ``missing`` (a sentence when some reported cells are not in
    the table, else empty); without a table, ``text`` says so. ``command`` is the command that
    makes (or completes) the table.
    """
    record = run.run.sensitivity
    again = f"hlhbayes report {shlex.quote(shown_path(str(run.path)))} --sensitivity"
    if record is None:
        return {
            "shown": False,
            "text": (
                "The sensitivity analyses were not run for this fit (it was fitted with "
                "--no-sensitivity, or before they existed): the priors on how much the studies "
                "and the triggers differ at half and double their width and heavy-tailed, and "
                "the small series left out or counted at half weight. To add them (fitted "
                "once, then kept in the run folder):"
            ),
            "command": again,
        }
    have = {tuple(c) for c in record["cells"]}
    shown = [c for c in cells if c in have]
    missing = [c for c in cells if c not in have]
    rows = [r for r in record["rows"] if (r["etiology"], r["line"]) in shown]
    noise = _noise(run, shown)
    return {
        "shown": True,
        "table": _table(rows, len(shown) > 1, noise),
        "sentence": sentence(rows, noise, run.outcome),
        "missing": (
            "Not in the sensitivity table (the fit was asked for other cells): "
            + "; ".join(plain.cell_label(*c) for c in missing)
            + ". To add them:"
            if missing
            else ""
        ),
        "command": again,
    }


def _noise(run: CheckedRun, cells: list[Cell]) -> float:
    """The largest Monte Carlo error (patients of 100) of the fit's new-centre lower ends."""
    posterior = run.idata["posterior"].to_dataset()
    errors = [
        precision.quantile_error(cell_draws(posterior, "rate_new", e, ln), precision.TAILS[0])
        for e, ln in cells
    ]
    return precision.up_to_one_digit(100 * max(errors, default=0.0))


def of_100(rate: float | None) -> str:
    """A rate as whole patients of 100 (empty when missing)."""
    return "" if rate is None else precision.rounded(100 * rate, 0)


def shift_of_100(shift: float | None) -> str:
    """A move in patients of 100 with its sign (``+5``, ``-14``, ``0``)."""
    if shift is None:
        return ""
    text = precision.rounded(100 * shift, 0)
    return text if text.startswith("-") or text == "0" else f"+{text}"


def _range(r: dict[str, Any] | None) -> str:
    if r is None or r["mean"] is None:
        return ""
    return f"{of_100(r['mean'])} ({of_100(r['lower'])} to {of_100(r['upper'])})"


def _status(r: dict[str, Any]) -> str:
    words = STATUS_WORDS.get(r["status"], r["status"])
    if r["status"] in ("not run", "not estimable") and r["reason"]:
        return f"{words}: {r['reason']}"
    return words


def _row(pair: dict[str, dict[str, Any]], label: str, several_cells: bool) -> dict[str, Any]:
    """One scenario of one cell: both rates, the move of the new-centre lower end, the status."""
    typical, new = pair.get("rate_typical"), pair.get("rate_new")
    first = typical or new
    assert first is not None
    cells = [
        first["in_words"],
        _range(typical),
        _range(new),
        shift_of_100(new["lower_vs_baseline"] if new else None),
        _status(first),
    ]
    if several_cells:
        cells.insert(0, label)
    return row(cells, "flag" if first["status"] == "not converged" else None)


def _table(rows: list[dict[str, Any]], several_cells: bool, noise: float) -> dict[str, Any]:
    by_cell: dict[Cell, dict[str, dict[str, dict[str, Any]]]] = {}
    for r in rows:  # grouped by cell: each cell's scenarios together, the fit itself first
        scenarios = by_cell.setdefault((r["etiology"], r["line"]), {})
        scenarios.setdefault(r["scenario"], {})[r["quantity"]] = r
    out = []
    for (e, ln), scenarios in by_cell.items():
        for k, pair in enumerate(scenarios.values()):
            out.append(_row(pair, plain.cell_label(e, ln) if k == 0 else "", several_cells))
    columns = [
        "What changes",
        "Average across studies, of 100 (95% interval)",
        "Expected in a new centre, of 100 (95% interval)",
        "Lower end in a new centre, vs this analysis",
        "Status",
    ]
    if several_cells:
        columns.insert(0, "Patients")
    first_number = 2 if several_cells else 1
    return make_table(
        "sensitivity",
        "The rates under each scenario",
        columns,
        out,
        note=(
            "Each row is this analysis with one change, fitted with the same data, sampler "
            "settings and seed. Whole patients of 100: the Monte Carlo error of the lower end "
            f"of the fit's own range expected in a new centre is about {noise:g} of 100, so a "
            "move that small is noise. A scenario that did not converge is shown and flagged; "
            "its numbers are not to be used."
        ),
        numeric=tuple(range(first_number, first_number + 3)),
    )


def sentence(rows: list[dict[str, Any]], noise: float, outcome: str) -> str:
    """The plain-words summary: which scenario moves the new-centre lower end most, how far."""
    top = largest_shift(rows)
    scenarios = {r["scenario"] for r in rows if r["scenario"] != BASELINE}
    failed = {r["scenario"] for r in rows if r["status"] == "not converged"} & scenarios
    warning = (
        f" {len(failed)} of the {len(scenarios)} scenarios did not converge: their rows are "
        "flagged and their numbers are not to be used."
        if failed
        else ""
    )
    if top is None:
        return "No scenario gave usable numbers (see the status column)." + warning
    moved = abs(round(100 * top["lower_vs_baseline"]))
    what = "responders" if outcome == "response" else "deaths"
    if moved <= noise:
        return (
            "No scenario moves the lower end of the range expected in a new centre by more than "
            f"its Monte Carlo error (about {noise:g} of 100)." + warning
        )
    base = top["lower"] - top["lower_vs_baseline"]
    return (
        f"The scenario that moves the answer most is “{_lower_first(top['in_words'])}”: for "
        f"{_lower_first(plain.cell_label(top['etiology'], top['line']))}, the lower end of the "
        f"range expected in a new centre goes from {of_100(base)} to {of_100(top['lower'])} "
        f"{what} of 100 ({moved} {'fewer' if top['lower_vs_baseline'] < 0 else 'more'})." + warning
    )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
