"""The summary of findings: the answer first, in plain words, per trigger and line of therapy.

In the style of a GRADE summary-of-findings table: for each cell the report shows, how many of
100 patients respond (or die) on average across studies with its 95% credible interval, how many
to expect in a new centre (95% prediction interval), the chance that the average exceeds each
threshold of the spec (with the threshold's reason), the direct evidence behind the estimate and
a plain statement when the estimate is mostly borrowed from other cells or driven by the prior;
then the certainty caveat and the Monte Carlo error of the figures.

The averages and intervals are ``summary.json``'s (what ``fit`` printed), rounded to no more
digits than their Monte Carlo error supports (:mod:`hlhbayes.reporting.precision`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hlhbayes.reporting import plain, precision
from hlhbayes.reporting.loading import CheckedRun

Cell = tuple[str | None, str | None]

CAVEAT = (
    "Certainty: low. The evidence is case series and retrospective cohorts without a "
    "comparison group, and the studies define response differently (see the outcome "
    "definitions). These figures describe how often patients given anakinra did well; they do "
    "not show how much of that anakinra caused, compared with other treatment."
)
CAVEAT_DEATH = (
    "Certainty: low. The evidence is case series and retrospective cohorts without a "
    "comparison group, and the studies report deaths over different follow-up times (see the "
    "outcome definitions). These figures describe how often patients given anakinra died; they "
    "do not show how much of that anakinra changed, compared with other treatment."
)


@dataclass(frozen=True)
class Figure:
    """A rate as ``N of 100`` with its interval, each end printed to its Monte Carlo error."""

    value: float
    low: float
    high: float
    errors: tuple[float, float, float]  # MCSE of value, low, high (rate scale)

    def per_100(self) -> tuple[str, str, str]:
        """The three numbers as patients of 100 (integers at most)."""
        return (
            of_100(self.value, self.errors[0]),
            of_100(self.low, self.errors[1], end=True),
            of_100(self.high, self.errors[2], end=True),
        )


@dataclass(frozen=True)
class Finding:
    """One row of the summary of findings."""

    etiology: str | None
    line: str | None
    label: str
    average: Figure
    new_centre: Figure
    chances: list[tuple[float, float, float]]  # (threshold, P(average > threshold), its MCSE)
    support: dict[str, Any] | None = None
    statements: list[str] = field(default_factory=list)


def of_100(rate: float, error: float, end: bool = False) -> str:
    """A rate as patients of 100, to no more digits than its error (at most whole patients).

    An estimate that rounds to 100 (or 0) but is not is said as "more than 99" ("fewer than
    1"); an interval's ``end`` is rounded like any number ("60 to 100").
    """
    places = precision.decimals(100 * error, most=0)
    text = precision.rounded(100 * rate, places)
    if end:
        return text
    if float(text) >= 100 and rate < 1:
        return "more than 99"
    if float(text) <= 0 and rate > 0:
        return "fewer than 1"
    return text


def chance(probability: float, error: float) -> str:
    """A probability in percent, to its error (at most one decimal), never 0% or 100%."""
    places = precision.decimals(100 * error, most=1, least=0)
    text = precision.rounded(100 * probability, places)
    if float(text) >= 100 and probability < 1:
        return "more than 99.9%" if places else "more than 99%"
    if float(text) >= 100:
        return "every draw"
    if float(text) <= 0:
        return "less than 0.1%" if probability > 0 else "no draw"
    return f"{text}%"


def findings(
    run: CheckedRun,
    cells: list[Cell],
    thresholds: tuple[float, ...],
    support: dict[Cell, dict[str, Any]] | None = None,
) -> list[Finding]:
    """One :class:`Finding` per cell, in the order of ``cells``."""
    records = {(r["quantity"], r["etiology"], r["line"]): r for r in run.summary["summary"]}
    posterior = run.idata["posterior"].to_dataset()
    out = []
    for e, ln in cells:
        draws = {q: _draws(posterior, q, e, ln) for q in ("rate_typical", "rate_new")}
        typical = draws["rate_typical"]
        cell_support = (support or {}).get((e, ln))
        out.append(
            Finding(
                e,
                ln,
                plain.cell_label(e, ln),
                _figure(records[("rate_typical", e, ln)], typical),
                _figure(records[("rate_new", e, ln)], draws["rate_new"]),
                [
                    (t, float((typical > t).mean()), precision.share_error(typical, t))
                    for t in thresholds
                ],
                cell_support,
                plain.support_statements(cell_support),
            )
        )
    return out


def _figure(record: dict[str, Any], draws: np.ndarray) -> Figure:
    low_error, high_error = precision.interval_errors(draws)
    return Figure(
        record["mean"],
        record["q2.5"],
        record["q97.5"],
        (float(record.get("mcse_mean") or precision.mean_error(draws)), low_error, high_error),
    )


def _draws(posterior, quantity: str, etiology: str | None, line: str | None) -> np.ndarray:
    da = posterior[quantity]
    if etiology is not None:
        da = da.sel(etiology=etiology, line=line)
    return np.asarray(da.transpose("chain", "draw").values)


def findings_context(
    run: CheckedRun,
    cells: list[Cell],
    thresholds: tuple[float, ...],
    reasons: dict[float, str],
    support: dict[Cell, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The summary-of-findings block as plain data for the templates."""
    verb = "respond" if run.outcome == "response" else "die"
    found = findings(run, cells, thresholds, support)
    rows = []
    for f in found:
        avg, new = f.average.per_100(), f.new_centre.per_100()
        rows.append(
            {
                "label": f.label,
                "average": f"About {avg[0]} of 100 patients {verb} "
                f"(95% credible interval {avg[1]} to {avg[2]})",
                "new_centre": f"About {new[0]} of 100 (95% prediction interval {new[1]} to "
                f"{new[2]})",
                "chances": [chance(p, err) for _, p, err in f.chances],
                "evidence": plain.direct_evidence(f.support),
                "statements": f.statements,
                "flagged": bool(f.statements),
            }
        )
    errors = [x.average.errors for x in found] + [x.new_centre.errors for x in found]
    return {
        "verb": verb,
        "rows": rows,
        "thresholds": [
            {
                "label": plain.per_100_label(t),
                "column": f"Chance the average exceeds {100 * t:g} of 100",
                "reason": reasons.get(t, "given on the command line; no reason recorded"),
            }
            for t in thresholds
        ],
        "caveat": CAVEAT if run.outcome == "response" else CAVEAT_DEATH,
        "mc_error": monte_carlo_line(errors),
        "support_shown": support is not None,
    }


def monte_carlo_line(errors: list[tuple[float, float, float]]) -> str:
    """The Monte Carlo error of the figures, in patients of 100."""
    if not errors:
        return ""
    centre = precision.up_to_one_digit(max(e[0] for e in errors) * 100)
    ends = precision.up_to_one_digit(max(max(e[1], e[2]) for e in errors) * 100)
    return (
        "Monte Carlo error (the figures come from a finite number of random draws; a rerun on "
        f"another computer can move them by about this much): up to {centre:g} of 100 for "
        f"the averages and up to {ends:g} of 100 for the interval ends. Figures are rounded "
        "so that no digit is finer than this error."
    )
