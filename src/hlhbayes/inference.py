"""Sampling a model to an ``xarray.DataTree`` with every group a report needs.

The one place that runs the sampler. :func:`sample_posterior` gives the groups ``posterior``
(parameters plus ``rate_typical`` / ``rate_new``), ``sample_stats``, ``prior`` (with the same
quantities), ``prior_predictive``, ``posterior_predictive``, ``log_likelihood`` (pointwise, per
evidence unit) and ``observed_data``; :func:`sample_prior` the prior groups alone (a dry run);
:class:`IncludeSampler` samples one compiled model again and again on subsets of its units
(``hlhbayes cumulative``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable

import numpy as np
import xarray as xr

from hlhbayes import interrupts
from hlhbayes.models.base import ModelDefinition
from hlhbayes.models.include import split_weights
from hlhbayes.models.spec import Spec
from hlhbayes.models.units import Units
from hlhbayes.progress import Heartbeat, SamplingProgress

PRIOR_DRAWS = 1000


def _quiet_pymc() -> None:
    for name in ("pymc", "pymc.sampling", "pytensor", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)


def sample_prior(model: ModelDefinition, units: Units, spec: Spec, seed: int) -> xr.DataTree:
    """Prior and prior predictive draws (no MCMC), with the derived quantities."""
    import pymc as pm

    _quiet_pymc()
    with model.build(units, spec.priors, spec.options):
        prior = pm.sample_prior_predictive(draws=PRIOR_DRAWS, random_seed=seed)
    interrupts.check()  # PyMC returns what it has on Ctrl-C: stop instead
    rng = np.random.default_rng([seed, 1])
    prior_ds = prior["prior"].to_dataset()
    prior["prior"] = xr.DataTree(prior_ds.merge(model.quantities(prior_ds, rng)))
    return prior


def sample_posterior(
    model: ModelDefinition,
    units: Units,
    spec: Spec,
    seed: int,
    progress: bool = False,
    log: Callable[[str], None] = lambda _m: None,
) -> xr.DataTree:
    """Run NUTS and assemble the full DataTree.

    PyMC's own NUTS is the default sampler (lowest end-to-end latency for models this size
    with a warm compile cache); ``sampler: nutpie`` uses nutpie when installed.
    """
    import pymc as pm

    _quiet_pymc()
    s = spec.sampler
    pymc_model = model.build(units, spec.priors, spec.options)
    log(
        f"sampling {s['chains']} chains x {s['draws']} draws ({s['tune']} tuning) "
        f"with {s['sampler']} NUTS, target_accept {s['target_accept']}"
    )
    start = time.perf_counter()
    heartbeat = Heartbeat(log, "compiling the model: the first fit on a machine takes longest")
    callback = None
    if s["sampler"] == "pymc":  # external samplers take no per-draw callback
        total = int(s["chains"]) * (int(s["draws"]) + int(s["tune"]))
        callback = SamplingProgress(log, total, heartbeat, milestones=not progress)
    # PyMC's progress table writes to stdout, where results go: send it to stderr instead.
    with pymc_model, contextlib.redirect_stdout(sys.stderr), heartbeat:
        idata = pm.sample(
            callback=callback,
            nuts_sampler=s["sampler"],
            draws=int(s["draws"]),
            tune=int(s["tune"]),
            chains=int(s["chains"]),
            cores=min(2, int(s["chains"])),
            target_accept=float(s["target_accept"]),
            random_seed=seed,
            progressbar=progress,
            quiet=True,
            compute_convergence_checks=False,
        )
        interrupts.check()  # PyMC returns the draws it has on Ctrl-C: stop instead
        prior = pm.sample_prior_predictive(draws=PRIOR_DRAWS, random_seed=seed)
        interrupts.check()
    log(f"sampled in {time.perf_counter() - start:.1f} s")

    rng = np.random.default_rng([seed, 1])
    posterior = idata["posterior"].to_dataset()
    posterior = posterior.merge(model.quantities(posterior, rng))
    idata["posterior"] = xr.DataTree(posterior, name="posterior")
    prior_ds = prior["prior"].to_dataset()
    idata["prior"] = xr.DataTree(prior_ds.merge(model.quantities(prior_ds, rng)))
    idata["prior_predictive"] = prior["prior_predictive"]

    probs = model.unit_probabilities(posterior, units)
    idata["log_likelihood"] = xr.DataTree(_log_likelihood(probs, units, model))
    idata["posterior_predictive"] = xr.DataTree(_predictive(probs, units, model, rng))
    return idata


class IncludeSampler:
    """One model with inclusion weights and one NUTS step, sampled again for each subset.

    The model is built once on every unit, with likelihood inclusion weights
    (:mod:`hlhbayes.models.include`); :meth:`sample` sets the weights and runs NUTS again with
    the same step object, so nothing is rebuilt or recompiled. The chains start from the
    model's initial point plus uniform(-1, 1) jitter on the unconstrained scale, the scheme of
    PyMC's default ``jitter+adapt_diag`` (seeded per call). ``hlhbayes cumulative`` uses it.
    """

    def __init__(self, model: ModelDefinition, units: Units, spec: Spec) -> None:
        import pymc as pm
        import pytensor

        _quiet_pymc()
        self.definition, self.units, self.spec = model, units, spec
        self.model = model.build(units, spec.priors, spec.options, include=np.ones(units.n_units))
        with self.model:
            self.step = pm.NUTS(target_accept=float(spec.sampler["target_accept"]))
        constrained = self.model.replace_rvs_by_values(self.model.free_RVs)
        self._to_constrained = pytensor.function(
            self.model.value_vars, constrained, on_unused_input="ignore", mode="FAST_COMPILE"
        )
        self._initial = self.model.initial_point()

    def initvals(self, chains: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
        """Jittered starting points, one per chain, on the constrained scale."""
        out = []
        for _ in range(chains):
            values = [
                self._initial[v.name] + rng.uniform(-1, 1, size=np.shape(self._initial[v.name]))
                for v in self.model.value_vars
            ]
            points = self._to_constrained(*values)
            out.append(
                {rv.name: np.asarray(x) for rv, x in zip(self.model.free_RVs, points, strict=True)}
            )
        return out

    def sample(self, include: np.ndarray, seed: int, progress: bool = False) -> xr.DataTree:
        """Set the weights and run NUTS; the posterior gains ``rate_typical`` / ``rate_new``."""
        import pymc as pm

        s = self.spec.sampler
        chains = int(s["chains"])
        with self.model:
            pm.set_data(split_weights(self.units, include))
            # PyMC's progress table writes to stdout, where results go: send it to stderr.
            with contextlib.redirect_stdout(sys.stderr):
                idata = pm.sample(
                    step=self.step,
                    draws=int(s["draws"]),
                    tune=int(s["tune"]),
                    chains=chains,
                    cores=min(2, chains),
                    initvals=self.initvals(chains, np.random.default_rng([seed, 3])),
                    random_seed=seed,
                    progressbar=progress,
                    quiet=True,
                    compute_convergence_checks=False,
                )
        interrupts.check()  # PyMC returns the draws it has on Ctrl-C: stop instead
        posterior = idata["posterior"].to_dataset()
        extra = self.definition.quantities(posterior, np.random.default_rng([seed, 1]))
        idata["posterior"] = xr.DataTree(posterior.merge(extra), name="posterior")
        return idata


def _observed(units: Units, name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "y_patient":
        return units.pat_y, np.ones_like(units.pat_y)
    return units.agg_events, units.agg_total


def binomial_logpmf(y: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    r"""The binomial log-pmf log Binomial(y | n, p), elementwise (``0 log 0 = 0`` at p of 0 or 1).

    .. math:: \log\binom{n}{y} + y \log p + (n - y) \log(1 - p)

    Written with ``scipy.special`` rather than ``scipy.stats.binom``, whose import alone costs
    about a second of every fit.
    """
    from scipy.special import gammaln, xlog1py, xlogy

    return gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1) + xlogy(y, p) + xlog1py(n - y, -p)


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
            coords={dim: list(units.pat_ids if dim == "patient" else units.agg_ids)},
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
            coords={dim: list(units.pat_ids if dim == "patient" else units.agg_ids)},
        )
    return xr.Dataset(out)
