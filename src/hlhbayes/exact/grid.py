"""Where the posterior mass lies, the fine grid, and the entry point (:mod:`hlhbayes.exact`).

Coarse passes locate the mass of (mu, tau); the fine grid is uniform in ``xi`` and ``u`` with
``mu = m + a sinh(xi)`` and ``tau = c sinh(u)``; :func:`random_effects_exact` weighs it (trapezoid
in xi, Simpson in u) and returns an :class:`~hlhbayes.exact.posterior.ExactPosterior`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import cumulative_simpson
from scipy.special import expit

from hlhbayes.exact.likelihood import log_likelihood, log_tau_prior, tau_prior_quantile
from hlhbayes.exact.posterior import ExactPosterior, predictive_moments
from hlhbayes.exact.tail import TauTail, tail_exponent

FloatArray = NDArray[np.float64]

#: Prior families for tau, keyed by the name accepted by :func:`random_effects_exact`.
TAU_FAMILIES: tuple[str, ...] = ("halfnormal", "halfcauchy", "halft", "exponential")

_TAIL_MASS = 1e-12  # posterior mass left outside the grid, each tail (judged on coarse passes)
_COARSE_MU, _COARSE_U, _COARSE_GH = 41, 31, 8
_MAX_COARSE_PASSES = 40
_TAU_CAP = 1e4  # the tau grid never extends beyond this (see settings['tau_truncated'])


def _simpson_weights(n: int, h: float) -> FloatArray:
    """Composite Simpson weights for an odd number of equally spaced points."""
    w = np.ones(n)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return w * h / 3.0


def _validate(events: ArrayLike, totals: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    r = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    if r.ndim != 1 or n.ndim != 1:
        raise ValueError("events and totals must be one-dimensional")
    if r.size != n.size:
        raise ValueError(f"events and totals differ in length ({r.size} vs {n.size})")
    if r.size == 0:
        raise ValueError("at least one study is required")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(n))):
        raise ValueError("events and totals must be finite")
    if np.any(r != np.round(r)) or np.any(n != np.round(n)):
        raise ValueError("events and totals must be whole numbers")
    if np.any(n <= 0):
        raise ValueError("totals must be positive")
    if np.any(r < 0) or np.any(r > n):
        raise ValueError("events must satisfy 0 <= events <= totals")
    return r.astype(np.int64), n.astype(np.int64)


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return value


_Prior = tuple[float, float, str, float]


def _log_posterior(
    mu: FloatArray,
    tau: FloatArray,
    r: NDArray[np.int64],
    n: NDArray[np.int64],
    n_gh: int,
    prior: _Prior,
) -> FloatArray:
    """Unnormalised log posterior density of (mu, tau) on the outer grid."""
    mu_mean, mu_sd, family, scale = prior
    lp = log_likelihood(mu, tau, r, n, n_gh)
    lp += (-0.5 * ((mu - mu_mean) / mu_sd) ** 2)[:, None]
    lp += log_tau_prior(tau, family, scale)[None, :]
    return lp


def _marginal_masses(lp: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Normalised marginal masses along each axis of a grid from a log mass."""
    e = np.exp(lp - lp.max())
    pm, pu = e.sum(axis=1), e.sum(axis=0)
    return pm / pm.sum(), pu / pu.sum()


def _grid_quantile(values: FloatArray, masses: FloatArray, p: float) -> float:
    """Rough quantile of a discrete distribution on a monotone grid (cell-centred CDF)."""
    cdf = np.cumsum(masses) - 0.5 * masses
    return float(np.interp(p, cdf, values))


