"""Posterior summaries in the ``summary.json`` contract, and the convergence gate.

Interval policy (one, stated once): 95 % equal-tailed intervals, reported as the 2.5 %, 50 % and
97.5 % quantiles of the draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

QUANTILES = (0.025, 0.5, 0.975)
MAX_R_HAT = 1.01
MIN_ESS_BULK = 400
REPORTED = ("rate_typical", "rate_new")


def _qkey(p: float) -> str:
    return f"q{100 * p:g}"


@dataclass(frozen=True)
class Diagnostics:
    """The convergence gate's inputs and verdict."""

    max_r_hat: float | None  # None for exact (non-MCMC) results
    min_ess_bulk: float | None
    divergences: int
    converged: bool

    def as_dict(self) -> dict[str, Any]:
        """The ``diagnostics`` block of ``summary.json``."""
        return {
            "max_r_hat": self.max_r_hat,
            "min_ess_bulk": self.min_ess_bulk,
            "divergences": self.divergences,
            "converged": self.converged,
        }

    def problems(self) -> list[str]:
        """What failed, each with a remedy."""
        found = []
        if self.divergences:
            found.append(
                f"{self.divergences} divergent transitions: raise --target-accept (e.g. 0.99) "
                "or use a tighter prior on tau / sigma_eta"
            )
        if self.max_r_hat is not None and self.max_r_hat > MAX_R_HAT:
            found.append(
                f"max R-hat {self.max_r_hat:.3f} > {MAX_R_HAT}: run more --tune and --draws"
            )
        if self.min_ess_bulk is not None and self.min_ess_bulk < MIN_ESS_BULK:
            found.append(
                f"min bulk ESS {self.min_ess_bulk:.0f} < {MIN_ESS_BULK}: run more --draws "
                "(or more --chains)"
            )
        return found


def _mcmc_diagnostics(ds: xr.Dataset) -> dict[str, xr.Dataset]:
    """MCSE of the mean, bulk ESS and R-hat of every variable.

    Computed by :mod:`hlhbayes.engine.diagnostics` (numpy; equal to ``arviz_stats`` to 1e-10,
    tested), which keeps ArviZ's import (about a second) off every fit.
    """
    from hlhbayes.engine.diagnostics import diagnose as numpy_diagnostics

    return numpy_diagnostics(ds)


def _records(
    ds: xr.Dataset, name: str, diagnostics: dict[str, xr.Dataset] | None
) -> list[dict[str, Any]]:
    da = ds[name]
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    stacked = da.stack(sample=("chain", "draw")).transpose(*extra, "sample")
    out = []
    for index in np.ndindex(*stacked.shape[:-1]):
        draws = stacked.values[index]
        labels = {d: str(stacked[d].values[i]) for d, i in zip(extra, index, strict=True)}
        rec: dict[str, Any] = {
            "quantity": name,
            "etiology": labels.get("etiology"),
            "line": labels.get("line"),
            "mean": float(draws.mean()),
            "sd": float(draws.std(ddof=1)),
        }
        for p, q in zip(QUANTILES, np.quantile(draws, QUANTILES), strict=True):
            rec[_qkey(p)] = float(q)
        for key in ("mcse_mean", "ess_bulk", "r_hat"):
            value = None
            if diagnostics is not None:
                value = float(diagnostics[key][name].transpose(*extra).values[index])
            rec[key] = value
        out.append(rec)
    return out


def summarise(posterior: xr.Dataset, hyperparameters: tuple[str, ...]) -> list[dict[str, Any]]:
    """One record per quantity: hyperparameters, then ``rate_typical`` and ``rate_new``."""
    names = [*hyperparameters, *REPORTED]
    subset = posterior[names]
    diagnostics = _mcmc_diagnostics(subset)
    records: list[dict[str, Any]] = []
    for name in names:
        records += _records(subset, name, diagnostics)
    return records


def diagnose(
    posterior: xr.Dataset, sample_stats: xr.Dataset, records: list[dict[str, Any]]
) -> Diagnostics:
    """Apply the convergence gate.

    Converged means: every R-hat <= 1.01 and every bulk ESS >= 400 (free parameters and
    reported quantities), and no divergent transition.
    """
    free = posterior[[v for v in posterior.data_vars if v not in REPORTED]]
    diagnostics = _mcmc_diagnostics(free)
    r_hats = [float(np.nanmax(diagnostics["r_hat"][v].values)) for v in free.data_vars]
    esses = [float(np.nanmin(diagnostics["ess_bulk"][v].values)) for v in free.data_vars]
    r_hats += [r["r_hat"] for r in records]
    esses += [r["ess_bulk"] for r in records]
    divergences = int(sample_stats["diverging"].sum())
    max_r_hat = float(np.nanmax(r_hats))
    min_ess = float(np.nanmin(esses))
    converged = max_r_hat <= MAX_R_HAT and min_ess >= MIN_ESS_BULK and divergences == 0
    return Diagnostics(max_r_hat, min_ess, divergences, converged)


def threshold_probabilities(
    posterior: xr.Dataset, thresholds: tuple[float, ...]
) -> list[dict[str, Any]]:
    """P(rate > threshold) for every reported rate, cell and threshold."""
    out = []
    for name in REPORTED:
        da = posterior[name]
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        stacked = da.stack(sample=("chain", "draw")).transpose(*extra, "sample")
        for index in np.ndindex(*stacked.shape[:-1]):
            labels = {d: str(stacked[d].values[i]) for d, i in zip(extra, index, strict=True)}
            for t in thresholds:
                out.append(
                    {
                        "quantity": name,
                        "etiology": labels.get("etiology"),
                        "line": labels.get("line"),
                        "threshold": t,
                        "probability": float((stacked.values[index] > t).mean()),
                    }
                )
    return out
