"""What each estimate rests on: direct data, contraction from the prior, borrowing, sensitivity.

For every etiology x line cell (the one cell of a pooled model) the support of its estimate is

- the patients and studies with **direct data** on it, and those that **may** belong to it
  (strata of unknown composition, at their prior's expected share): :mod:`.counts`;
- the **contraction** of its logit from its hierarchical prior and the **share borrowed** from
  other cells: :mod:`.contraction`;

and for every hyperparameter its contraction and its **power-scaling prior sensitivity**
(:mod:`.power_scaling`). Flags and sentences come from :mod:`.words` alone.
:func:`estimate_support` works from a fit's DataTree (``posterior``, ``prior``,
``log_likelihood``; ``log_prior`` is added when missing) and its units, whichever sampler drew
it; :func:`exact_support` from the moments of a quadrature posterior. Both return the
``support`` block of ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.models import ModelDefinition
from hlhbayes.models.units import Units
from hlhbayes.priors import Prior
from hlhbayes.support import words
from hlhbayes.support.contraction import Ratio, borrowed_share, contraction
from hlhbayes.support.counts import CellCount, cell_counts
from hlhbayes.support.power_scaling import log_prior_dataset, prior_sensitivity, with_log_prior

ONE_CELL = "one pooled rate: nothing is borrowed between cells"
NO_DRAWS = "no posterior draws (exact method): power-scaling needs them"


def estimate_support(
    model: ModelDefinition,
    units: Units,
    options: Mapping[str, Any],
    priors: Mapping[str, Prior],
    tree: xr.DataTree,
    seed: int,
) -> dict[str, Any]:
    """The ``support`` block of a sampled fit (see the module docstring)."""
    posterior = tree["posterior"].to_dataset()
    prior = tree["prior"].to_dataset()
    post_logit = model.borrowing.typical_logit(posterior)
    prior_logit = model.borrowing.typical_logit(prior)
    reference = model.borrowing.borrowed_logit(posterior, np.random.default_rng([seed, 11]))
    counts = cell_counts(model, units, options)
    measured = {}
    for key in counts:
        etiology, line = key
        cell = {} if etiology is None else {"etiology": etiology, "line": line}
        borrowed = (
            Ratio(None, ONE_CELL)
            if reference is None
            else borrowed_share(post_logit.sel(cell), reference.sel(line=line))
        )
        measured[key] = (contraction(post_logit.sel(cell), prior_logit.sel(cell)), borrowed)
    sensitivity = {
        r["quantity"]: r
        for r in prior_sensitivity(
            with_log_prior(tree, priors, model.hyperparameters), model.hyperparameters
        )
    }
    hyper = {
        name: (contraction(posterior[name], prior[name]), sensitivity.get(name))
        for name in model.hyperparameters
    }
    return _block(model, counts, measured, hyper)


def exact_support(
    model: ModelDefinition,
    units: Units,
    options: Mapping[str, Any],
    priors: Mapping[str, Prior],
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """The ``support`` block of a quadrature fit: the variances are the exact posterior's.

    The one cell's logit is the model's location parameter; a prior without a finite variance
    (half-Cauchy) or a posterior moment that is not finite gives no contraction, with the reason.
    """
    sd = {r["quantity"]: r["sd"] for r in records}

    def exact_contraction(name: str) -> Ratio:
        prior_variance = priors[name].variance()
        if not np.isfinite(prior_variance):
            return Ratio(None, f"the prior {priors[name]} has no finite variance")
        if sd.get(name) is None:
            return Ratio(None, "the posterior standard deviation is not finite")
        return Ratio(1.0 - sd[name] ** 2 / prior_variance)

    counts = cell_counts(model, units, options)
    measured = {
        key: (exact_contraction(model.location_prior), Ratio(None, ONE_CELL)) for key in counts
    }
    hyper = {name: (exact_contraction(name), None) for name in model.hyperparameters}
    return _block(model, counts, measured, hyper)


def _block(
    model: ModelDefinition,
    counts: dict[tuple[str | None, str | None], CellCount],
    measured: dict[tuple[str | None, str | None], tuple[Ratio, Ratio]],
    hyper: dict[str, tuple[Ratio, dict[str, Any] | None]],
) -> dict[str, Any]:
    cells = []
    for key, count in counts.items():
        shrink, borrowed = measured[key]
        cell = {
            "etiology": count.etiology,
            "line": count.line,
            "direct_patients": round(count.direct_patients, 3),
            "direct_studies": count.direct_studies,
            "uncertain_patients": round(count.uncertain_patients, 3),
            "uncertain_studies": count.uncertain_studies,
            "contraction": _rounded(shrink.value),
            "borrowed": _rounded(borrowed.value),
        }
        other = None
        if count.line is not None:
            other_line = "later" if count.line == "first" else "first"
            other = counts[(count.etiology, other_line)].direct_patients
        cell["flags"] = words.cell_flags(cell)
        cell["words"] = words.cell_sentence(cell, other)
        cell["notes"] = [r.reason for r in (shrink, borrowed) if r.reason and r.reason != ONE_CELL]
        cells.append(cell)
    hyperparameters = []
    for name, (shrink, sensitivity) in hyper.items():
        record = {
            "quantity": name,
            "contraction": _rounded(shrink.value),
            "psense_prior": sensitivity["prior"] if sensitivity else None,
            "psense_likelihood": sensitivity["likelihood"] if sensitivity else None,
            "psense_diagnosis": sensitivity["diagnosis"] if sensitivity else None,
        }
        record["prior_dominated"] = (
            record["contraction"] is not None and record["contraction"] < words.PRIOR_DOMINATED
        )
        record["words"] = words.hyperparameter_sentence(
            record, model.borrowing.cannot_tell.get(name)
        )
        record["notes"] = [shrink.reason] if shrink.reason else []
        if sensitivity is None:
            record["notes"].append(NO_DRAWS)
        hyperparameters.append(record)
    return {
        "cells": cells,
        "hyperparameters": hyperparameters,
        "thresholds": {
            "prior_dominated_below": words.PRIOR_DOMINATED,
            "mostly_borrowed_above": words.MOSTLY_BORROWED,
            "psense": words.PSENSE_THRESHOLD,
        },
    }


SUPPORT_COLUMNS = [
    "direct_patients",
    "direct_studies",
    "uncertain_patients",
    "uncertain_studies",
    "contraction",
    "borrowed",
    "psense_prior",
    "psense_likelihood",
    "psense_diagnosis",
    "flags",
    "words",
]
"""The support fields added to each summary record in a table (``fit --format csv``)."""


def with_support(
    records: list[dict[str, Any]], support: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Each summary record with the support of its cell (a rate) or its hyperparameter.

    Fields a record has no value for are ``None``; ``flags`` is joined with ``, ``.
    """
    by_cell = {(c["etiology"], c["line"]): c for c in (support or {}).get("cells", [])}
    by_name = {h["quantity"]: h for h in (support or {}).get("hyperparameters", [])}
    out = []
    for record in records:
        quantity = record["quantity"]
        if quantity in by_name:
            found = by_name[quantity]
        else:  # a rate: its cell's support
            found = by_cell.get((record["etiology"], record["line"]))
        extra = {k: (found or {}).get(k) for k in SUPPORT_COLUMNS}
        if found is not None:
            extra["flags"] = ", ".join(found.get("flags") or [])
        out.append({**record, **extra})
    return out


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


__all__ = [
    "SUPPORT_COLUMNS",
    "estimate_support",
    "exact_support",
    "log_prior_dataset",
    "with_log_prior",
    "with_support",
]