def _find_ranges(
    r: NDArray[np.int64], n: NDArray[np.int64], prior: _Prior
) -> tuple[float, float, float, float, float, bool]:
    """Coarse passes on uniform grids in (mu, u), u = asinh(tau / c).

    Widen a range while its end cell holds more than ``_TAIL_MASS``; narrow ("zoom") while the
    mass occupies less than half the grid; shrink ``c`` while the lower decile of tau is not
    resolved.  Returns (mu_lo, mu_hi, tau_lo, tau_hi, c, truncated): each tail outside the box
    holds less than ``_TAIL_MASS`` (up to coarse-grid error), except that tau stops at
    ``_TAU_CAP`` (``truncated`` says whether the cap was needed).
    """
    mu_mean, mu_sd, family, scale = prior
    theta = np.log((r + 0.5) / (n - r + 0.5))
    se = np.sqrt(1.0 / (r + 0.5) + 1.0 / (n - r + 0.5))
    mu_lo = float(min(np.min(theta - 4.0 * se), mu_mean - 4.0 * mu_sd))
    mu_hi = float(max(np.max(theta + 4.0 * se), mu_mean + 4.0 * mu_sd))
    # start from the prior's 1 - 1e-6 quantile, but at most 50 (heterogeneity of 50 logits);
    # the passes below widen the range if the posterior needs more.
    t_lo, t_hi = 0.0, min(tau_prior_quantile(1.0 - 1e-6, family, scale), 50.0)
    c = t_hi / 10.0
    truncated = False
    for _ in range(_MAX_COARSE_PASSES):
        mu = np.linspace(mu_lo, mu_hi, _COARSE_MU)
        u = np.linspace(math.asinh(t_lo / c), math.asinh(t_hi / c), _COARSE_U)
        tau = c * np.sinh(u)
        lp = _log_posterior(mu, tau, r, n, _COARSE_GH, prior) + np.log(np.cosh(u))[None, :]
        pm, pu = _marginal_masses(lp)
        width = mu_hi - mu_lo
        grown = False
        if pm[0] > _TAIL_MASS:
            mu_lo -= width
            grown = True
        if pm[-1] > _TAIL_MASS:
            mu_hi += width
            grown = True
        if pu[0] > _TAIL_MASS and t_lo > 0.0:
            t_lo = 0.0
            grown = True
        if pu[-1] > _TAIL_MASS:
            if t_hi < _TAU_CAP:
                t_hi = min(8.0 * t_hi, _TAU_CAP)
                grown = True
            else:
                truncated = True
        if grown:
            c = min(c, t_hi / 10.0)
            continue
        # the box outside which each tail holds less than _TAIL_MASS, plus one cell
        i0 = max(int(np.searchsorted(np.cumsum(pm), _TAIL_MASS)) - 1, 0)
        i1 = min(_COARSE_MU - int(np.searchsorted(np.cumsum(pm[::-1]), _TAIL_MASS)), _COARSE_MU - 1)
        k0 = max(int(np.searchsorted(np.cumsum(pu), _TAIL_MASS)) - 1, 0)
        k1 = min(_COARSE_U - int(np.searchsorted(np.cumsum(pu[::-1]), _TAIL_MASS)), _COARSE_U - 1)
        zoom = (i1 - i0) < _COARSE_MU // 2 or (k1 - k0) < _COARSE_U // 2
        mu_lo, mu_hi = float(mu[i0]), float(mu[i1])
        t_lo, t_hi = (float(tau[k0]) if k0 > 0 else 0.0), float(tau[k1])
        # scale of the sinh map: about the lower decile of tau (log-like above it); if the
        # first cells already hold a tenth of the mass, the decile is not resolved: shrink c
        if t_lo == 0.0 and pu[0] + pu[1] >= 0.1:
            c = max(c / 30.0, t_hi * 1e-12)
            zoom = zoom or c > t_hi * 1e-12
        else:
            c = min(max(_grid_quantile(tau, pu, 0.1), t_hi * 1e-12), t_hi / 2.0)
        c = min(c, t_hi / 2.0)
        if not zoom:
            break
    return mu_lo, mu_hi, t_lo, t_hi, c, truncated


