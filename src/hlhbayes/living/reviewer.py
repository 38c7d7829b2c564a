"""The sensitivity a guideline reviewer asks of a fit, in one compact table.

For the cells of a fit, how its headline numbers move when

* the heterogeneity prior (``tau``) and, where the model has one, the etiology-spread prior
  (``sigma_eta``) are set to half and double the fit's scale, and to half-Cauchy at its scale;
* the series of fewer than 5 patients are left out (``no-small-series``);
* the series of fewer than 10 patients in which every outcome was favourable (all responded;
  for death: none died), the ones most likely to have been published for their result, count
  with likelihood weight 0.5 (``downweight-small-extreme``).

These are the ``sensitivity`` command's scenarios of those groups
(:mod:`hlhbayes.living.sensitivity`), each the fit as prepared (its data, sampler settings and
seed) with one change, fitted in one batch (one compiled program per model structure; the
half-Cauchy priors are two more structures). The fit itself is the baseline row: it is not
fitted again. For a fit to a user's table, whose units no filter reaches, a series is left out
by likelihood weight 0 (the same posterior of every rate as a fit without it).

:func:`reviewer_sensitivity` gives the table as a record (the rows and how they were made),
which ``fit`` stores in its run folder (``sensitivity.json``, ``sensitivity.csv``: see
:mod:`hlhbayes.runs`); :func:`add_to_run` makes it for a run folder that has none (``report
--sensitivity``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hlhbayes import pipeline, runs
from hlhbayes.errors import HlhBayesError
from hlhbayes.living.sensitivity import (
    DOWNWEIGHT_BELOW,
    SMALL_SERIES,
    Scenario,
    prior_scale,
    prior_scenarios,
    run_sensitivity,
    small_study_scenarios,
)
from hlhbayes.models.spec import Spec

GROUPS = ("heterogeneity prior", "etiology-spread prior", "small studies")
"""The sensitivity scenario groups of the table (besides the baseline)."""
COLUMNS = (
    "scenario",
    "group",
    "change",
    "in_words",
    "etiology",
    "line",
    "quantity",
    "mean",
    "lower",
    "upper",
    "lower_vs_baseline",
    "status",
    "reason",
)
"""The table's columns: ``change`` says what the scenario changes (as the spec would), and
``in_words`` the same for a clinician; ``lower`` and ``upper`` bound the 95 % equal-tailed
interval; ``lower_vs_baseline`` is ``lower`` minus the fit's own (how far the lower bound, which
trial designs lean on, moves); ``status`` is ``ok``, ``not converged`` (numbers shown, not to be
used), ``not estimable`` (no direct data on the cell) or ``not run``, with the ``reason``."""
STATUSES = ("ok", "not converged", "not estimable", "not run")
"""The values of ``status``; a row with a number has ``ok`` or ``not converged``."""
BASELINE = "baseline"
"""The name of the fit's own rows."""

PRIOR_WORDS = {"tau": ("Studies", "studies"), "sigma_eta": ("Triggers", "triggers")}
"""What each varied prior is about, for :func:`scenario_words`."""

Log = Callable[[str], None]


def _silent(_message: str) -> None:
    return None


def reviewer_scenarios(prepared: pipeline.Prepared) -> list[Scenario]:
    """The scenarios of the table for a prepared fit (baseline first)."""
    spec = prepared.request.spec
    excluded = list(spec.filters.exclude_studies)
    small = small_study_scenarios(spec, prepared.units, excluded)
    if prepared.base is None:  # a user's table: filters do not reach its units
        small = [_left_out_by_weight(sc, excluded) for sc in small]
    baseline = Scenario(BASELINE, BASELINE, "the fit itself")
    return [baseline, *prior_scenarios(spec), *small]


def _left_out_by_weight(sc: Scenario, excluded: list[str]) -> Scenario:
    if not sc.filters:
        return sc
    left_out = [s for s in sc.filters["exclude_studies"] if s not in excluded]
    return dataclasses.replace(sc, filters={}, study_weights=dict.fromkeys(left_out, 0.0))


