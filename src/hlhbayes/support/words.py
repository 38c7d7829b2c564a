"""The thresholds of the support flags, with their reasons, and the one place that words them.

``fit``, ``report`` and ``design map`` print the sentences written here (stored in
``summary.json`` under ``support``); nothing else phrases them.
"""

from __future__ import annotations

from typing import Any

PRIOR_DOMINATED = 0.5
"""Contraction below which an estimate is **prior-dominated**. In a normal model the
contraction is the share of the posterior precision that comes from the data; below 1/2 the
prior carries more of it than all the data together (own and borrowed)."""

MOSTLY_BORROWED = 0.5
"""Borrowed share above which a cell's estimate is **mostly borrowed**. In the normal
hierarchical model the share is the weight of the pooled mean in the cell's posterior mean;
above 1/2 the other triggers (and the other line) weigh more than the cell's own data."""

PSENSE_THRESHOLD = 0.05
"""Power-scaling sensitivity at or above which arviz-stats calls a prior or a likelihood
influential (its default, from Kallioinen et al. 2024)."""

KHAT_FINITE_VARIANCE = 0.5
"""Pareto k-hat at or above which draws are treated as having no finite variance (a
generalised Pareto tail with k >= 1/2 has none), so no variance ratio is computed."""

NO_FLAG = "-"


def number(value: float) -> str:
    """Patients to one decimal, without a trailing ``.0`` (``12``, ``12.5``, ``1.7``)."""
    return f"{round(value, 1):g}"


def cell_flags(cell: dict[str, Any]) -> list[str]:
    """Short flags of a cell: ``no direct data``, ``mostly borrowed``, ``prior-dominated``."""
    flags = []
    if cell["direct_patients"] == 0:
        flags.append("no direct data")
    elif cell.get("borrowed") is not None and cell["borrowed"] > MOSTLY_BORROWED:
        flags.append("mostly borrowed")
    if cell["contraction"] is not None and cell["contraction"] < PRIOR_DOMINATED:
        flags.append("prior-dominated")
    return flags


def cell_sentence(cell: dict[str, Any], other_line_direct: float | None) -> str:
    """What a cell's estimate rests on, in plain words.

    ``other_line_direct``: the direct patients of the same trigger in the other line (``None``
    for a model with one cell), which says where a cell without direct data borrows from.
    """
    patients, studies = cell["direct_patients"], cell["direct_studies"]
    mostly = cell.get("borrowed") is not None and cell["borrowed"] > MOSTLY_BORROWED
    if patients == 0:
        if not other_line_direct:
            source = "other triggers"
        elif mostly:  # the trigger's few patients in the other line add little
            source = "other triggers and the other line"
        else:
            source = "the other line"
        parts = [f"no direct data: estimate borrowed from {source}"]
    else:
        parts = [
            f"direct data from {number(patients)} {'patient' if patients == 1 else 'patients'} "
            f"in {studies} {'study' if studies == 1 else 'studies'}"
        ]
        if mostly:
            parts.append("estimate mostly borrowed from other triggers and lines")
    if cell["uncertain_patients"] > 0:
        parts.append(
            f"about {number(cell['uncertain_patients'])} more may belong here "
            "(strata of unknown composition)"
        )
    if cell["contraction"] is not None and cell["contraction"] < PRIOR_DOMINATED:
        parts.append(
            "prior-dominated: "
            + (
                "the posterior is wider than the prior"
                if cell["contraction"] < 0
                else "the data remove less than half of the prior's variance"
            )
        )
    return "; ".join(parts)


def hyperparameter_sentence(record: dict[str, Any], cannot_tell: str | None) -> str | None:
    """``the data cannot tell ...`` for a prior-dominated hyperparameter (``None`` otherwise)."""
    if cannot_tell is None or record["contraction"] is None:
        return None
    if record["contraction"] < PRIOR_DOMINATED:
        return f"the data cannot tell {cannot_tell}"
    return None


def flag_text(flags: list[str]) -> str:
    """Flags joined for a table cell (``-`` for none)."""
    return ", ".join(flags) or NO_FLAG


def diagnosis_text(diagnosis: str | None) -> str:
    """arviz-stats' psense diagnosis for a table (its ``✓`` shown as ``-``)."""
    if diagnosis is None:
        return "not computed"
    return NO_FLAG if diagnosis == "✓" else diagnosis


def fixed(value: float | None, digits: int = 2) -> str:
    """A measure to ``digits`` decimals (``n/a`` when not computed)."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def cell_label(cell: dict[str, Any]) -> str:
    """``infection, first line`` (``all studies`` for a model's one cell)."""
    if cell["etiology"] is None:
        return "all studies"
    return f"{cell['etiology']}, {cell['line']} line"


def rests_on_line(cell: dict[str, Any]) -> str:
    """One line for a cell alone (``design map``): its sentence and its two measures."""
    return (
        f"what {cell_label(cell)} rests on: {cell['words']} (contraction "
        f"{fixed(cell['contraction'])}, borrowed {fixed(cell['borrowed'])})"
    )