def _grid_maps(
    r: NDArray[np.int64], n: NDArray[np.int64], prior: _Prior
) -> tuple[tuple[float, float, float, float, float, float, float], bool]:
    """Ranges and sinh maps for the fine grid: ((m, a, xi_lo, xi_hi, c, u_lo, u_hi), truncated).

    After ``_find_ranges``, two more coarse passes on the mapped grid estimate the centre and
    spread of mu (median and half the 16-84% range) and the lower decile of tau.
    """
    mu_lo, mu_hi, t_lo, t_hi, c, truncated = _find_ranges(r, n, prior)
    m = 0.5 * (mu_lo + mu_hi)
    a = 0.1 * (mu_hi - mu_lo)
    for _ in range(2):
        xi = np.linspace(math.asinh((mu_lo - m) / a), math.asinh((mu_hi - m) / a), _COARSE_MU)
        u = np.linspace(math.asinh(t_lo / c), math.asinh(t_hi / c), _COARSE_U)
        mu, tau = m + a * np.sinh(xi), c * np.sinh(u)
        lp = _log_posterior(mu, tau, r, n, _COARSE_GH, prior)
        lp += np.log(np.cosh(xi))[:, None] + np.log(np.cosh(u))[None, :]
        pm, pu = _marginal_masses(lp)
        m = _grid_quantile(mu, pm, 0.5)
        spread = 0.5 * (_grid_quantile(mu, pm, 0.84) - _grid_quantile(mu, pm, 0.16))
        a = min(max(spread, (mu_hi - mu_lo) / 1e3), (mu_hi - mu_lo) / 2.0)
        if not (t_lo == 0.0 and pu[0] + pu[1] >= 0.1):
            c = min(max(_grid_quantile(tau, pu, 0.1), t_hi * 1e-12), t_hi / 2.0)
    spec = (
        m,
        a,
        math.asinh((mu_lo - m) / a),
        math.asinh((mu_hi - m) / a),
        c,
        math.asinh(t_lo / c),
        math.asinh(t_hi / c),
    )
    return spec, truncated


def random_effects_exact(
    events: ArrayLike,
    totals: ArrayLike,
    *,
    mu_mean: float = 0.0,
    mu_sd: float = 1.5,
    tau_family: str = "halfnormal",
    tau_scale: float = 1.0,
    n_gh: int = 24,
    n_mu: int = 81,
    n_tau: int = 81,
) -> ExactPosterior:
    """Posterior of the binomial-logit-normal random-effects model by numerical integration.

    Parameters
    ----------
    events, totals : array_like of int
        Events ``r_i`` and totals ``n_i`` per study (``0 <= r_i <= n_i``, ``n_i > 0``).
    mu_mean, mu_sd : float
        Mean and standard deviation of the normal prior on ``mu`` (logit scale).
    tau_family : {"halfnormal", "halfcauchy", "halft", "exponential"}
        Prior family of the between-study sd ``tau``; ``"halft"`` is a half Student-t with 3
        degrees of freedom, ``"exponential"`` has rate ``1 / tau_scale``.
    tau_scale : float
        Scale of the ``tau`` prior.
    n_gh : int
        Gauss-Hermite nodes for each study's random effect (adaptive rule; with 24 nodes the
        error in a study's log likelihood is below ~1e-8) and for the predictive moments.
    n_mu, n_tau : int
        Fine-grid sizes in ``xi`` (for ``mu``) and ``u`` (for ``tau``); ``n_tau`` is rounded up
        to an odd number (Simpson's rule).

    Returns
    -------
    ExactPosterior
        Grid posterior with ``summary``, ``cdf``, ``quantile`` and ``prob_above``.

    Raises
    ------
    ValueError
        If the data are inconsistent, a prior parameter is not positive, or ``tau_family``
        is unknown.

    Examples
    --------
    >>> post = random_effects_exact([23, 12, 19], [107, 44, 51], mu_sd=2.0)
    >>> [row["quantity"] for row in post.summary()]
    ['mu', 'tau', 'rate_typical', 'rate_new']
    """
    if tau_family not in TAU_FAMILIES:
        raise ValueError(
            f"unknown tau_family {tau_family!r}; valid families: {', '.join(TAU_FAMILIES)}"
        )
    r, n = _validate(events, totals)
    mu_mean = float(mu_mean)
    if not math.isfinite(mu_mean):
        raise ValueError("mu_mean must be finite")
    mu_sd = _positive("mu_sd", mu_sd)
    tau_scale = _positive("tau_scale", tau_scale)
    n_gh, n_mu, n_tau = int(n_gh), int(n_mu), int(n_tau)
    if n_gh < 2 or n_mu < 11 or n_tau < 11:
        raise ValueError("need n_gh >= 2, n_mu >= 11 and n_tau >= 11")
    n_tau += 1 - n_tau % 2
    prior = (mu_mean, mu_sd, tau_family, tau_scale)

    (m, a, xi_lo, xi_hi, c, u_lo, u_hi), truncated = _grid_maps(r, n, prior)
    xi = np.linspace(xi_lo, xi_hi, n_mu)
    u = np.linspace(u_lo, u_hi, n_tau)
    h_xi, h_u = float(xi[1] - xi[0]), float(u[1] - u[0])
    mu, tau = m + a * np.sinh(xi), c * np.sinh(u)
    lp = _log_posterior(mu, tau, r, n, n_gh, prior)
    lp += np.log(a * np.cosh(xi))[:, None] + np.log(c * np.cosh(u))[None, :]

    w_xi = np.full(n_mu, h_xi)  # trapezoid: the ends carry negligible mass
    w_u = _simpson_weights(n_tau, h_u)
    dens = np.exp(lp - lp.max())
    dens /= float(w_xi @ dens @ w_u)
    weights = dens * w_xi[:, None] * w_u[None, :]

    mu_mass = weights.sum(axis=1)  # h_xi * marginal density of xi; sums to one
    u_pdf = w_xi @ dens
    u_cdf = cumulative_simpson(u_pdf, dx=h_u, initial=0.0)
    u_pdf /= u_cdf[-1]  # cumulative Simpson and Simpson totals agree to ~1e-12; make it exact
    u_cdf /= u_cdf[-1]
    if u_lo > 0.0:
        u_mode = "sinc"
    elif tau_family == "exponential":
        u_mode = "hermite"
    else:
        u_mode = "even"

    # where the grid had to stop at the cap, the density of tau beyond it (tail.py)
    at_cap = float(u_pdf[-1] / (c * math.cosh(u[-1]))) if truncated else 0.0
    tail = TauTail(tail_exponent(r, n, tau_family), float(tau[-1]), at_cap)
    moments = {
        "mu": _mean_sd(mu, mu_mass),
        "tau": _tau_mean_sd(tau, weights.sum(axis=0), tail),
        "rate_typical": _mean_sd(expit(mu), mu_mass),
        "rate_new": _beyond_cap(predictive_moments(mu, tau, weights, n_gh), tail.mass_beyond),
    }
    settings: dict[str, object] = {
        "events": r.tolist(),
        "totals": n.tolist(),
        "mu_mean": mu_mean,
        "mu_sd": mu_sd,
        "tau_family": tau_family,
        "tau_scale": tau_scale,
        "n_gh": n_gh,
        "n_mu": n_mu,
        "n_tau": n_tau,
        "tau_truncated": truncated,
        "tau_tail_exponent": tail.exponent,
        "tau_mass_beyond_cap": tail.mass_beyond,
    }
    return ExactPosterior(
        xi_grid=xi,
        u_grid=u,
        mu_grid=mu,
        tau_grid=tau,
        mu_center=m,
        mu_scale=a,
        tau_c=c,
        density=dens,
        weights=weights,
        moments=moments,
        settings=settings,
        tau_tail=tail,
        _mu_mass=mu_mass,
        _u_cdf=u_cdf,
        _u_pdf=u_pdf,
        _u_mode=u_mode,
    )


