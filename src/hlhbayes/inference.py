"""Sampling a model to an ``xarray.DataTree`` with every group a report needs.

The one place that runs a sampler. Three samplers (``sampler`` in the spec, ``--sampler``):

* ``compiled`` (default): the compiled engine (:mod:`hlhbayes.engine`): the model's graph
  exported once per structure to one XLA program, every later fit run without PyMC. A model
  that does not provide :class:`~hlhbayes.models.base.CompiledForm` is sampled with PyMC's
  NUTS instead (one line says so);
* ``pymc``: PyMC's own NUTS, the fallback and the cross-check;
* ``nutpie``: nutpie through PyMC, when installed.

:func:`sample_posterior` gives the groups ``posterior`` (parameters plus ``rate_typical`` /
``rate_new``), ``sample_stats``, ``prior`` (with the same quantities), ``prior_predictive``,
``posterior_predictive``, ``log_likelihood`` (pointwise, per evidence unit) and
``observed_data``, all assembled by :func:`complete_tree`; :func:`sample_prior` the prior
groups alone (a dry run). :func:`sample_scenarios` fits many variants of one analysis (subsets
of its units, other prior parameters) through one compiled program per model structure
(``cumulative``, ``sensitivity``, ``update``), each with its own convergence verdict and
automatic re-runs of the ones that fail it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes import interrupts
from hlhbayes.models.base import ModelDefinition, supports_compiled
from hlhbayes.models.spec import Spec
from hlhbayes.models.units import Units
from hlhbayes.priors import Prior
from hlhbayes.progress import Heartbeat, SamplingProgress
from hlhbayes.special import binomial_logpmf

PRIOR_DRAWS = 1000
SAMPLERS = ("compiled", "pymc", "nutpie")
SCENARIO_CHUNK = 4
"""Scenarios a multi-fit command samples per program call (one progress line each): every
chunk runs in the same compiled program, sized for this many scenarios."""
Log = Callable[[str], None]


def _silent(_message: str) -> None:
    return None


def sampler_for(model: ModelDefinition, spec: Spec, log: Log = _silent) -> str:
    """The sampler a fit of ``model`` with ``spec`` uses (see the module docstring)."""
    sampler = str(spec.sampler.get("sampler", "compiled"))
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; valid: {', '.join(SAMPLERS)}")
    if sampler == "compiled" and not supports_compiled(model):
        log(
            f"note: {model.name} does not provide the compiled engine's data contract "
            "(models/base.py, CompiledForm): sampling with PyMC's NUTS"
        )
        return "pymc"
    return sampler


def engine_settings(spec: Spec) -> Any:
    """The spec's sampler settings for the compiled engine."""
    from hlhbayes.engine import SamplerSettings

    s = spec.sampler
    return SamplerSettings(
        chains=int(s["chains"]),
        draws=int(s["draws"]),
        tune=int(s["tune"]),
        target_accept=float(s["target_accept"]),
    )


def sample_prior(
    model: ModelDefinition, units: Units, spec: Spec, seed: int, log: Log = _silent
) -> xr.DataTree:
    """Prior and prior predictive draws (no MCMC), with the derived quantities."""
    if sampler_for(model, spec) == "compiled":
        from hlhbayes import engine
        from hlhbayes.models.compiled import compiled_inputs

        inputs = compiled_inputs(model, units, spec.priors, spec.options)
        prior = engine.sample_prior(
            inputs.model,
            inputs.data,
            draws=PRIOR_DRAWS,
            seed=seed,
            coords=inputs.coords,
            log=log,
        ).prior
    else:
        prior = _pymc_prior(model.build(units, spec.priors, spec.options), seed)
    return complete_tree(model, units, seed, prior=prior)


