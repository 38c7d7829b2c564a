"""``hlhbayes describe``: a paper's descriptive statistics recomputed from its patient rows."""

from __future__ import annotations

from pathlib import Path

import click

from hlhbayes.cli.common import emit_payload
from hlhbayes.cli.options import data_option, table_format_option
from hlhbayes.evidence import load_evidence
from hlhbayes.evidence.describe import describe as describe_study


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


def _print_table(r: dict) -> None:
    echo = click.echo
    echo(f"{r['study']}: {r['n']} patients")
    echo("\nCounts")
    for label, c in r["counts"].items():
        echo(f"  {label:<30}{c['n']:>4} / {c['of']:<4}({c['percent']:.1f}%)")
    echo(f"\nMedians [IQR]; quartiles by {r['quantile_method']}")
    for c in r["continuous"].values():
        missing = f"  ({c['missing']} missing)" if c["missing"] else ""
        if "median" in c:
            echo(
                f"  {c['label']:<32}{c['median']:g} [{c['q1']:g}-{c['q3']:g}]  n={c['n']}{missing}"
            )
    echo("\nBy anakinra line")
    echo(f"  {'line':<6}{'patients':>9}{'alone':>7}{'with CS':>9}{'responders':>12}{'deaths':>8}")
    for line, c in r["by_anakinra_line"].items():
        echo(
            f"  {line:<6}{c['patients']:>9}{c['alone']:>7}{c['with_corticosteroids']:>9}"
            f"{c['responders']:>12}{c['deaths']:>8}"
        )
    echo("\nBy etiology (a patient with several triggers counts in each)")
    echo(f"  {'etiology':<12}{'patients':>9}{'first line':>12}{'responders':>12}{'deaths':>8}")
    for e, c in r["by_etiology"].items():
        echo(
            f"  {e:<12}{c['patients']:>9}{c['first_line']:>12}{c['responders']:>12}{c['deaths']:>8}"
        )
    echo("\nAnakinra duration by etiology")
    for c in r["anakinra_duration_by_etiology"]:
        echo(f"  {c['groups']}")
        if "p_value" in c:
            echo(
                f"    medians {c['median_a']:g} (n={c['n_a']}) vs {c['median_b']:g} "
                f"(n={c['n_b']}); U={c['u']:g}, p={c['p_value']:.3f}"
            )
    echo("\nReconciliation: stated figures vs the patient table")
    findings = r["reconciliation"]
    if not findings:
        echo("  (no stated aggregates to reconcile)")
    for f in sorted(findings, key=lambda f: (f["status"] != "disagrees", f["key"])):
        if f["status"] == "not recomputable":
            continue
        computed = "" if f["computed"] is None else f"{f['computed']:g}"
        mark = "DISAGREES" if f["status"] == "disagrees" else "agrees"
        echo(
            f"  {mark:<10}{f['key']:<28}stated {f['stated']!s:<8}table {computed:<8}{f['location']}"
        )
    skipped = sum(f["status"] == "not recomputable" for f in findings)
    if skipped:
        echo(f"  ({skipped} stated figures cannot be recomputed from the table; see data show)")
