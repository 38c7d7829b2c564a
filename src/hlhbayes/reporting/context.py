"""Gather everything a report shows into one plain dict, for both templates.

Nothing here formats HTML or Markdown: the dict holds text, tables (see
:mod:`hlhbayes.reporting.tables`) and figures as PNG bytes; :mod:`hlhbayes.reporting.render`
turns it into files.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hlhbayes.errors import HlhBayesError
from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES
from hlhbayes.priors import POSITIVE_FAMILIES, Prior
from hlhbayes.reporting import figures, forest_plot, loo, plain, tables
from hlhbayes.reporting.estimates import attach_posterior, evidence_rows
from hlhbayes.reporting.findings import findings_context
from hlhbayes.reporting.forest import forest_table
from hlhbayes.reporting.loading import CheckedRun
from hlhbayes.reporting.ranks import RankCheck, rank_check, rank_note
from hlhbayes.reporting.sensitivity import sensitivity_context
from hlhbayes.reporting.support import support_context, support_of
from hlhbayes.reporting.text import question, shown_path
from hlhbayes.summary import MAX_R_HAT, MIN_ESS_BULK, Diagnostics

Cell = tuple[str | None, str | None]


@dataclass(frozen=True)
class ReportOptions:
    """What to focus on. Empty tuples mean: what the fit was asked to print, else everything."""

    etiologies: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    thresholds: tuple[float, ...] = ()
    command: list[str] | None = field(default=None, compare=False)


def focus_cells(run: CheckedRun, options: ReportOptions) -> list[Cell]:
    """The etiology x line cells the results and figures show.

    Default: the cells the fit was asked for (recorded in its provenance), else all cells.
    A model without cells (``random-effects``) has one, ``(None, None)``.
    """
    if not run.model.has_cells:
        if options.etiologies or options.lines:
            raise HlhBayesError(
                f"a {run.model.name} run has no etiology or line; drop --etiology/--line"
            )
        return [(None, None)]
    asked_etiologies, asked_lines = run.run.cells
    etiologies = list(options.etiologies) or [e for e in asked_etiologies if e in MODEL_ETIOLOGIES]
    lines = list(options.lines) or [ln for ln in asked_lines if ln in MODEL_LINES]
    return tables.cells_in_order(etiologies or list(MODEL_ETIOLOGIES), lines or list(MODEL_LINES))


def thresholds_of(run: CheckedRun, options: ReportOptions) -> tuple[float, ...]:
    """The thresholds asked for, else those of the fit, else 0.5."""
    for t in options.thresholds:
        if not 0 < t < 1:
            raise HlhBayesError(f"--threshold must lie strictly between 0 and 1, got {t}")
    if options.thresholds:
        return tuple(dict.fromkeys(options.thresholds))
    found = tuple(dict.fromkeys(float(p["threshold"]) for p in run.probabilities))
    return found or tuple(threshold_reasons(run)) or (0.5,)


def threshold_reasons(run: CheckedRun) -> dict[float, str]:
    """The reason of each threshold of the fit's spec (a run before reasons existed: none)."""
    spec = run.provenance.get("model_spec") or {}
    return {float(t["value"]): str(t["reason"]) for t in spec.get("thresholds") or []}


def support_by_cell(run: CheckedRun) -> dict[Cell, dict[str, Any]]:
    """What each cell's estimate rests on (direct patients and studies, flags), by cell."""
    return {(c["etiology"], c["line"]): c for c in support_of(run)["cells"]}


def focus_label(cells: list[Cell]) -> str:
    """``infection (first and later line)``; ``all etiologies and lines``; ``all studies``."""
    if cells == [(None, None)]:
        return "all studies"
    if len(cells) == len(MODEL_ETIOLOGIES) * len(MODEL_LINES):
        return "all etiologies and lines"
    by_etiology: dict[str, list[str]] = {}
    for e, ln in cells:
        by_etiology.setdefault(str(e), []).append(str(ln))
    return "; ".join(f"{e} ({' and '.join(lines)} line)" for e, lines in by_etiology.items())


