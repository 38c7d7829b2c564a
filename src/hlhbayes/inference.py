"""Sampling a model to an ``xarray.DataTree`` with every group a report needs.

Groups: ``posterior`` (parameters plus ``rate_typical`` / ``rate_new``), ``sample_stats``,
``prior`` (with the same quantities), ``prior_predictive``, ``posterior_predictive``,
``log_likelihood`` (pointwise, per evidence unit) and ``observed_data``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable
from types import ModuleType

import numpy as np
import xarray as xr

from hlhbayes.models.spec import Spec
from hlhbayes.models.units import Units
from hlhbayes.progress import Heartbeat, SamplingProgress

PRIOR_DRAWS = 1000


def _quiet_pymc() -> None:
    for name in ("pymc", "pymc.sampling", "pytensor", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)


def build_model(module: ModuleType, units: Units, spec: Spec):
    """The PyMC model for ``units`` under ``spec``."""
    return module.build(units, spec.priors, spec.options)


def sample_prior(module: ModuleType, units: Units, spec: Spec, seed: int) -> xr.DataTree:
    """Prior and prior predictive draws (no MCMC), with the derived quantities."""
    import pymc as pm

    _quiet_pymc()
    model = build_model(module, units, spec)
    with model:
        prior = pm.sample_prior_predictive(draws=PRIOR_DRAWS, random_seed=seed)
    rng = np.random.default_rng([seed, 1])
    prior_ds = prior["prior"].to_dataset()
    prior["prior"] = xr.DataTree(prior_ds.merge(module.quantities(prior_ds, rng)))
    return prior


def sample_posterior(
    module: ModuleType,
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
    model = build_model(module, units, spec)
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
    with model, contextlib.redirect_stdout(sys.stderr), heartbeat:
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
        prior = pm.sample_prior_predictive(draws=PRIOR_DRAWS, random_seed=seed)
    log(f"sampled in {time.perf_counter() - start:.1f} s")

    rng = np.random.default_rng([seed, 1])
    posterior = idata["posterior"].to_dataset()
    posterior = posterior.merge(module.quantities(posterior, rng))
    idata["posterior"] = xr.DataTree(posterior, name="posterior")
    prior_ds = prior["prior"].to_dataset()
    idata["prior"] = xr.DataTree(prior_ds.merge(module.quantities(prior_ds, rng)))
    idata["prior_predictive"] = prior["prior_predictive"]

    probs = module.unit_probabilities(posterior, units)
    idata["log_likelihood"] = xr.DataTree(_log_likelihood(probs, units, module))
    idata["posterior_predictive"] = xr.DataTree(_predictive(probs, units, module, rng))
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


def _log_likelihood(probs: dict[str, np.ndarray], units: Units, module: ModuleType) -> xr.Dataset:
    out = {}
    for name, p in probs.items():
        y, n = _observed(units, name)
        dim = module.OBSERVED[name]
        out[name] = xr.DataArray(
            binomial_logpmf(y, n, p),
            dims=("chain", "draw", dim),
            coords={dim: list(units.pat_ids if dim == "patient" else units.agg_ids)},
        )
    return xr.Dataset(out)


def _predictive(
    probs: dict[str, np.ndarray], units: Units, module: ModuleType, rng: np.random.Generator
) -> xr.Dataset:
    out = {}
    for name, p in probs.items():
        _, n = _observed(units, name)
        dim = module.OBSERVED[name]
        out[name] = xr.DataArray(
            rng.binomial(np.broadcast_to(n, p.shape), p),
            dims=("chain", "draw", dim),
            coords={dim: list(units.pat_ids if dim == "patient" else units.agg_ids)},
        )
    return xr.Dataset(out)