def _mean_sd(values: FloatArray, w: FloatArray) -> tuple[float, float]:
    m1 = float(w @ values)
    return m1, math.sqrt(max(float(w @ (values - m1) ** 2), 0.0))


def _tau_mean_sd(
    tau: FloatArray, w: FloatArray, tail: TauTail
) -> tuple[float | None, float | None]:
    """Mean and sd of tau, ``None`` where the moment is infinite; the tail beyond the cap added."""
    if not tail.density_at_cap:  # the grid holds (all but 1e-12 of) the mass
        mean, sd = _mean_sd(tau, w)
        return (mean if tail.has_moment(1) else None), (sd if tail.has_moment(2) else None)
    m1 = tail.moment(1, float(w @ tau))
    m2 = tail.moment(2, float(w @ tau**2))
    sd = None if m1 is None or m2 is None else math.sqrt(max(m2 - m1 * m1, 0.0))
    return m1, sd


def _beyond_cap(moments: tuple[float, float], mass: float) -> tuple[float, float]:
    """Mean and sd of rate_new with the share ``mass`` of tau beyond the cap.

    There ``logistic(mu + tau z)`` is 0 or 1 with probability 1/2 each (to O(1/tau)): first and
    second moments 1/2.
    """
    if not mass:
        return moments
    mean, sd = moments
    m1 = (1.0 - mass) * mean + 0.5 * mass
    m2 = (1.0 - mass) * (sd * sd + mean * mean) + 0.5 * mass
    return m1, math.sqrt(max(m2 - m1 * m1, 0.0))
