"""``fit`` as a library function: files, validated units, model, DataTree, summary.

Data flows one way. Everything is validated (data, spec, priors, filters, cells, method) before
any sampling starts; :func:`prior_check` is the dry run's prior predictive check. The run folder
is written by :func:`hlhbayes.runs.write_run`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import EvidenceBase, load_evidence
from hlhbayes.models import MODELS, ModelDefinition, get_model, select_cells
from hlhbayes.models.spec import Spec
from hlhbayes.models.table import table_hash, units_from_table
from hlhbayes.models.units import Units
from hlhbayes.provenance import provenance
from hlhbayes.summary import Diagnostics, diagnose, summarise, threshold_probabilities

METHODS = ("mcmc", "exact")


@dataclass
class FitRequest:
    """Everything a fit needs besides the spec."""

    spec: Spec
    data: Path | None = None
    seed: int = 1
    thresholds: tuple[float, ...] = (0.5,)
    method: str = "mcmc"
    table_columns: dict[str, str | None] = field(default_factory=dict)
    command: list[str] | None = None
    etiologies: tuple[str, ...] = ()  # the cells asked for (recorded; empty: all)
    lines: tuple[str, ...] = ()


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
    support: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    sensitivity: dict[str, Any] | None = None
    """The sensitivity table of the fit, once made (``hlhbayes.living.reviewer``)."""

    def summary_json(self) -> dict[str, Any]:
        """The ``summary.json`` contract (DESIGN section 4), with two additive keys.

        ``support``: what each estimate rests on (:mod:`hlhbayes.support`); ``notes``: one line
        per summary the method could not compute (only when there is one).
        """
        out = {
            "model": self.model,
            "outcome": self.outcome,
            "data_hash": self.provenance["data_hash"],
            "seed": self.provenance["seed"],
            "summary": self.records,
            "diagnostics": self.diagnostics.as_dict(),
        }
        if self.support is not None:
            out["support"] = self.support
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def summary_table(self, records: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """``records`` (default: every record) each with what its estimate rests on.

        The rows of ``summary.csv`` and of ``fit --format csv``: the summary columns
        (``hlhbayes.runs.SUMMARY_COLUMNS``), then ``hlhbayes.support.SUPPORT_COLUMNS`` (empty
        where the fit has no support block).
        """
        from hlhbayes.runs import SUMMARY_COLUMNS
        from hlhbayes.support import SUPPORT_COLUMNS, with_support

        rows = with_support(self.records if records is None else records, self.support)
        return [{k: row.get(k) for k in (*SUMMARY_COLUMNS, *SUPPORT_COLUMNS)} for row in rows]


@dataclass
class Prepared:
    """A validated fit, ready to sample, with the evidence base it was read from.

    ``base`` is ``None`` for a fit to a user's table.
    """

    request: FitRequest
    model: ModelDefinition
    units: Units
    data_hash: str
    data_source: str
    base: EvidenceBase | None = None


def prepare(request: FitRequest, base: EvidenceBase | None = None) -> Prepared:
    """Validate data, filters, priors, cells and options; encode the units. Samples nothing.

    ``base``: the evidence base of ``request.data`` when already loaded (it is not read again).
    """
    spec = request.spec
    model = get_model(spec.model)
    if request.method not in METHODS:
        raise HlhBayesError(f"unknown method {request.method!r}; valid: {', '.join(METHODS)}")
    select_cells(model, request.etiologies, request.lines)
    if request.method == "exact":
        if model.exact is None:
            exact = ", ".join(name for name, m in MODELS.items() if m.exact is not None)
            raise HlhBayesError(f"--method exact is available for --model {exact} only")
        model.exact.check(spec.priors)
    wants_nutpie = request.method == "mcmc" and spec.sampler.get("sampler") == "nutpie"
    if wants_nutpie and importlib.util.find_spec("nutpie") is None:
        raise HlhBayesError(
            "--sampler nutpie: nutpie is not installed; install it with "
            "`.venv/bin/pip install nutpie` (or the extra: pip install 'hlhbayes[nutpie]')"
        )
    for t in request.thresholds:
        if not 0 < t < 1:
            raise HlhBayesError(f"--threshold must lie strictly between 0 and 1, got {t}")
    data = request.data
    # anything but a folder is a table: a named pipe or device is then refused by its reader
    table = data is not None and data.exists() and not data.is_dir()
    if model.one_count_per_study and table:
        units = units_from_table(data, **request.table_columns)
        return Prepared(request, model, units, table_hash(data), str(data))
    if base is None:
        base = load_evidence(data)
    units = model.units(base, spec.filters)
    return Prepared(request, model, units, base.content_hash, str(base.root), base)


def prior_check(prepared: Prepared) -> dict[str, Any]:
    """Prior predictive summary for a dry run: prior quantiles of every reported quantity."""
    from hlhbayes.inference import sample_prior

    prior = sample_prior(
        prepared.model, prepared.units, prepared.request.spec, prepared.request.seed
    )
    ds = prior["prior"].to_dataset()
    out: dict[str, Any] = {}
    for name in (*prepared.model.hyperparameters, "rate_typical", "rate_new"):
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
    """Sample (or integrate, for ``exact``), summarise, and say what each estimate rests on.

    A sampled fit's DataTree gains a ``log_prior`` group (the hyperparameters' log prior per
    draw, computed from the posterior: :mod:`hlhbayes.support.power_scaling`).
    """
    from hlhbayes import support

    request = prepared.request
    spec = request.spec
    model = prepared.model
    if request.method == "exact":
        assert model.exact is not None  # checked by prepare
        records, probabilities, notes = model.exact.summarise(
            prepared.units, spec.priors, request.thresholds
        )
        rests_on = support.exact_support(model, prepared.units, spec.options, spec.priors, records)
        diagnostics = Diagnostics(None, None, 0, True)
        return _result(prepared, None, records, probabilities, diagnostics, rests_on, notes)
    from hlhbayes.inference import sample_posterior

    idata = sample_posterior(model, prepared.units, spec, request.seed, log)
    return _mcmc_result(prepared, idata)


def run_fits(
    prepared: list[Prepared], log: Callable[[str], None] = lambda _m: None
) -> list[FitResult]:
    """Several MCMC fits of one model (other units, other priors) through one compiled program.

    The fits must share the model, its options and the sampler settings (those of the first).
    Each result is what :func:`run_fit` gives for it (the same DataTree groups), in distribution.
    """
    from hlhbayes.inference import Scenario, sample_scenarios

    first = prepared[0]
    scenarios = [Scenario(str(i), p.units, p.request.spec.priors) for i, p in enumerate(prepared)]
    fits = sample_scenarios(
        first.model, scenarios, first.request.spec, first.request.seed, log, full=True
    )
    return [_mcmc_result(p, fit.tree) for p, fit in zip(prepared, fits, strict=True)]


def _mcmc_result(prepared: Prepared, idata: xr.DataTree) -> FitResult:
    """Finish a sampled tree (:func:`hlhbayes.datatree.conform`, the log prior) and summarise."""
    from hlhbayes import support
    from hlhbayes.datatree import conform

    request, spec, model = prepared.request, prepared.request.spec, prepared.model
    idata = support.with_log_prior(conform(idata), spec.priors, model.hyperparameters)
    posterior = idata["posterior"].to_dataset()
    records = summarise(posterior, model.hyperparameters)
    diagnostics = diagnose(posterior, idata["sample_stats"].to_dataset(), records)
    probabilities = threshold_probabilities(posterior, request.thresholds)
    rests_on = support.estimate_support(
        model, prepared.units, spec.options, spec.priors, idata, request.seed
    )
    return _result(prepared, idata, records, probabilities, diagnostics, rests_on, [])


def _result(
    prepared: Prepared,
    idata: xr.DataTree | None,
    records: list[dict[str, Any]],
    probabilities: list[dict[str, Any]],
    diagnostics: Diagnostics,
    rests_on: dict[str, Any] | None,
    notes: list[str],
) -> FitResult:
    request, spec = prepared.request, prepared.request.spec
    prov = provenance(
        data_hash=prepared.data_hash,
        data_source=prepared.data_source,
        spec=spec.to_dict(),
        seed=request.seed,
        method=request.method,
        units=prepared.units.describe(),
        excluded=prepared.units.excluded,
        command=request.command,
        cells={"etiologies": list(request.etiologies), "lines": list(request.lines)},
    )
    # what the fit saw, whole and per study: update refits only when these change
    prov["units_hash"] = prepared.units.fingerprint()
    prov["study_hashes"] = {s: prepared.units.fingerprint(s) for s in prepared.units.studies}
    if prepared.base is None:  # a user table: record how its columns were read
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
        rests_on,
        notes,
    )


def records_of_cells(
    result: FitResult, etiologies: tuple[str, ...] = (), lines: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The summary records of the cells asked for (default all), with those of no cell."""
    cells = set(select_cells(get_model(result.model), etiologies, lines))
    return [
        r
        for r in result.records
        if (r["etiology"] is None and r["line"] is None) or (r["etiology"], r["line"]) in cells
    ]
