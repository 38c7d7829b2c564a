"""The report's tables as plain data: a title, column names and rows of cells.

A cell is a string or a list of links (``{"text": ..., "href": ...}``); a row may carry a
class (``group`` for patient groups under their study, ``flag`` for a row that needs a look).
Both templates (HTML and Markdown) render any table the same way, and the tests count rows.
"""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from hlhbayes.evidence.schema import TIMEFRAME_WORDS, TIMEFRAMES
from hlhbayes.models.units import MODEL_ETIOLOGIES
from hlhbayes.priors import Prior
from hlhbayes.reporting import precision
from hlhbayes.reporting.escape import safe_href
from hlhbayes.reporting.estimates import EvidenceRow
from hlhbayes.reporting.loading import CheckedRun
from hlhbayes.reporting.plain import QUANTITY_WORDS
from hlhbayes.summary import MAX_R_HAT, MIN_ESS_BULK

CONDITION_LABELS = {
    "classic_shlh": "classic sHLH",
    "mas": "MAS in rheumatic disease",
    "sepsis_mas": "sepsis with MAS features",
    "covid_shlh": "COVID-19 sHLH",
}


def make_table(
    table_id: str,
    title: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    note: str | None = None,
    numeric: tuple[int, ...] = (),
) -> dict[str, Any]:
    """A table: ``rows`` are ``{"cells": [...], "cls": str | None}``."""
    return {
        "id": table_id,
        "title": title,
        "columns": columns,
        "rows": rows,
        "note": note,
        "numeric": list(numeric),
    }


def row(cells: list[Any], cls: str | None = None) -> dict[str, Any]:
    """One table row."""
    return {"cells": cells, "cls": cls}


def f3(x: float | None) -> str:
    """Three decimals (empty for missing)."""
    return "" if x is None or not np.isfinite(x) else f"{x:.3f}"


def interval(lo: float, hi: float, digits: int = 3) -> str:
    """``[lo, hi]``."""
    return f"[{lo:.{digits}f}, {hi:.{digits}f}]"


def study_links(study) -> list[dict[str, str]]:
    """Where to read a study: its DOI, PubMed and own page as links, a mirror only as text.

    A cell item is a link (``text``, ``href``; ``host``: the link's text is its host, so print
    shows the address) or a label with an address that is never a link (``text``, ``address``):
    the ``read_at`` copy where the figures were read (a mirror, proxy or aggregator), shown so
    that a check can go back to it, but not offered as the source.
    """
    links = []
    if study.doi:
        links.append({"text": f"doi:{study.doi}", "href": f"https://doi.org/{study.doi}"})
    if study.pmid:
        links.append(
            {"text": f"PMID {study.pmid}", "href": f"https://pubmed.ncbi.nlm.nih.gov/{study.pmid}/"}
        )
    if study.url:
        links.append({"text": web_host(study.url), "href": study.url, "host": "yes"})
    if study.read_at:
        links.append({"text": "figures read at", "address": safe_href(study.read_at)})
    return links


def web_host(url: str) -> str:
    """The host of an address, without ``www.`` (``link.springer.com``)."""
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


def evidence_table(run: CheckedRun, rows: list[EvidenceRow]) -> dict[str, Any]:
    """Each study of the fit (and its patient groups) with its counts and where to read it."""
    outcome = run.outcome
    if run.base is None:
        return make_table(
            "evidence",
            "Evidence table",
            ["Study", "n", "Events", "Observed rate [95% exact]"],
            [
                row([r.study, str(r.total), str(r.events), _observed(r)])
                for r in rows
                if r.group is None
            ],
            note=f"The table fitted: {run.table_path}.",
            numeric=(1, 2, 3),
        )
    out = []
    for r in rows:
        if r.group is not None:
            out.append(
                row(
                    [
                        f"↳ {r.group}",
                        "individual patients",
                        "",
                        "",
                        str(r.total),
                        str(r.events),
                        _observed(r),
                        r.derived,
                        [],
                    ],
                    "group",
                )
            )
            continue
        s = run.base.studies[r.study].study
        out.append(
            row(
                [
                    r.study,
                    s.design,
                    s.population,
                    CONDITION_LABELS.get(s.condition, s.condition),
                    str(r.total),
                    str(r.events),
                    _observed(r),
                    r.derived,
                    study_links(s),
                ]
            )
        )
    n_groups = sum(r.group is not None for r in rows)
    note = (
        f"{len(rows) - n_groups} studies; outcome {outcome}. "
        + (
            f"{n_groups} rows marked ↳ group one study's individual patients by etiology and "
            "line (a patient with several triggers is in the group of that combination, e.g. "
            "infection + malignancy). "
            if n_groups
            else ""
        )
        + "Derived: whether a count was computed by us from other figures rather than printed. "
        'Source: the DOI, PubMed and the study\'s own page; "figures read at" names a copy '
        "(a mirror, proxy or aggregator) where the figures were read, kept for checking and "
        "not linked."
    )
    return make_table(
        "evidence",
        "Evidence table",
        [
            "Study",
            "Design",
            "Population",
            "Condition",
            "n",
            "Events",
            "Observed rate [95% exact]",
            "Derived",
            "Source",
        ],
        out,
        note=note,
        numeric=(4, 5, 6),
    )


