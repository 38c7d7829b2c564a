"""Kernel density estimates that respect the bounds of what they estimate.

A Gaussian kernel density estimate puts mass beyond a bound and, cut there, both loses that
mass and shows a density that stops at a cliff (a rate's curve ending high at 1, an SD's curve
halved at 0). One correction per kind of bound:

* **Rates on [0, 1]**: :func:`rate_density` is Chen's beta kernel estimator (Chen 1999,
  Computational Statistics & Data Analysis 31:131-145),

      f(x) = (1/n) sum_i Beta(X_i; x/b + 1, (1 - x)/b + 1),

  whose kernels live on [0, 1] and narrow towards the ends, so no mass leaves the interval and
  there is no boundary bias. The smoothing b is matched to Scott's rule: at the posterior mean
  m the kernel's standard deviation, about sqrt(b m (1 - m)), equals Scott's bandwidth
  s n^(-1/5) (s the draws' SD). Considered and not used: a Gaussian estimate on the logit scale transformed
  back (its Jacobian 1 / (x (1 - x)) turns the few draws near 0 or 1 into spikes: these
  posteriors put much mass above 95%), and reflection at 0 and 1 (it forces a flat density at
  the bounds).
* **Positive parameters** (standard deviations with a half-normal, half-Cauchy or exponential
  prior): :func:`positive_density` reflects a Gaussian estimate at 0,

      f(x) = k(x) + k(-x)  for x >= 0,

  which keeps the mass beyond 0 and gives zero slope at 0, the shape of those priors there.

Gaussian bandwidths are scipy's ``gaussian_kde`` default (Scott's rule).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import betaln

EDGE = 1e-12
"""Draws are kept this far inside (0, 1) (a logistic in float64 can round to exactly 1)."""
MAX_SMOOTHING = 0.25


def rate_density(draws: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Density of a rate on [0, 1] at ``grid``: Chen's beta kernel estimator (0 outside)."""
    x = np.clip(np.asarray(draws, dtype=float).ravel(), EDGE, 1 - EDGE)
    grid = np.asarray(grid, dtype=float)
    b = beta_smoothing(x)
    out = np.zeros_like(grid)
    inside = (grid >= 0) & (grid <= 1)
    g = grid[inside][:, None]
    a1, a2 = g / b + 1, (1 - g) / b + 1
    log_kernel = (a1 - 1) * np.log(x) + (a2 - 1) * np.log1p(-x) - betaln(a1, a2)
    out[inside] = np.exp(log_kernel).mean(axis=1)
    return out


def beta_smoothing(x: np.ndarray) -> float:
    """The beta kernel's b: its kernel SD at the mean m, sqrt(b m (1 - m)), is Scott's h."""
    m = float(x.mean())
    h = max(float(x.std()), 1e-6) * x.size ** (-1 / 5)
    return min(h**2 / max(m * (1 - m), 1e-4), MAX_SMOOTHING)


def positive_density(draws: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Density of a positive quantity at ``grid``, reflected at 0 (0 below 0)."""
    kde = _kde(np.asarray(draws, dtype=float).ravel())
    grid = np.asarray(grid, dtype=float)
    return np.where(grid >= 0, kde(grid) + kde(-grid), 0.0)


def real_density(draws: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Density of an unbounded quantity at ``grid`` (a plain Gaussian kernel estimate)."""
    return _kde(np.asarray(draws, dtype=float).ravel())(np.asarray(grid, dtype=float))


def rate_grid(points: int = 401) -> np.ndarray:
    """An even grid on [0, 1] for plotting a rate's density."""
    return np.linspace(0.0, 1.0, points)


def _kde(values: np.ndarray) -> stats.gaussian_kde:
    if np.ptp(values) == 0:  # every draw equal (a fixed quantity): a narrow bump, not an error
        spread = max(abs(float(values[0])) * 1e-3, 1e-6)
        values = np.concatenate([values - spread, values, values + spread])
    return stats.gaussian_kde(values)
