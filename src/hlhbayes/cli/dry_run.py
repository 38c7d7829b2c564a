"""``fit --dry-run --format json|csv``: what a dry run prints, as data for scripts."""

from __future__ import annotations

from typing import Any


def dry_run_payload(
    prepared: Any, header: str, sensitivity_refits: list[str] | None = None
) -> dict[str, Any]:
    """The model, priors, filters, units, sampler and prior predictive of a prepared fit.

    ``sensitivity_refits``: the scenarios the fit's sensitivity table would refit (None: no
    table, under ``sensitivity`` as null).

    Prior quantiles are listed per quantity, with one entry per cell (``etiology``, ``line``
    where the quantity has them) and ``q2.5``, ``q50``, ``q97.5``: the 95% interval policy.
    """
    from hlhbayes import pipeline

    spec = prepared.request.spec
    units = prepared.units
    payload: dict[str, Any] = {
        "dry_run": True,
        "summary": header,
        "model": spec.model,
        "spec": str(spec.source) if spec.source else None,
        "priors": {name: str(prior) for name, prior in spec.priors.items()},
        "options": dict(spec.options),
        "filters": {
            "outcome": spec.filters.outcome,
            "population": spec.filters.population,
            "conditions": list(spec.filters.conditions),
            "exclude_studies": list(spec.filters.exclude_studies),
            "exclude_derived": spec.filters.exclude_derived,
        },
        "dims": {
            "study": len(units.studies),
            "patient": len(units.pat_ids),
            "stratum": len(units.agg_ids),
        },
        "left_out": dict(sorted({**units.excluded, **units.left_out}.items())),
        "sampler": dict(spec.sampler),
        "sensitivity": None
        if sensitivity_refits is None
        else {"refitted_scenarios": list(sensitivity_refits)},
        "data_hash": prepared.data_hash,
    }
    if prepared.request.method == "exact":
        return payload
    check = pipeline.prior_check(prepared)
    payload["prior_predictive"] = {
        name: _quantile_rows(q) for name, q in check["quantiles"].items()
    }
    lo, mid, hi = check["events"]["predicted_events_95"]
    payload["events"] = {
        "observed": check["events"]["events"],
        "prior_predictive": {"q2.5": lo, "q50": mid, "q97.5": hi},
    }
    return payload


def _quantile_rows(q: Any) -> list[dict[str, Any]]:
    """One row per cell of an xarray of quantiles (dim ``quantile`` first)."""
    frame = q.to_dataframe(name="value").reset_index()
    cells = [c for c in frame.columns if c not in ("quantile", "value")]
    rows = []
    for key, group in frame.groupby(cells, sort=False) if cells else [((), frame)]:
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(cells, key, strict=True))
        for label, value in zip(("q2.5", "q50", "q97.5"), group["value"], strict=True):
            row[label] = float(value)
        rows.append(row)
    return rows