def _observed(r: EvidenceRow) -> str:
    lo, hi = r.exact_interval
    return f"{r.observed:.2f} {interval(lo, hi, 2)}"


def definitions_table(run: CheckedRun) -> dict[str, Any]:
    """How each study in the fit defined the outcome."""
    assert run.base is not None
    out = []
    for sid in run.units.studies:
        record = run.base.studies[sid]
        detail = run.detail_units or run.units
        fitted = set(detail.agg_ids)  # strata a filter left out (a timeframe, say) are not shown
        strata = [s for s in record.strata if f"{sid}/{s.id}" in fitted]
        codes = sorted({s.definition for s in strata})
        if sid in {p.split("#")[0] for p in detail.pat_ids}:
            codes.append("per-patient table")
        if run.outcome == "response":
            stated = record.study.response_definition or "not stated"
        else:
            frames = {s.timeframe for s in strata}
            if "per-patient table" in codes:
                frames.add(record.study.patient_death_timeframe)
            words = [TIMEFRAME_WORDS[f] for f in TIMEFRAMES if f in frames]
            stated = ", ".join(words) or "timeframe not stated"
        out.append(row([sid, ", ".join(codes), stated]))
    return make_table(
        "definitions",
        "Outcome definitions",
        ["Study", "Definition (coded)", "As the study states it"],
        out,
    )


def excluded_table(run: CheckedRun) -> dict[str, Any]:
    """What the fit left out, with the reason.

    The studies of the evidence base left out, then the strata (or patient rows) that a filter
    left out of studies otherwise in the fit.
    """
    excluded = run.provenance.get("excluded_studies") or {}
    units = (run.provenance.get("units") or {}).get("left_out") or {}
    return make_table(
        "excluded",
        "Studies and strata left out",
        ["Study", "Reason"],
        [row([sid, reason]) for sid, reason in [*sorted(excluded.items()), *sorted(units.items())]],
    )


def priors_table(run: CheckedRun) -> dict[str, Any]:
    """Every prior as used by the fit (from its provenance)."""
    priors = run.provenance["model_spec"]["priors"]
    return make_table(
        "priors",
        "Priors as used",
        ["Parameter", "Prior", "Meaning"],
        [
            row([name, str(Prior.from_dict(p)), run.model.text.parameters.get(name, "")])
            for name, p in priors.items()
        ],
    )


def sampler_table(run: CheckedRun) -> dict[str, Any]:
    """Sampler settings, seed and options of the fit."""
    spec = run.provenance["model_spec"]
    s = spec["sampler"]
    items = [
        ("sampler", f"{s.get('sampler', 'pymc')} NUTS"),
        ("chains", str(s["chains"])),
        ("draws per chain", str(s["draws"])),
        ("tuning steps per chain", str(s["tune"])),
        ("target_accept", str(s["target_accept"])),
        ("seed", str(run.provenance["seed"])),
    ]
    items += [(f"option {k}", str(v)) for k, v in (spec.get("options") or {}).items()]
    return make_table(
        "sampler", "Sampler settings", ["Setting", "Value"], [row(list(i)) for i in items]
    )


def results_table(
    run: CheckedRun, cells: list[tuple[str | None, str | None]], thresholds: tuple[float, ...]
) -> dict[str, Any]:
    """Both rates per cell: mean (with its MC error), median, 95% interval, P(rate > t).

    Every number is ``summary.json``'s (what ``fit`` printed), to no more decimals than its
    Monte Carlo error supports (:mod:`hlhbayes.reporting.precision`; at most three).
    """
    records = {(r["quantity"], r["etiology"], r["line"]): r for r in run.summary["summary"]}
    posterior = run.idata["posterior"].to_dataset()
    out = []
    for e, ln in cells:
        for q in ("rate_typical", "rate_new"):
            rec = records[(q, e, ln)]
            draws = cell_draws(posterior, q, e, ln)
            error = float(rec.get("mcse_mean") or precision.mean_error(draws))
            low_error, high_error = precision.interval_errors(draws)
            probs = [
                _share(float((draws > t).mean()), precision.share_error(draws, t))
                for t in thresholds
            ]
            out.append(
                row(
                    [
                        e or "all",
                        ln or "all",
                        QUANTITY_WORDS[q],
                        _to_error(rec["mean"], error),
                        f"{error:.1g}",
                        _to_error(rec["q50"], precision.quantile_error(draws, 0.5)),
                        f"[{_to_error(rec['q2.5'], low_error)}, "
                        f"{_to_error(rec['q97.5'], high_error)}]",
                        *probs,
                    ]
                )
            )
    what = "response" if run.outcome == "response" else "death"
    return make_table(
        "results",
        f"Estimated {what} rates",
        [
            "Trigger",
            "Line",
            "Rate",
            "Mean",
            "MC error",
            "Median",
            "95% interval",
            *(f"P(rate > {t:g})" for t in thresholds),
        ],
        out,
        note=(
            "Each number is printed to no more decimals than its Monte Carlo error supports "
            "(the unit of its last digit is at least that error), so a rerun on another "
            "computer moves it by about one unit of its last digit at most."
        ),
        numeric=tuple(range(3, 7 + len(thresholds))),
    )