def build_context(run: CheckedRun, options: ReportOptions) -> dict[str, Any]:
    """Everything the templates need, as plain data."""
    cells = focus_cells(run, options)
    thresholds = thresholds_of(run, options)
    prov = run.provenance
    spec = prov["model_spec"]
    outcome = run.outcome
    rows = attach_posterior(
        evidence_rows(run.units, run.detail_units), run.units, run.model, run.idata
    )
    posterior = run.idata["posterior"].to_dataset()

    ranks, rank_text = rank_verdict(run)
    loo_table, loo_lines = loo.loo_tables(run, rows)
    loo_study, loo_study_line = loo.loo_study_table(run)
    loo_lines.append(loo_study_line)
    table_list = [tables.evidence_table(run, rows)]
    if run.base is not None:
        table_list += [tables.definitions_table(run), tables.excluded_table(run)]
    table_list += [
        tables.priors_table(run),
        tables.sampler_table(run),
        tables.diagnostics_table(run, cells),
        loo_table,
        loo_study,
        tables.results_table(run, cells, thresholds),
        tables.hyperparameter_table(run),
    ]
    support = support_context(run, cells)
    sensitivity = sensitivity_context(run, cells)
    shown_tables = [*table_list, *support["tables"].values()]
    if sensitivity["shown"]:
        shown_tables.append(sensitivity["table"])
    for t in shown_tables:
        t["glossary"] = plain.glossary(
            t["id"], max_r_hat=f"{MAX_R_HAT:g}", min_ess=f"{MIN_ESS_BULK:g}"
        )
    return {
        "title": _title(run, cells),
        "run": str(run.path),
        "model": run.model.name,
        "outcome": outcome,
        "banners": _banners(run),
        "question": question(
            run.model.has_cells, outcome, str(run.table_path) if run.table_path else None
        ),
        "focus": focus_label(cells),
        "findings": findings_context(
            run, cells, thresholds, threshold_reasons(run), support_by_cell(run)
        ),
        "all_cells": run.model.has_cells and len(cells) == len(MODEL_ETIOLOGIES) * len(MODEL_LINES),
        "filters": _filters(run),
        "equations": run.model.text.equations,
        "approximation": run.model.text.note,
        "tables": {t["id"]: t for t in table_list},
        "support": support,
        "sensitivity": sensitivity,
        "gate": _gate(run),
        "loo_lines": loo_lines,
        "figures": _figures(run, rows, cells, posterior, outcome, ranks),
        "rank_note": rank_text,
        "footer": {
            "data_hash": prov["data_hash"],
            "current_hash": run.current_hash,
            "data_source": shown_path(prov["data_source"]),
            "packages": [(k, v or "not installed") for k, v in prov["packages"].items()],
            "seed": prov["seed"],
            "fit_command": shlex.join(prov.get("command") or []),
            "report_command": shlex.join(options.command) if options.command else "",
            "fitted": prov.get("created", ""),
            "generated": datetime.now(UTC).isoformat(timespec="seconds"),
            "spec_source": shown_path(spec["source"])
            if spec.get("source")
            else "built-in defaults",
        },
    }


def _title(run: CheckedRun, cells: list[Cell]) -> str:
    what = "Response" if run.outcome == "response" else "Death"
    if not run.model.has_cells:
        return f"{what} to anakinra in secondary HLH: {run.model.name} meta-analysis"
    etiologies = list(dict.fromkeys(e for e, _ in cells if e))
    scope = (
        "by trigger and line of therapy"
        if len(etiologies) == len(MODEL_ETIOLOGIES)
        else f"{', '.join(etiologies)}-triggered sHLH, by line of therapy"
    )
    return f"{what} to anakinra in secondary HLH: {scope}"


def _banners(run: CheckedRun) -> list[dict[str, Any]]:
    out = []
    d = run.summary["diagnostics"]
    if not run.converged:
        diag = Diagnostics(d["max_r_hat"], d["min_ess_bulk"], int(d["divergences"]), False)
        out.append(
            {
                "kind": "danger",
                "title": "NOT CONVERGED",
                "text": "This fit failed its convergence gate: do not use these estimates.",
                "items": diag.problems(),
            }
        )
    if run.stale:
        out.append(
            {
                "kind": "warning",
                "title": "STALE RUN",
                "text": (
                    "The data changed since this fit (data hash "
                    f"{run.provenance['data_hash'][:12]} then, {run.current_hash[:12]} now). The evidence units are unchanged, so "
                    "the report could be drawn, but refit before relying on it."
                ),
                "items": [],
            }
        )
    return out


def _gate(run: CheckedRun) -> dict[str, Any]:
    d = run.summary["diagnostics"]
    return {
        "max_r_hat": f"{d['max_r_hat']:.3f}",
        "min_ess_bulk": f"{d['min_ess_bulk']:.0f}",
        "divergences": int(d["divergences"]),
        "converged": bool(d["converged"]),
    }


def _filters(run: CheckedRun) -> list[tuple[str, str]]:
    prov = run.provenance
    f = prov["model_spec"]["filters"]
    u = prov.get("units") or {}
    if run.table_path is not None:
        return [
            ("data", f"the user's table {run.table_path}"),
            ("studies", str(len(run.units.studies))),
            ("events", f"{u.get('events', '')}/{u.get('total', '')}"),
        ]
    conditions = ", ".join(tables.CONDITION_LABELS.get(c, c) for c in f["conditions"])
    excluded = ", ".join(f["exclude_studies"]) or "none"
    if run.model.one_count_per_study:
        fitted = [
            (
                "evidence fitted",
                f"{u.get('studies')} studies, one count per study (its patients and strata added "
                f"up); {u.get('events')} {f['outcome']} events in {u.get('total')} patients",
            )
        ]
    else:
        fitted = [
            (
                "evidence fitted",
                f"{u.get('studies')} studies: {u.get('patients')} patients with individual data "
                f"and {u.get('strata')} aggregate strata; {u.get('events')} {f['outcome']} events "
                f"in {u.get('total')} patients",
            ),
            (
                "unknown compositions",
                f"{u.get('strata_with_unknown_etiology', 0)} strata with unknown etiology mix, "
                f"{u.get('strata_with_unknown_line', 0)} with unknown line mix (latent in the "
                "model, not guessed)",
            ),
        ]
    return [
        ("outcome", f["outcome"] + " (definitions differ between studies: see below)"),
        ("population", f["population"]),
        ("conditions", conditions),
        ("studies excluded on the command line", excluded),
        ("derived counts", "excluded" if f["exclude_derived"] else "included"),
        *fitted,
    ]


