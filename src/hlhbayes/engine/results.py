"""What the engine returns: draws as xarray Datasets, per-scenario convergence, timings.

Every scenario of a batch carries its own convergence verdict, so a scenario that fails the
gate is marked and reported, never hidden behind the batch's other results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from hlhbayes.engine import diagnostics
from hlhbayes.engine.timing import Timings


@dataclass(frozen=True)
class Gate:
    """When a fit counts as converged.

    Every R-hat <= ``max_r_hat``, every bulk ESS >= ``min_ess_bulk`` and at most
    ``max_divergences`` divergent transitions. ``var_names``: the posterior variables checked (None: all of them). Variables whose R-hat
    is undefined (constant draws) do not count.
    """

    max_r_hat: float = 1.01
    min_ess_bulk: float = 400.0
    max_divergences: int = 0
    var_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Convergence:
    """A fit's diagnostics and the gate's verdict."""

    max_r_hat: float
    min_ess_bulk: float
    divergences: int
    converged: bool

    def problems(self, gate: Gate | None = None) -> list[str]:
        """What failed, each with a remedy."""
        gate = gate or Gate()
        found = []
        if self.divergences > gate.max_divergences:
            found.append(f"{self.divergences} divergent transitions: raise target_accept (0.99)")
        if not self.max_r_hat <= gate.max_r_hat:
            found.append(f"max R-hat {self.max_r_hat:.3f} > {gate.max_r_hat}: tune and draw longer")
        if not self.min_ess_bulk >= gate.min_ess_bulk:
            found.append(f"min bulk ESS {self.min_ess_bulk:.0f} < {gate.min_ess_bulk:g}: draw more")
        return found


def convergence(posterior: xr.Dataset, sample_stats: xr.Dataset, gate: Gate) -> Convergence:
    """Apply ``gate`` to a fit (numpy diagnostics, :mod:`hlhbayes.engine.diagnostics`)."""
    names = list(gate.var_names) if gate.var_names is not None else list(posterior.data_vars)
    r_hat, ess = diagnostics.rhat_and_ess_bulk(diagnostics.stacked(posterior, names))
    max_r_hat = float(np.nanmax(r_hat)) if np.isfinite(r_hat).any() else float("nan")
    min_ess = float(np.nanmin(ess)) if np.isfinite(ess).any() else float("nan")
    divergences = int(sample_stats["diverging"].sum())
    converged = (
        max_r_hat <= gate.max_r_hat
        and min_ess >= gate.min_ess_bulk
        and divergences <= gate.max_divergences
    )
    return Convergence(max_r_hat, min_ess, divergences, bool(converged))


@dataclass
class ScenarioFit:
    """One scenario's posterior, sample statistics, verdict, and the settings it finally used.

    ``attempts`` counts the runs (1: the first run passed or no retry was asked for).
    """

    posterior: xr.Dataset
    sample_stats: xr.Dataset
    convergence: Convergence
    seed: int
    target_accept: float
    tune: int
    attempts: int = 1


@dataclass
class BatchFit:
    """The fits of a batch of scenarios, in the order they were given, and the timings."""

    fits: list[ScenarioFit]
    timings: Timings = field(default_factory=Timings)

    @property
    def failed(self) -> list[int]:
        """Indices of the scenarios that did not pass the gate."""
        return [i for i, fit in enumerate(self.fits) if not fit.convergence.converged]


@dataclass
class PriorDraws:
    """Draws from the prior: ``prior`` (free variables, deterministics) and ``prior_predictive``."""

    prior: xr.Dataset
    prior_predictive: xr.Dataset
    timings: Timings = field(default_factory=Timings)


@dataclass
class Fit:
    """A single fit: the posterior with its statistics and verdict, and the prior draws."""

    posterior: xr.Dataset
    sample_stats: xr.Dataset
    convergence: Convergence
    prior: xr.Dataset
    prior_predictive: xr.Dataset
    seed: int
    target_accept: float
    tune: int
    timings: Timings = field(default_factory=Timings)