def _share(probability: float, error: float) -> str:
    """A probability to its Monte Carlo error; one that rounds to 0 or 1 but is not says so."""
    places = precision.decimals(error, most=3, least=1)
    text = precision.rounded(probability, places)
    if float(text) >= 1 and probability < 1:
        return f">{1 - 10**-places:.{places}f}"
    if float(text) <= 0 and probability > 0:
        return f"<{10**-places:.{places}f}"
    return text


def _to_error(value: float, error: float) -> str:
    """``value`` to no more decimals than its Monte Carlo ``error`` (at most three)."""
    return precision.rounded(value, precision.decimals(error, most=3, least=0))


def cell_draws(posterior, quantity: str, etiology: str | None, line: str | None) -> np.ndarray:
    """The draws of one rate of one cell, as ``(chain, draw)``."""
    da = posterior[quantity]
    if etiology is not None:
        da = da.sel(etiology=etiology, line=line)
    return np.asarray(da.transpose("chain", "draw").values)


def hyperparameter_table(run: CheckedRun) -> dict[str, Any]:
    """Posterior of the hyperparameters (mean, median, 95% interval)."""
    names = run.model.hyperparameters
    meaning = run.model.text.parameters
    records = [r for r in run.summary["summary"] if r["quantity"] in names]
    return make_table(
        "hyperparameters",
        "Hyperparameters",
        ["Parameter", "Meaning", "Mean", "Median", "95% interval"],
        [
            row(
                [
                    r["quantity"],
                    meaning.get(r["quantity"], ""),
                    f3(r["mean"]),
                    f3(r["q50"]),
                    interval(r["q2.5"], r["q97.5"]),
                ]
            )
            for r in records
        ],
        numeric=(2, 3, 4),
    )


def diagnostics_table(
    run: CheckedRun, cells: list[tuple[str | None, str | None]]
) -> dict[str, Any]:
    """R-hat, bulk and tail ESS and MCSE of the hyperparameters and reported rates.

    The worst values of all other parameters form one more row; rows failing the gate are flagged.
    """
    import arviz as az

    posterior = run.idata["posterior"].to_dataset()
    names = [*run.model.hyperparameters, "rate_typical", "rate_new"]
    others = [v for v in posterior.data_vars if v not in names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = az.rhat(posterior)
        bulk = az.ess(posterior, method="bulk")
        tail = az.ess(posterior, method="tail")
        mcse = az.mcse(posterior, method="mean")
    out = []

    def add(label: str, r: float, b: float, t: float, m: str) -> None:
        bad = not (r <= MAX_R_HAT and b >= MIN_ESS_BULK)
        out.append(row([label, f3(r), f"{b:.0f}", f"{t:.0f}", m], "flag" if bad else None))

    for name in run.model.hyperparameters:
        add(name, float(rhat[name]), float(bulk[name]), float(tail[name]), f3(float(mcse[name])))
    for e, ln in cells:
        for q in ("rate_typical", "rate_new"):
            sel = {} if e is None else {"etiology": e, "line": ln}
            label = q if e is None else f"{q}[{e}, {ln}]"
            add(
                label,
                float(rhat[q].sel(sel)),
                float(bulk[q].sel(sel)),
                float(tail[q].sel(sel)),
                f3(float(mcse[q].sel(sel))),
            )
    if others:
        add(
            f"all other parameters ({', '.join(others)}): worst",
            max(float(np.nanmax(rhat[v].values)) for v in others),
            min(float(np.nanmin(bulk[v].values)) for v in others),
            min(float(np.nanmin(tail[v].values)) for v in others),
            "",
        )
    return make_table(
        "diagnostics",
        "Convergence diagnostics",
        ["Quantity", "R-hat", "Bulk ESS", "Tail ESS", "MCSE of mean"],
        out,
        note=(
            f"The gate: every R-hat <= {MAX_R_HAT}, every bulk ESS >= {MIN_ESS_BULK} and no "
            "divergent transition. Rows that fail it are highlighted."
        ),
        numeric=(1, 2, 3, 4),
    )


def cells_in_order(etiologies: list[str], lines: list[str]) -> list[tuple[str, str]]:
    """Etiology x line cells in the models' order."""
    es = [e for e in MODEL_ETIOLOGIES if e in etiologies]
    return [(e, ln) for e in es for ln in ("first", "later") if ln in lines]