def scenario_words(sc: Scenario, spec: Spec) -> str:
    """What the scenario changes, in words a clinician reads (no parameter names)."""
    if sc.group == BASELINE:
        return "This analysis, as fitted"
    for name, prior in sc.priors.items():
        subject, plural = PRIOR_WORDS.get(name, (name, name))
        base = spec.priors[name]
        if prior.family == "halfcauchy" and base.family != "halfcauchy":
            return (
                f"Large differences between {plural} made more plausible (a heavy-tailed prior "
                f"on how much the {plural} differ)"
            )
        factor = prior_scale(prior) / prior_scale(base)
        width = {0.5: "half as wide", 2.0: "twice as wide"}.get(factor, f"{factor:g} times as wide")
        stance = "assumed more alike" if factor < 1 else "allowed to differ more"
        return f"{subject} {stance} (the prior on how much the {plural} differ {width})"
    favourable = "responded" if spec.filters.outcome == "response" else "survived"
    excluded = set(spec.filters.exclude_studies)
    named = [s for s in sc.filters.get("exclude_studies", ()) if s not in excluded]
    named += list(sc.study_weights)
    which = f" ({', '.join(named)})" if named else ""
    if sc.name == "no-small-series":
        return f"Series of fewer than {SMALL_SERIES} patients left out{which}"
    if sc.name == "downweight-small-extreme":
        return (
            f"Series of fewer than {DOWNWEIGHT_BELOW} patients in which every patient "
            f"{favourable} counted as half their size, since they may have been published for "
            f"their result{which}"
        )
    return sc.description


def reviewer_table(
    prepared: pipeline.Prepared,
    cells: list[tuple[str | None, str | None]],
    baseline_records: list[dict[str, Any]] | None = None,
    log: Log = _silent,
    baseline_converged: bool = True,
) -> list[dict[str, Any]]:
    """The table (rows with :data:`COLUMNS`) for the fit ``prepared`` and its ``cells``.

    ``baseline_records``: the fit's own summary records, used as the baseline rows (the
    baseline is then not fitted again; ``baseline_converged``: the fit's convergence verdict);
    without them the baseline is fitted with the others.
    """
    spec = prepared.request.spec
    scenarios = reviewer_scenarios(prepared)
    words = {s.name: scenario_words(s, spec) for s in scenarios}
    if baseline_records is not None:
        scenarios = [s for s in scenarios if s.group != BASELINE]
    result = run_sensitivity(prepared, scenarios, cells, log=log)
    rows = result.rows
    if baseline_records is not None:
        rows = _baseline_rows(baseline_records, cells, baseline_converged) + rows
    reference = {
        (r["etiology"], r["line"], r["quantity"]): r["q2.5"]
        for r in rows
        if r["scenario"] == BASELINE
    }
    out = []
    for r in rows:
        lower = r["q2.5"]
        base = reference.get((r["etiology"], r["line"], r["quantity"]))
        shown = r["status"] in ("ok", "not converged")
        out.append(
            {
                "scenario": r["scenario"],
                "group": r["group"],
                "change": r["description"],
                "in_words": words.get(r["scenario"], r["description"]),
                "etiology": r["etiology"],
                "line": r["line"],
                "quantity": r["quantity"],
                "mean": r["mean"] if shown else None,
                "lower": lower if shown else None,
                "upper": r["q97.5"] if shown else None,
                "lower_vs_baseline": (
                    lower - base if shown and base is not None and lower is not None else None
                ),
                "status": r["status"],
                "reason": r["reason"],
            }
        )
    return out


def _baseline_rows(
    records: list[dict[str, Any]], cells: list[tuple[str | None, str | None]], converged: bool
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
                    "scenario": BASELINE,
                    "group": BASELINE,
                    "description": "the fit itself",
                    "etiology": etiology,
                    "line": line,
                    "quantity": quantity,
                    "mean": rec["mean"],
                    "q2.5": rec["q2.5"],
                    "q97.5": rec["q97.5"],
                    "status": "ok" if converged else "not converged",
                    "reason": None if converged else "the fit failed its convergence gate",
                }
            )
    return rows