def sample_posterior(
    model: ModelDefinition,
    units: Units,
    spec: Spec,
    seed: int,
    log: Log = _silent,
) -> xr.DataTree:
    """Run NUTS (and the prior draws) and assemble the full DataTree (:func:`complete_tree`)."""
    sampler = sampler_for(model, spec, log)
    s = spec.sampler
    log(
        f"sampling {s['chains']} chains x {s['draws']} draws ({s['tune']} tuning) "
        f"with {sampler} NUTS, target_accept {s['target_accept']}"
    )
    start = time.perf_counter()
    if sampler == "compiled":
        posterior, sample_stats, prior = _compiled_fit(model, units, spec, seed, log)
    else:
        posterior, sample_stats, prior = _pymc_fit(model, units, spec, seed, sampler, log)
    log(f"sampled in {time.perf_counter() - start:.1f} s")
    return complete_tree(
        model, units, seed, posterior=posterior, sample_stats=sample_stats, prior=prior
    )


def complete_tree(
    model: ModelDefinition,
    units: Units,
    seed: int,
    posterior: xr.Dataset | None = None,
    sample_stats: xr.Dataset | None = None,
    prior: xr.Dataset | None = None,
) -> xr.DataTree:
    """The DataTree of a fit from its draws: the one post-processing step of every sampler.

    Adds ``rate_typical`` and ``rate_new`` to the posterior and the prior
    (:meth:`~hlhbayes.models.base.ModelDefinition.quantities`), and computes the prior and
    posterior predictive draws and the pointwise log-likelihood from the model's
    :meth:`~hlhbayes.models.base.ModelDefinition.unit_probabilities` (the same formulas for
    every sampler), and the observed data. Random numbers: ``default_rng([seed, 1])``.
    """
    rng = np.random.default_rng([seed, 1])
    groups: dict[str, xr.Dataset] = {}
    if posterior is not None:
        posterior = posterior.merge(model.quantities(posterior, rng))
        groups["posterior"] = posterior
    if sample_stats is not None:
        groups["sample_stats"] = sample_stats
    if prior is not None:
        groups["prior"] = prior.merge(model.quantities(prior, rng))
        prior_probs = model.unit_probabilities(prior, units)
        groups["prior_predictive"] = _predictive(prior_probs, units, model, rng)
    if posterior is not None:
        probs = model.unit_probabilities(posterior, units)
        groups["log_likelihood"] = _log_likelihood(probs, units, model)
        groups["posterior_predictive"] = _predictive(probs, units, model, rng)
    groups["observed_data"] = _observed_data(units, model)
    return xr.DataTree.from_dict(groups)