def _figures(run, rows, cells, posterior, outcome, ranks: RankCheck) -> list[dict[str, Any]]:
    hyper = tuple(run.model.hyperparameters)
    positive = positive_parameters(run)
    table = forest_table(rows, run.units, posterior, cells, run.base)
    triggers = run.model.has_cells
    return [
        figures.figure(
            "forest",
            "Forest plot",
            f"One row per study, grouped by trigger: the observed {outcome} rate (events/n, open "
            "square) with its exact 95% Clopper-Pearson interval, and the model's estimate of the "
            f"study's own rate (filled circle: posterior median and 95% credible interval), "
            f"{run.model.text.study_estimate}. Below the line, for {focus_label(cells)}: the "
            "average across studies (diamond: median and 95% credible interval) and the rate "
            "expected in a new centre (bar: median and 95% prediction interval, which adds the "
            "spread between studies, printed beneath)."
            + (
                " Colours: one per trigger (black: a study of several triggers; grey: trigger "
                "mix not reported). A study that mixes triggers and lines has no single cell's "
                "rate."
                if triggers
                else ""
            ),
            forest_plot.forest(table, outcome),
        ),
        figures.figure(
            "densities",
            f"Posterior densities of the {outcome} rate",
            f"Posterior densities of the {outcome} rate "
            + (
                "by trigger (one colour and one row each), one panel per line of therapy; "
                if triggers
                else ""
            )
            + "filled, solid: the average across studies (a typical study); dashed: a new centre "
            "(prediction). Densities are beta kernel estimates, whose kernels stay within 0% to "
            "100%, so that no curve is cut at either end; each row is scaled to its own height.",
            figures.rate_densities(posterior, cells, outcome),
        ),
        figures.figure(
            "prior_posterior",
            "Prior vs posterior of the hyperparameters",
            "Prior (grey, dashed) and posterior (black) densities of "
            + ", ".join(hyper)
            + " (logit scale; SDs reflected at 0, their bound): where they coincide, the data "
            "say little about that parameter.",
            figures.prior_posterior(run.idata, hyper, positive),
        ),
        figures.figure(
            "trace",
            "Trace plots",
            "Per chain (dark to light): the posterior density (left) and the draws in sampling "
            "order (right) of each hyperparameter. Converged chains overlap and look like "
            "stationary noise.",
            figures.trace(run.idata, hyper, positive),
        ),
        figures.figure(
            "rank",
            "Rank plots",
            "Fractional-rank ΔECDF of each hyperparameter, one line per chain: for chains that "
            "sample the same posterior every line stays near zero. Each panel prints the p-value "
            f"of the multi-chain rank uniformity test (level α = {ranks.level:g}); black "
            "segments mark the ranks where the chains differ most when it is flagged. "
            "The note below says how the flags square with the convergence gate.",
            figures.rank(run.idata, ranks),
        ),
        figures.figure(
            "ppc",
            "Posterior predictive check",
            f"For each study (and group of patients) the observed share of {outcome}s "
            "(events/n, open circle) against the posterior predictive distribution of that "
            "share in a replicate of the same patients (95% interval, grey bar; mean, black "
            "tick). For a single patient the mean is the fitted probability. Right: the "
            f"posterior predictive distribution of the total number of {outcome}s over all "
            "patients of the fit, with the observed total (vertical line).",
            figures.predictive_check(rows, outcome),
        ),
    ]


def positive_parameters(run: CheckedRun) -> dict[str, bool]:
    """Which hyperparameters are bounded below by 0 (an SD), from the family of their prior."""
    priors = run.provenance["model_spec"]["priors"]
    return {
        name: name in priors and Prior.from_dict(priors[name]).family in POSITIVE_FAMILIES
        for name in run.model.hyperparameters
    }


def rank_verdict(run: CheckedRun) -> tuple[RankCheck, str]:
    """The rank tests of the hyperparameters and how they square with the convergence gate."""
    posterior = run.idata["posterior"].to_dataset()
    check = rank_check(posterior, list(run.model.hyperparameters))
    records = {
        r["quantity"]: r
        for r in run.summary["summary"]
        if r.get("etiology") is None and r.get("line") is None
    }
    return check, rank_note(check, run.converged, records)