def reviewer_sensitivity(
    prepared: pipeline.Prepared,
    cells: list[tuple[str | None, str | None]],
    baseline_records: list[dict[str, Any]],
    baseline_converged: bool,
    log: Log = _silent,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """The table of a finished fit as the record a run folder keeps (``sensitivity.json``).

    ``baseline_records`` and ``baseline_converged``: the fit's summary records and verdict.
    The record holds the rows (:data:`COLUMNS`), the cells, every scenario (its priors,
    filters and study weights, or why it was not run), and what makes it reproducible: the
    data and units hashes, seed and sampler settings of the fit, the command and the time.
    Raises :class:`~hlhbayes.errors.HlhBayesError` for an exact (quadrature) fit: its
    scenarios would need MCMC, against a baseline that has none.
    """
    request = prepared.request
    if request.method != "mcmc":
        raise HlhBayesError(
            "the sensitivity table refits by MCMC: it is not made for --method exact "
            "(fit by MCMC for it)"
        )
    start = time.perf_counter()
    log(f"sensitivity: the reviewer's scenarios of {len(cells)} cell(s), in one batch")
    rows = reviewer_table(prepared, cells, baseline_records, log, baseline_converged)
    spec = request.spec
    scenarios = reviewer_scenarios(prepared)
    return {
        "model": spec.model,
        "outcome": spec.filters.outcome,
        "data_hash": prepared.data_hash,
        "units_hash": prepared.units.fingerprint(),
        "seed": request.seed,
        "sampler": dict(spec.sampler),
        "cells": [list(cell) for cell in cells],
        "columns": list(COLUMNS),
        "rows": rows,
        "scenarios": [
            {
                "name": s.name,
                "group": s.group,
                "change": s.description,
                "in_words": scenario_words(s, spec),
                "priors": {k: p.to_dict() for k, p in s.priors.items()},
                "filters": s.filters,
                "study_weights": s.study_weights,
                "skip": s.skip,
            }
            for s in scenarios
        ],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "seconds": round(time.perf_counter() - start, 1),
    }


def prepared_from_provenance(
    provenance: dict[str, Any], base: Any = None, where: str = "the fit"
) -> pipeline.Prepared:
    """A fit prepared again from its provenance record (nothing is sampled).

    ``base``: the evidence base of the fit when already loaded; ``where`` names the fit in
    messages (a run folder). Raises :class:`~hlhbayes.errors.HlhBayesError` when the record
    lacks what is needed, or when the units rebuilt from the current data are not the ones the
    fit saw.
    """
    try:
        spec = Spec.from_dict(provenance["model_spec"])
        data = Path(provenance["data_source"])
        seed = int(provenance["seed"])
    except (KeyError, TypeError, ValueError) as exc:
        raise HlhBayesError(f"{where}: its provenance lacks {exc}; refit") from None
    asked = provenance.get("cells") or {}
    request = pipeline.FitRequest(
        spec=spec,
        data=data,
        seed=seed,
        thresholds=spec.threshold_values(),
        method=str(provenance.get("method") or "mcmc"),
        table_columns=dict(provenance.get("table_columns") or {}),
        command=provenance.get("command"),
        etiologies=tuple(asked.get("etiologies") or ()),
        lines=tuple(asked.get("lines") or ()),
    )
    prepared = pipeline.prepare(request, base)
    fitted = provenance.get("units_hash")
    if fitted and prepared.units.fingerprint() != fitted:
        raise HlhBayesError(
            f"{where}: the evidence units rebuilt from the current data are not the ones "
            "fitted; refit"
        )
    return prepared


def add_to_run(
    path: Path,
    cells: list[tuple[str | None, str | None]],
    log: Log = _silent,
    command: list[str] | None = None,
    base: Any = None,
) -> dict[str, Any]:
    """Make the table of the run folder ``path`` for ``cells`` and store it there.

    The fit's own records are the baseline; its data, sampler settings and seed are every
    scenario's, so the table is the one ``fit`` would have stored. The run folder is held
    (its lock) from reading it to writing the table, so no fit replaces it in between.
    """
    with runs.reserve(Path(path)):
        run = runs.read_run(Path(path))
        prepared = prepared_from_provenance(run.provenance, base, str(run.path))
        records = run.summary["summary"]
        record = reviewer_sensitivity(prepared, cells, records, bool(run.converged), log, command)
        runs.add_sensitivity(Path(path), record)
    return record


def largest_shift(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The usable row (``ok``, not the baseline) whose new-centre lower bound moves most."""
    moved = [
        r
        for r in rows
        if r["scenario"] != BASELINE
        and r["status"] == "ok"
        and r["quantity"] == "rate_new"
        and r["lower_vs_baseline"] is not None
    ]
    return max(moved, key=lambda r: abs(r["lower_vs_baseline"]), default=None)


def compact_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per scenario and cell: both rates side by side (for a terminal table).

    Columns: ``scenario``, ``etiology``, ``line``, ``typical`` and ``typical 95%`` (a typical
    study), ``new`` and ``new 95%`` (a new study), ``new lower vs fit`` (how far the lower
    bound of the new-study rate moves), ``status``.
    """
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        key = (r["scenario"], r["etiology"], r["line"])
        row = out.setdefault(
            key,
            {
                "scenario": r["scenario"],
                "etiology": r["etiology"],
                "line": r["line"],
                "typical": None,
                "typical 95%": None,
                "new": None,
                "new 95%": None,
                "new lower vs fit": None,
                "status": r["status"],
            },
        )
        prefix = "typical" if r["quantity"] == "rate_typical" else "new"
        if r["mean"] is not None:
            row[prefix] = r["mean"]
            row[f"{prefix} 95%"] = f"[{r['lower']:.3f}, {r['upper']:.3f}]"
        if prefix == "new":
            row["new lower vs fit"] = r["lower_vs_baseline"]
    return list(out.values())