def _compiled_fit(
    model: ModelDefinition, units: Units, spec: Spec, seed: int, log: Log
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    from hlhbayes import engine
    from hlhbayes.models.compiled import compiled_inputs

    inputs = compiled_inputs(model, units, spec.priors, spec.options)
    result = engine.fit(
        inputs.model,
        inputs.data,
        settings=engine_settings(spec),
        seed=seed,
        coords=inputs.coords,
        prior_draws=PRIOR_DRAWS,
        log=log,
    )
    posterior = result.posterior
    posterior.attrs["sampling_time"] = float(result.timings.wall.get("sampling", 0.0))
    posterior.attrs["inference_library"] = "hlhbayes.engine (numpyro NUTS, jax.export)"
    return posterior, result.sample_stats, result.prior


def _quiet_pymc() -> None:
    for name in ("pymc", "pymc.sampling", "pytensor", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _pymc_prior(pymc_model: Any, seed: int) -> xr.Dataset:
    import pymc as pm

    _quiet_pymc()
    with pymc_model, warnings.catch_warnings():
        # the models' Potentials are their (weighted) likelihood, which prior draws leave out
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        prior = pm.sample_prior_predictive(
            draws=PRIOR_DRAWS, random_seed=seed, compile_kwargs={"mode": "FAST_COMPILE"}
        )
    interrupts.check()  # PyMC returns what it has on Ctrl-C: stop instead
    return prior["prior"].to_dataset()


def _pymc_fit(
    model: ModelDefinition,
    units: Units,
    spec: Spec,
    seed: int,
    sampler: str,
    log: Log,
    include: np.ndarray | None = None,
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """PyMC's NUTS (or nutpie through PyMC), and PyMC's prior draws."""
    import pymc as pm

    from hlhbayes.models.numerics import use_strict_numerics

    _quiet_pymc()
    use_strict_numerics()
    s = spec.sampler
    pymc_model = model.build(units, spec.priors, spec.options, include=include)
    heartbeat = Heartbeat(log, "compiling the model: the first fit on a machine takes longest")
    callback = None
    if sampler == "pymc":  # external samplers take no per-draw callback
        total = int(s["chains"]) * (int(s["draws"]) + int(s["tune"]))
        callback = SamplingProgress(log, total, heartbeat)
    # PyMC's progress table writes to stdout, where results go: send it to stderr instead.
    with pymc_model, contextlib.redirect_stdout(sys.stderr), heartbeat:
        idata = pm.sample(
            callback=callback,
            nuts_sampler=sampler,
            draws=int(s["draws"]),
            tune=int(s["tune"]),
            chains=int(s["chains"]),
            cores=min(2, int(s["chains"])),
            target_accept=float(s["target_accept"]),
            random_seed=seed,
            quiet=True,  # no bar of PyMC's: the command's own display shows progress
            compute_convergence_checks=False,
        )
    interrupts.check()  # PyMC returns the draws it has on Ctrl-C: stop instead
    prior = _pymc_prior(pymc_model, seed)
    return idata["posterior"].to_dataset(), idata["sample_stats"].to_dataset(), prior


# ------------------------------------------------------------------------------------------
# many fits of one analysis


@dataclass
class Scenario:
    """One variant of an analysis: its own units, priors and (optional) likelihood weights.

    ``weights``: one per unit of ``units`` (patients, then strata; default 1), e.g. 0.5 to
    count a unit as half its patients.
    """

    name: str
    units: Units
    priors: Mapping[str, Prior]
    weights: np.ndarray | None = None


@dataclass
class ScenarioFit:
    """A scenario's posterior (its own studies and units, with the derived quantities).

    ``tree``: the full DataTree of :func:`complete_tree` (prior draws included), when asked
    for. ``target_accept``, ``tune`` and ``attempts`` say which settings the sampler finally
    used (re-runs of a scenario that failed the convergence gate raise them).
    """

    scenario: Scenario
    posterior: xr.Dataset
    sample_stats: xr.Dataset
    target_accept: float
    tune: int
    attempts: int = 1
    seconds: float = 0.0
    tree: xr.DataTree | None = field(default=None, repr=False)


Progress = Callable[[int, ScenarioFit, float | None], None]
"""Called once per finished scenario: its index, its fit, an estimate of the seconds left."""


def sample_scenarios(
    model: ModelDefinition,
    scenarios: Sequence[Scenario],
    spec: Spec,
    seed: int,
    log: Log = _silent,
    on_fit: Progress | None = None,
    full: bool = False,
    chunk: int = SCENARIO_CHUNK,
    universe: Units | None = None,
) -> list[ScenarioFit]:
    """Fit every scenario; with the compiled engine, one program per model structure.

    The scenarios become weight vectors over the union of their units (1 for a scenario's own
    units, or its ``weights``; 0 for the others), with their own prior parameters, latent-mix
    centres and study parameterisation (:meth:`~hlhbayes.models.base.CompiledForm.data`),
    so each equals a fit of its own units in distribution. Scenarios whose prior families
    differ form separate batches. Each batch runs in chunks of ``chunk`` scenarios through
    :func:`hlhbayes.engine.sample_batch_with_retry`: a scenario that fails the convergence
    gate is run again (target_accept 0.99, then also twice the warm-up) and keeps its last
    verdict. ``full``: also the prior draws and the full DataTree of every scenario.
    ``universe``: units that hold every scenario's (their order is then the union's).
    Other samplers fit the scenarios one after another. Results are in the given order.
    """
    scenarios = list(scenarios)
    sampler = sampler_for(model, spec, log)
    if sampler != "compiled":
        return _pymc_scenarios(model, scenarios, spec, seed, sampler, log, on_fit, full)
    from hlhbayes.models.union import union_units

    union = union_units([s.units for s in scenarios], universe)
    groups: dict[str, list[int]] = {}
    for i, sc in enumerate(scenarios):
        key = repr(sorted(model_structure(model, union.units, sc.priors, spec).items()))
        groups.setdefault(key, []).append(i)
    out: list[ScenarioFit | None] = [None] * len(scenarios)
    clock = _Clock(len(scenarios))
    for indices in groups.values():
        for start in range(0, len(indices), chunk):
            part = indices[start : start + chunk]
            fits = _compiled_chunk(model, union, scenarios, part, spec, seed, log, chunk, full)
            clock.done(len(part), fits[0].seconds)
            for i, fit in zip(part, fits, strict=True):
                out[i] = fit
                if on_fit is not None:
                    on_fit(i, fit, clock.left())
    return [fit for fit in out if fit is not None]


def model_structure(
    model: ModelDefinition, units: Units, priors: Mapping[str, Prior], spec: Spec
) -> dict[str, Any]:
    """The compiled structure of a fit (what decides whether two fits share a program)."""
    form: Any = model
    return form.structure(units, priors, spec.options)


class _Clock:
    """The estimated time left: the last chunk's sampling time per scenario, times the rest.

    Compiling the program of another structure, if one is to come, is not foreseen.
    """

    def __init__(self, total: int) -> None:
        self.total, self.finished = total, 0
        self.per_scenario: float | None = None

    def done(self, count: int, seconds_each: float) -> None:
        self.finished += count
        self.per_scenario = seconds_each

    def left(self) -> float | None:
        if self.per_scenario is None or self.finished >= self.total:
            return None
        return self.per_scenario * (self.total - self.finished)


def _compiled_chunk(
    model: ModelDefinition,
    union: Any,
    scenarios: list[Scenario],
    part: list[int],
    spec: Spec,
    seed: int,
    log: Log,
    chunk: int,
    full: bool,
) -> list[ScenarioFit]:
    from hlhbayes import engine
    from hlhbayes.models.compiled import compiled_inputs

    start = time.perf_counter()
    inputs = [
        compiled_inputs(
            model,
            union.units,
            scenarios[i].priors,
            spec.options,
            union.weights(i, scenarios[i].weights),
        )
        for i in part
    ]
    batch = engine.sample_batch_with_retry(
        inputs[0].model,
        [x.data for x in inputs],
        settings=engine_settings(spec),
        seeds=seed,
        coords=inputs[0].coords,
        log=log,
        scenario_slots=min(chunk, len(scenarios)),
    )
    seconds = batch.timings.wall.get("sampling", time.perf_counter() - start) / len(part)
    form: Any = model
    union_coords = form.coords(union.units)
    fits = []
    for i, x, result in zip(part, inputs, batch.fits, strict=True):
        sc = scenarios[i]
        own = form.coords(sc.units)
        posterior = _restrict(result.posterior, union_coords, own)
        fit = ScenarioFit(
            sc,
            posterior,
            result.sample_stats,
            result.target_accept,
            result.tune,
            result.attempts,
            seconds,
        )
        if full:
            prior = engine.sample_prior(
                x.model, x.data, draws=PRIOR_DRAWS, seed=seed, coords=x.coords, log=log
            ).prior
            fit.tree = complete_tree(
                model,
                sc.units,
                seed,
                posterior=posterior,
                sample_stats=result.sample_stats,
                prior=_restrict(prior, union_coords, own),
            )
            fit.posterior = fit.tree["posterior"].to_dataset()
        else:  # the quantities as complete_tree adds them (the same random numbers)
            rng = np.random.default_rng([seed, 1])
            fit.posterior = posterior.merge(model.quantities(posterior, rng))
        fits.append(fit)
    return fits


def _restrict(
    ds: xr.Dataset, union: Mapping[str, list[Any]], own: Mapping[str, list[Any]]
) -> xr.Dataset:
    """``ds`` (over the union's coordinates) restricted to a scenario's own coordinates.

    A variable left with no entries (the latent mixes of a scenario without unknown mixes) is
    dropped: a fit of the scenario's units alone does not have it.
    """
    index = {}
    for dim in ds.dims:
        if dim in own and dim in union:
            position = {label: k for k, label in enumerate(union[dim])}
            index[dim] = [position[label] for label in own[dim]]
    empty = [name for name, da in ds.data_vars.items() if any(not index.get(d, 1) for d in da.dims)]
    out = ds.drop_vars(empty).isel(index)
    return out.assign_coords({dim: list(own[dim]) for dim in index if dim in out.dims})


def _pymc_scenarios(
    model: ModelDefinition,
    scenarios: list[Scenario],
    spec: Spec,
    seed: int,
    sampler: str,
    log: Log,
    on_fit: Progress | None,
    full: bool,
) -> list[ScenarioFit]:
    """One PyMC fit per scenario, on its own units (no retries: the spec's settings)."""
    import dataclasses

    out = []
    clock = _Clock(len(scenarios))
    for i, sc in enumerate(scenarios):
        start = time.perf_counter()
        scenario_spec = dataclasses.replace(spec, priors=dict(sc.priors))
        posterior, stats, prior = _pymc_fit(
            model, sc.units, scenario_spec, seed, sampler, _silent, sc.weights
        )
        tree = complete_tree(
            model,
            sc.units,
            seed,
            posterior=posterior,
            sample_stats=stats,
            prior=prior if full else None,
        )
        fit = ScenarioFit(
            sc,
            tree["posterior"].to_dataset(),
            stats,
            float(spec.sampler["target_accept"]),
            int(spec.sampler["tune"]),
            seconds=time.perf_counter() - start,
            tree=tree if full else None,
        )
        clock.done(1, fit.seconds)
        out.append(fit)
        if on_fit is not None:
            on_fit(i, fit, clock.left())
    return out


# ------------------------------------------------------------------------------------------
# observed data, log-likelihood and predictive draws, from the models' unit probabilities


def _observed(units: Units, name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "y_patient":
        return units.pat_y, np.ones_like(units.pat_y)
    return units.agg_events, units.agg_total


def _unit_coords(units: Units, dim: str) -> dict[str, list[str]]:
    return {dim: list(units.pat_ids if dim == "patient" else units.agg_ids)}


def _log_likelihood(
    probs: dict[str, np.ndarray], units: Units, model: ModelDefinition
) -> xr.Dataset:
    out = {}
    for name, p in probs.items():
        y, n = _observed(units, name)
        dim = model.observed[name]
        out[name] = xr.DataArray(
            binomial_logpmf(y, n, p),
            dims=("chain", "draw", dim),
            coords=_unit_coords(units, dim),
        )
    return xr.Dataset(out)


def _predictive(
    probs: dict[str, np.ndarray], units: Units, model: ModelDefinition, rng: np.random.Generator
) -> xr.Dataset:
    out = {}
    for name, p in probs.items():
        _, n = _observed(units, name)
        dim = model.observed[name]
        out[name] = xr.DataArray(
            rng.binomial(np.broadcast_to(n, p.shape), p),
            dims=("chain", "draw", dim),
            coords=_unit_coords(units, dim),
        )
    return xr.Dataset(out)


def _observed_data(units: Units, model: ModelDefinition) -> xr.Dataset:
    out = {}
    for name, dim in model.observed.items():
        y, _ = _observed(units, name)
        if len(y):
            out[name] = xr.DataArray(np.asarray(y), dims=(dim,), coords=_unit_coords(units, dim))
    return xr.Dataset(out)
