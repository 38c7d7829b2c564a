"""``fit`` as a library function: files, validated units, model, DataTree, summary, run folder.

Data flows one way. Everything is validated (data, spec, priors, filters, output path) before
any sampling starts; ``dry_run`` stops after the prior predictive check.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.evidence import load_evidence
from hlhbayes.models import get_model
from hlhbayes.models.spec import Spec
from hlhbayes.models.table import units_by_study, units_from_table
from hlhbayes.models.units import Units, build_units
from hlhbayes.provenance import provenance
from hlhbayes.summary import Diagnostics, diagnose, summarise, threshold_probabilities

METHODS = ("mcmc", "exact")
EXACT_TAU_FAMILIES = {"halfnormal": "sigma", "halfcauchy": "beta"}


@dataclass
class FitRequest:
    """Everything a fit needs besides the spec."""

    spec: Spec
    data: Path | None = None
    seed: int = 1
    thresholds: tuple[float, ...] = (0.5,)
    method: str = "mcmc"
    table_columns: dict[str, str | None] = field(default_factory=dict)
    progress: bool = False
    command: list[str] | None = None


@dataclass
class FitResult:
    """A finished fit: the DataTree (None for ``exact``), summaries and provenance."""

    model: str
    outcome: str
    idata: xr.DataTree | None
    records: list[dict[str, Any]]
    probabilities: list[dict[str, Any]]
    diagnostics: Diagnostics
    provenance: dict[str, Any]
    units: Units

    def summary_json(self) -> dict[str, Any]:
        """The ``summary.json`` contract (DESIGN section 4)."""
        return {
            "model": self.model,
            "outcome": self.outcome,
            "data_hash": self.provenance["data_hash"],
            "seed": self.provenance["seed"],
            "summary": self.records,
            "diagnostics": self.diagnostics.as_dict(),
        }


@dataclass
class Prepared:
    """A validated fit, ready to sample."""

    request: FitRequest
    module: Any
    units: Units
    data_hash: str
    data_source: str


def prepare(request: FitRequest) -> Prepared:
    """Validate data, filters, priors and options; encode the units. Samples nothing."""
    spec = request.spec
    module = get_model(spec.model)
    if request.method not in METHODS:
        raise ValueError(f"unknown method {request.method!r}; valid: {', '.join(METHODS)}")
    if request.method == "exact":
        if spec.model != "random-effects":
            raise ValueError("--method exact is available for --model random-effects only")
        if spec.priors["tau"].family not in EXACT_TAU_FAMILIES:
            raise ValueError(
                f"--method exact supports tau priors {', '.join(EXACT_TAU_FAMILIES)}; "
                f"got {spec.priors['tau'].family}"
            )
    wants_nutpie = request.method == "mcmc" and spec.sampler.get("sampler") == "nutpie"
    if wants_nutpie and importlib.util.find_spec("nutpie") is None:
        raise ValueError(
            "--sampler nutpie: nutpie is not installed; install it with "
            "`.venv/bin/pip install nutpie` (or the extra: pip install 'hlhbayes[nutpie]')"
        )
    for t in request.thresholds:
        if not 0 < t < 1:
            raise ValueError(f"--threshold must lie strictly between 0 and 1, got {t}")
    data = request.data
    # anything but a folder is a table: a named pipe or device is then refused by its reader
    table = data is not None and data.exists() and not data.is_dir()
    if spec.model == "random-effects" and table:
        units = units_from_table(data, **request.table_columns)
        import hashlib

        return Prepared(
            request, module, units, hashlib.sha256(data.read_bytes()).hexdigest(), str(data)
        )
    base = load_evidence(data)
    if spec.model == "random-effects":
        units = units_by_study(base, spec.filters)
    else:
        units = build_units(base, spec.filters)
    return Prepared(request, module, units, base.content_hash, str(base.root))


def prior_check(prepared: Prepared) -> dict[str, Any]:
    """Prior predictive summary for a dry run: prior quantiles of every reported quantity."""
    from hlhbayes.inference import sample_prior

    prior = sample_prior(
        prepared.module, prepared.units, prepared.request.spec, prepared.request.seed
    )
    ds = prior["prior"].to_dataset()
    out: dict[str, Any] = {}
    for name in (*prepared.module.HYPERPARAMETERS, "rate_typical", "rate_new"):
        da = ds[name]
        out[name] = da.quantile([0.025, 0.5, 0.975], dim=("chain", "draw"))
    predictive = prior["prior_predictive"].to_dataset()
    observed = {
        "events": int(prepared.units.pat_y.sum() + prepared.units.agg_events.sum()),
        "predicted_events_95": [
            float(np.quantile(_total_events(predictive), q)) for q in (0.025, 0.5, 0.975)
        ],
    }
    return {"quantiles": out, "events": observed}


def _total_events(predictive: xr.Dataset) -> np.ndarray:
    total = 0
    for name in predictive.data_vars:
        da = predictive[name]
        total = total + da.sum([d for d in da.dims if d not in ("chain", "draw")])
    return np.asarray(total).ravel()


def run_fit(prepared: Prepared, log: Callable[[str], None] = lambda _m: None) -> FitResult:
    """Sample (or integrate, for ``exact``) and summarise."""
    request = prepared.request
    spec = request.spec
    if request.method == "exact":
        records, probabilities, diagnostics = _exact(prepared)
        idata = None
    else:
        from hlhbayes.inference import sample_posterior

        idata = sample_posterior(
            prepared.module, prepared.units, spec, request.seed, request.progress, log
        )
        posterior = idata["posterior"].to_dataset()
        records = summarise(posterior, prepared.module.HYPERPARAMETERS)
        diagnostics = diagnose(idata, records)
        probabilities = threshold_probabilities(posterior, request.thresholds)
    prov = provenance(
        data_hash=prepared.data_hash,
        data_source=prepared.data_source,
        spec=spec.to_dict(),
        seed=request.seed,
        method=request.method,
        units=prepared.units.describe(),
        excluded=prepared.units.excluded,
        command=request.command,
    )
    if Path(prepared.data_source).is_file():  # a user table: record how its columns were read
        prov["table_columns"] = request.table_columns
    return FitResult(
        spec.model,
        spec.filters.outcome,
        idata,
        records,
        probabilities,
        diagnostics,
        prov,
        prepared.units,
    )


def _exact(prepared: Prepared) -> tuple[list, list, Diagnostics]:
    from hlhbayes.exact import random_effects_exact

    spec = prepared.request.spec
    units = prepared.units
    mu, tau = spec.priors["mu"], spec.priors["tau"]
    post = random_effects_exact(
        units.agg_events,
        units.agg_total,
        mu_mean=mu.params["mu"],
        mu_sd=mu.params["sigma"],
        tau_family=tau.family,
        tau_scale=tau.params[EXACT_TAU_FAMILIES[tau.family]],
    )
    records = []
    for rec in post.summary():
        records.append(
            {
                "quantity": rec["quantity"],
                "etiology": None,
                "line": None,
                **{k: v for k, v in rec.items() if k != "quantity"},
                "mcse_mean": None,
                "ess_bulk": None,
                "r_hat": None,
            }
        )
    probabilities = [
        {
            "quantity": q,
            "etiology": None,
            "line": None,
            "threshold": t,
            "probability": post.prob_above(q, t),
        }
        for q in ("rate_typical", "rate_new")
        for t in prepared.request.thresholds
    ]
    return records, probabilities, Diagnostics(None, None, 0, True)
