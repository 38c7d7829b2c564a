"""The sensitivity a guideline reviewer asks of a fit, in one compact table.

For the cells of a fit, how its headline numbers move when

* the heterogeneity prior (``tau``) and, where the model has one, the etiology-spread prior
  (``sigma_eta``) are set to half and double the fit's scale, and to half-Cauchy at its scale;
* the series of fewer than 5 patients are left out (``no-small-series``);
* the series of fewer than 10 patients in which every outcome was favourable (all responded;
  for death: none died), the ones most likely to have been published for their result, count
  with likelihood weight 0.5 (``downweight-small-extreme``).

These are the ``sensitivity`` command's scenarios of those groups
(:mod:`hlhbayes.living.sensitivity`), fitted in one batch (one compiled program per model
structure; the half-Cauchy priors are two more structures). :func:`reviewer_table` is a library
function: given the fit's own summary records it does not fit the baseline again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hlhbayes import pipeline
from hlhbayes.living.sensitivity import Scenario, build_scenarios, run_sensitivity

GROUPS = ("heterogeneity prior", "etiology-spread prior", "small studies")
"""The sensitivity scenario groups of the table (besides the baseline)."""
COLUMNS = (
    "scenario",
    "change",
    "etiology",
    "line",
    "quantity",
    "mean",
    "lower",
    "upper",
    "lower_vs_baseline",
    "status",
)
"""The table's columns: ``change`` says what the scenario changes; ``lower`` and ``upper`` bound
the 95 % equal-tailed interval; ``lower_vs_baseline`` is ``lower`` minus the baseline's (how far
the lower bound, which trial designs lean on, moves); ``status`` is ``ok``, ``not converged``
(numbers shown, not to be used), ``not estimable`` (no direct data on the cell) or ``not run``
(with the reason)."""

Log = Callable[[str], None]


def _silent(_message: str) -> None:
    return None


def reviewer_scenarios(prepared: pipeline.Prepared) -> list[Scenario]:
    """The scenarios of the table for a prepared fit (baseline first)."""
    spec = prepared.request.spec
    every = build_scenarios(spec, prepared.request.data, prepared.units, prepared.base)
    return [s for s in every if s.group == "baseline" or s.group in GROUPS]


def reviewer_table(
    prepared: pipeline.Prepared,
    cells: list[tuple[str | None, str | None]],
    baseline_records: list[dict[str, Any]] | None = None,
    log: Log = _silent,
) -> list[dict[str, Any]]:
    """The table (rows with :data:`COLUMNS`) for the fit ``prepared`` and its ``cells``.

    ``baseline_records``: the fit's own summary records, used as the baseline row (the baseline
    is then not fitted again); without them the baseline is fitted with the others.
    """
    scenarios = reviewer_scenarios(prepared)
    if baseline_records is not None:
        scenarios = [s for s in scenarios if s.group != "baseline"]
    result = run_sensitivity(prepared, scenarios, cells, log=log)
    rows = result.rows
    if baseline_records is not None:
        rows = _baseline_rows(baseline_records, cells) + rows
    reference = {
        (r["etiology"], r["line"], r["quantity"]): r["q2.5"]
        for r in rows
        if r["scenario"] == "baseline"
    }
    out = []
    for r in rows:
        lower = r["q2.5"]
        base = reference.get((r["etiology"], r["line"], r["quantity"]))
        shown = r["status"] in ("ok", "not converged")
        out.append(
            {
                "scenario": r["scenario"],
                "change": r["description"],
                "etiology": r["etiology"],
                "line": r["line"],
                "quantity": r["quantity"],
                "mean": r["mean"] if shown else None,
                "lower": lower if shown else None,
                "upper": r["q97.5"] if shown else None,
                "lower_vs_baseline": (
                    lower - base if shown and base is not None and lower is not None else None
                ),
                "status": r["status"] + (f": {r['reason']}" if r["status"] == "not run" else ""),
            }
        )
    return out


def _baseline_rows(
    records: list[dict[str, Any]], cells: list[tuple[str | None, str | None]]
) -> list[dict[str, Any]]:
    by_key = {(r["quantity"], r["etiology"], r["line"]): r for r in records}
    rows = []
    for etiology, line in cells:
        for quantity in ("rate_typical", "rate_new"):
            rec = by_key.get((quantity, etiology, line))
            if rec is None:
                continue
            rows.append(
                {
                    "scenario": "baseline",
                    "description": "the fit itself",
                    "etiology": etiology,
                    "line": line,
                    "quantity": quantity,
                    "mean": rec["mean"],
                    "q2.5": rec["q2.5"],
                    "q97.5": rec["q97.5"],
                    "status": "ok",
                    "reason": None,
                }
            )
    return rows


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The table as fixed-width text (for ``fit --sensitivity``)."""
    head = (
        f"{'scenario':<27}{'etiology':<11}{'line':<7}{'quantity':<14}{'mean':>7}  "
        f"{'95% interval':<16}  {'lower vs baseline':>17}  status"
    )
    lines = [head]
    for r in rows:
        if r["mean"] is None:
            numbers = f"{'':>7}  {'':<16}  {'':>17}"
        else:
            shift = r["lower_vs_baseline"]
            moved = f"{shift:+.3f}" if shift is not None else ""
            numbers = f"{r['mean']:>7.3f}  [{r['lower']:.3f}, {r['upper']:.3f}]  {moved:>17}"
        lines.append(
            f"{r['scenario']:<27}{r['etiology'] or '-':<11}{r['line'] or '-':<7}"
            f"{r['quantity']:<14}{numbers}  {r['status']}"
        )
    return lines
