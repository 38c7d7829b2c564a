"""``hlhbayes describe``: a paper's descriptive statistics recomputed from its patient rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pandas as pd

from hlhbayes.cli.common import emit_payload
from hlhbayes.cli.options import data_option, table_format_option
from hlhbayes.cli.tables import print_table
from hlhbayes.evidence import load_evidence
from hlhbayes.evidence.describe import describe as describe_study
from hlhbayes.rounding import probability


@click.command(short_help="Recompute a study's descriptive statistics.")
@click.argument("study")
@data_option()
@table_format_option()
def describe(study: str, data_path: Path | None, fmt: str) -> None:
    """Recompute a study's descriptive statistics.

    From STUDY's patient rows: counts and percentages, medians with IQR, counts by anakinra line and regimen, responders
    and deaths, the anakinra-duration comparison by etiology, and every place where the paper's
    stated figures disagree with its patient table.
    """
    result = describe_study(load_evidence(data_path), study)
    if fmt != "table":
        emit_payload(result, fmt)
        return
    _print_table(result)


def _print_table(r: dict[str, Any]) -> None:
    """The description as tables: counts, medians, breakdowns, comparisons, reconciliation."""
    click.echo(f"{r['study']}: {r['n']} patients")
    counts = pd.DataFrame(
        [
            {"": label, "n": c["n"], "of": c["of"], "%": c["percent"]}
            for label, c in r["counts"].items()
        ]
    )
    _section(counts, "Counts", formats={"%": _percent})
    continuous = pd.DataFrame(
        [
            {
                "": c["label"],
                "median": c.get("median"),
                "Q1": c.get("q1"),
                "Q3": c.get("q3"),
                "n": c["n"],
                "missing": c["missing"],
            }
            for c in r["continuous"].values()
        ]
    )
    title = f"Medians [IQR]; quartiles by {r['quantile_method']}"
    _section(continuous, title, formats={k: _stated for k in ("median", "Q1", "Q3")})
    lines = pd.DataFrame(
        [
            {
                "line": line,
                "patients": c["patients"],
                "alone": c["alone"],
                "with CS": c["with_corticosteroids"],
                "responders": c["responders"],
                "deaths": c["deaths"],
            }
            for line, c in r["by_anakinra_line"].items()
        ]
    )
    _section(lines, "By anakinra line")
    etiologies = pd.DataFrame(
        [
            {
                "etiology": e,
                "patients": c["patients"],
                "first line": c["first_line"],
                "responders": c["responders"],
                "deaths": c["deaths"],
            }
            for e, c in r["by_etiology"].items()
        ]
    )
    _section(etiologies, "By etiology (a patient with several triggers counts in each)")
    durations = pd.DataFrame(
        [
            {
                "groups (A vs B)": c["groups"],
                "median A": c.get("median_a"),
                "n A": c.get("n_a"),
                "median B": c.get("median_b"),
                "n B": c.get("n_b"),
                "U": c.get("u"),
                "p": c.get("p_value"),
            }
            for c in r["anakinra_duration_by_etiology"]
        ],
        columns=["groups (A vs B)", "median A", "n A", "median B", "n B", "U", "p"],
    )
    _section(
        durations,
        "Anakinra duration by etiology (Wilcoxon rank-sum test, two-sided)",
        formats={"median A": _stated, "median B": _stated, "U": _stated, "p": probability},
    )
    _print_reconciliation(r["reconciliation"])


def _print_reconciliation(findings: list[dict[str, Any]]) -> None:
    title = "Reconciliation: stated figures vs the patient table"
    if not findings:
        click.echo(f"\n{title}\n(no stated aggregates to reconcile)")
        return
    shown = sorted(
        (f for f in findings if f["status"] != "not recomputable"),
        key=lambda f: (f["status"] != "disagrees", f["key"]),
    )
    rows = pd.DataFrame(
        [
            {
                "": "DISAGREES" if f["status"] == "disagrees" else "agrees",
                "figure": f["key"],
                "stated": f["stated"],
                "table": f["computed"],
                "where stated": f["location"],
            }
            for f in shown
        ],
        columns=["", "figure", "stated", "table", "where stated"],
    )
    # stated as the paper prints it (45.0 stays 45.0, 21 stays 21), the table's as computed
    rows["stated"] = pd.Series([f["stated"] for f in shown], dtype=object)
    _section(rows, title, formats={"stated": str, "table": _stated})
    skipped = sum(f["status"] == "not recomputable" for f in findings)
    if skipped:
        click.echo(f"({skipped} stated figures cannot be recomputed from the table; see data show)")


def _section(frame: pd.DataFrame, title: str, **options: Any) -> None:
    click.echo()
    print_table(frame, title=title, **options)


def _stated(value: float) -> str:
    """A median, quartile or statistic in full (``72.75``): compared with the paper's."""
    return f"{value:g}"


def _percent(value: float) -> str:
    return f"{value:.1f}"
