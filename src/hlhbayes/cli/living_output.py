"""The living-evidence commands' terminal tables: before and after, conflicts, steps, scenarios.

``compare`` and ``update`` print the same change table; ``update`` adds the conflict table of
the new studies, ``cumulative`` one row per step and rate, ``sensitivity`` one row per scenario
and rate (its reasons as notes below) and ``sensitivity --list`` the plan. Every table goes
through :func:`hlhbayes.cli.tables.print_table`.
"""

from __future__ import annotations

from typing import Any

import click
import pandas as pd

from hlhbayes.cli.tables import interval, is_missing, print_table
from hlhbayes.models.units import MODEL_ETIOLOGIES
from hlhbayes.rounding import probability, rate

RATES = ("rate_typical", "rate_new")


def print_changes(frame: pd.DataFrame) -> None:
    """Every quantity before (A) and after (B): mean [95% interval], shift, change of width."""
    rows = pd.DataFrame(
        {
            "quantity": frame["quantity"],
            "etiology": frame["etiology"],
            "line": frame["line"],
            "before (A)": [_estimate(r, "a") for r in frame.to_dict(orient="records")],
            "after (B)": [_estimate(r, "b") for r in frame.to_dict(orient="records")],
            "shift (SD)": frame["shift_sd"],
            "width change": frame["width_change"],
            "relative": frame["width_change_rel"],
        }
    )
    formats = {
        "shift (SD)": lambda v: f"{v:+.2f}",
        "width change": lambda v: f"{v:+.3f}",
        "relative": lambda v: f"{v:+.0%}",
    }
    print_table(rows, formats=formats, missing="-")


def _estimate(row: dict[str, Any], side: str) -> str:
    """``0.908 [0.736, 0.992]``, or ``(absent)`` where the run has no such quantity."""
    if is_missing(row[f"mean_{side}"]):
        return "(absent)"
    return f"{rate(row[f'mean_{side}'])} {interval(row[f'q2.5_{side}'], row[f'q97.5_{side}'])}"


def print_conflicts(rows: list[dict[str, Any]]) -> None:
    """Each new unit's count against the previous fit's predictive: mid-p and a flag."""
    frame = pd.DataFrame(
        {
            "study": [r["study"] for r in rows],
            "unit": [r["unit"] if r["kind"] != "stratum" else f"stratum {r['unit']}" for r in rows],
            "observed": [r["observed"] for r in rows],
            "of": [r["total"] for r in rows],
            "predicted mean [95%]": [
                f"{r['predicted_mean']:.1f} [{r['predicted_q2.5']}, {r['predicted_q97.5']}]"
                for r in rows
            ],
            "mid-p": [r["p_value"] for r in rows],
            "flag": [
                f"CONFLICT ({r['direction']} than predicted)" if r["conflict"] else "-"
                for r in rows
            ],
        }
    )
    print_table(frame, formats={"mid-p": probability})


def print_steps(rates: pd.DataFrame, shown: pd.DataFrame) -> None:
    """One row per step and rate of the cells shown, then tau by step."""
    etiologies = {e: i for i, e in enumerate(MODEL_ETIOLOGIES)}
    rows = sorted(
        rates.to_dict(orient="records"),
        key=lambda r: (
            r["step"],
            etiologies.get(r["etiology"], -1),
            r["line"] if isinstance(r["line"], str) else "",
            r["quantity"] != "rate_typical",
        ),
    )
    frame = pd.DataFrame(
        [
            {
                "step": r["step"],
                "study added": r["study"],
                "year": r["year"],
                "n": r["studies"],
                "etiology": r["etiology"],
                "line": r["line"],
                "quantity": r["quantity"],
                "mean": r["mean"],
                "95% interval": interval(r["q2.5"], r["q97.5"]),
                "converged": "yes" if r["converged"] else "NO",
            }
            for r in rows
        ],
        columns=[
            "step",
            "study added",
            "year",
            "n",
            "etiology",
            "line",
            "quantity",
            "mean",
            "95% interval",
            "converged",
        ],
    )
    print_table(frame, formats={"mean": rate}, missing="-")
    tau = shown[shown["quantity"] == "tau"]
    if len(tau):
        click.echo(
            "tau by step: "
            + "; ".join(
                f"{r['step']}: {r['mean']:.2f} [{r['q2.5']:.2f}, {r['q97.5']:.2f}]"
                for r in tau.to_dict(orient="records")
            )
        )


def print_scenarios(frame: pd.DataFrame) -> None:
    """One row per scenario and rate; why a scenario was not run or not estimable, below."""
    records = frame.to_dict(orient="records")
    table = pd.DataFrame(
        {
            "scenario": [r["scenario"] for r in records],
            "etiology": [r["etiology"] for r in records],
            "line": [r["line"] for r in records],
            "quantity": [r["quantity"] for r in records],
            "mean": [r["mean"] for r in records],
            "95% interval": [
                None if is_missing(r["mean"]) else interval(r["q2.5"], r["q97.5"]) for r in records
            ],
            "studies": [r["studies"] for r in records],
            "status": [r["status"] for r in records],
        }
    )
    print_table(table, formats={"mean": rate}, missing="-")
    reasons = {
        (r["scenario"], r["status"]): r["reason"]
        for r in records
        if r["status"] in ("not estimable", "not run") and not is_missing(r["reason"])
    }
    for (scenario, status), reason in reasons.items():
        click.echo(f"note: {scenario} {status}: {reason}")


def plan_frame(plans: list[Any], units: Any) -> pd.DataFrame:
    """``sensitivity --list``: each scenario's group, evidence units, plan and description.

    ``units``: a function from a prepared fit to its units in words.
    """
    rows = []
    for ch in plans:
        sc = ch.scenario
        plan = {"fit": "fit", "not run": "not run", "not estimable": "not estimable"}[ch.status]
        if ch.status == "fit" and ch.missing:
            plan = "fit (partly)"
        rows.append(
            {
                "scenario": sc.name,
                "group": sc.group,
                "units": units(ch.prepared) if ch.prepared is not None else "-",
                "plan": plan,
                "description": sc.description + (f" [{ch.reason}]" if ch.reason else ""),
            }
        )
    return pd.DataFrame(rows)
