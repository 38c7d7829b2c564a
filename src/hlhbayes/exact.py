r"""Exact (deterministic) posterior of the binomial-logit-normal random-effects model.

This module is a reference implementation, independent of any MCMC code, used to check the
sampled models.  The model is

.. math::

    r_i \mid p_i &\sim \operatorname{Binomial}(n_i, p_i), \qquad
    \operatorname{logit} p_i = \mu + \tau z_i, \qquad z_i \sim N(0, 1), \\
    \mu &\sim N(m_0, s_0^2), \qquad \tau \sim \text{HalfNormal}(s),\ \text{HalfCauchy}(s),\
    \text{half-}t_3(s) \text{ or } \text{Exponential}(\text{rate} = 1/s).

Derived quantities: ``rate_typical`` :math:`= \operatorname{logistic}(\mu)` and ``rate_new``
:math:`= \operatorname{logistic}(\mu + \tau z_\text{new})`, the rate of a new study (the
meta-analytic-predictive, "MAP", prior).

**Likelihood.**  Each study's random effect is integrated out,

.. math::

    L_i(\mu, \tau) = \int \operatorname{Bin}(r_i \mid n_i, \operatorname{logistic}(\mu + \tau v))
    \, \phi(v) \, dv,

by *adaptive* Gauss-Hermite quadrature: for every :math:`(\mu, \tau)` the mode :math:`\hat v`
of the integrand is found by a few Newton steps and the curvature there gives the scale
:math:`\rho = (1 + \tau^2 n_i \hat p (1 - \hat p))^{-1/2}`; with probabilists' Hermite nodes and
weights :math:`(x_g, w_g)`, :math:`\sum_g w_g = 1`,

.. math::

    L_i \approx \rho \sum_g w_g \operatorname{Bin}(r_i \mid n_i,
    \operatorname{logistic}(\mu + \tau v_g)) \, e^{(x_g^2 - v_g^2)/2},
    \qquad v_g = \hat v + \rho x_g .

The rule is exact at :math:`\tau = 0` (then :math:`\hat v = 0, \rho = 1`) and, unlike the plain
rule, stays accurate when a study's likelihood is much narrower than :math:`N(\mu, \tau^2)`.
Everything is on the log scale (``log_expit``, log-sum-exp over the nodes, ``gammaln``).

**Grid.**  :math:`\mu` lives on a uniform grid; :math:`\tau = c \sinh u` with :math:`u` on a
uniform grid on :math:`[0, U]` (linear near zero, logarithmic in the tail; the Jacobian
:math:`c \cosh u` is included).  A coarse pass with a cheap rule finds where the posterior mass
is: ranges are widened while an edge still carries mass, and narrowed ("zoomed") while the
mass occupies a small part of the grid, until the marginal densities at the grid ends are
below :math:`e^{-30}` of their maximum.  The fine pass uses trapezoid weights in :math:`\mu`
(spectrally accurate for a smooth integrand that vanishes at both ends) and Simpson weights in
:math:`u`; the joint weights are normalised to one.

**Summaries.**  Means and standard deviations are weighted sums over the grid.  Marginal CDFs of
:math:`\mu` and :math:`u` come from a cumulative Simpson rule, interpolated by cubic Hermite
polynomials whose slopes are the densities themselves (fourth-order accurate); quantiles invert
them with :func:`scipy.optimize.brentq`.  ``rate_typical`` maps through the monotone logistic.
For ``rate_new``,

.. math::

    P(\text{rate\_new} \le x) = \sum_{j,k} W_{jk} \,
    \Phi\!\left(\frac{\operatorname{logit} x - \mu_j}{\tau_k}\right),

used directly where :math:`\tau_k` is at least twice the :math:`\mu` spacing.  For smaller
:math:`\tau_k` (including :math:`\tau_k = 0`, a step function) the sum over :math:`\mu` would be
a staircase, so the conditional CDF of :math:`\mu` in that column (Hermite interpolant) is
smoothed with Gauss-Hermite over :math:`z` instead; the resulting CDF is continuous, so its
quantiles satisfy ``cdf(q) == p`` to root-finding precision.  Predictive mean and sd integrate
``logistic(mu + tau z)`` over :math:`z` by Gauss-Hermite at every grid point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import cumulative_simpson
from scipy.optimize import brentq
from scipy.special import expit, gammaln, log_expit, log_ndtr, logit, ndtr

__all__ = ["QUANTITIES", "TAU_FAMILIES", "ExactPosterior", "random_effects_exact"]

FloatArray = NDArray[np.float64]

#: Prior families for tau, keyed by the name accepted by :func:`random_effects_exact`.
TAU_FAMILIES: tuple[str, ...] = ("halfnormal", "halfcauchy", "halft", "exponential")

#: Quantities summarised by :meth:`ExactPosterior.summary`, in this order.
QUANTITIES: tuple[str, ...] = ("mu", "tau", "rate_typical", "rate_new")

_HALF_T_DF = 3.0
_LOG_THRESHOLD = 30.0  # grid ends must carry density below exp(-30) of the maximum
_MAX_NEWTON = 100  # Newton steps for the mode (stops once converged)
_ADAPTIVE_LIMIT = 1.0  # r = 0 or n: adaptive Gauss-Hermite for tau <= limit * logit SE
_EDGE_STEP = 0.2
_COARSE_MU, _COARSE_U, _COARSE_GH = 41, 31, 8
_MAX_COARSE_PASSES = 40
_SMALL_TAU_FACTOR = 2.0  # tau_k < factor * h_mu: smooth the column's CDF instead of summing


# ---------------------------------------------------------------------------------------------
# priors and likelihood
# ---------------------------------------------------------------------------------------------


def _log_tau_prior(tau: FloatArray, family: str, scale: float) -> FloatArray:
    """Log density of the tau prior on tau >= 0."""
    x = tau / scale
    if family == "halfnormal":
        return math.log(2.0) - 0.5 * math.log(2.0 * math.pi) - math.log(scale) - 0.5 * x**2
    if family == "halfcauchy":
        return math.log(2.0 / math.pi) - math.log(scale) - np.log1p(x**2)
    if family == "halft":
        nu = _HALF_T_DF
        log_norm = (
            gammaln((nu + 1.0) / 2.0)
            - gammaln(nu / 2.0)
            - 0.5 * math.log(nu * math.pi)
            + math.log(2.0)
            - math.log(scale)
        )
        return log_norm - (nu + 1.0) / 2.0 * np.log1p(x**2 / nu)
    if family == "exponential":
        return -math.log(scale) - x
    raise ValueError(f"unknown tau family {family!r}")  # pragma: no cover - validated earlier


def _tau_prior_quantile(p: float, family: str, scale: float) -> float:
    """Quantile of the tau prior (used only to start the grid search)."""
    from scipy import stats

    dists = {
        "halfnormal": stats.halfnorm(scale=scale),
        "halfcauchy": stats.halfcauchy(scale=scale),
        "halft": stats.t(df=_HALF_T_DF, scale=scale),
        "exponential": stats.expon(scale=scale),
    }
    if family == "halft":
        return float(dists[family].ppf(0.5 + 0.5 * p))
    return float(dists[family].ppf(p))


def _hermite_rule(n: int) -> tuple[FloatArray, FloatArray]:
    """Probabilists' Gauss-Hermite nodes and log weights normalised to sum to one."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, np.log(w / math.sqrt(2.0 * math.pi))


def _logsumexp_last(a: FloatArray) -> FloatArray:
    """log(sum(exp(a), axis=-1)) without overflow."""
    top = a.max(axis=-1)
    return top + np.log(np.exp(a - top[..., None]).sum(axis=-1))


def _study_loglik_adaptive(
    mu: FloatArray, tau: FloatArray, r: int, n: int, x: FloatArray, logw: FloatArray
) -> FloatArray:
    """Log of integral Bin(r | n, logistic(mu + tau v)) phi(v) dv, adaptive Gauss-Hermite.

    For ``tau`` up to about the width of the study's likelihood on the logit scale; ``mu`` of
    shape (M, 1) and ``tau`` of shape (1, K) broadcast to the result, shape (M, K).
    """
    t2 = tau * tau
    # Mode of h(v) = log Bin(r | n, logistic(mu + tau v)) - v^2/2 (concave): safeguarded
    # Newton on h'(v) = tau (r - n p) - v, which is decreasing, with its root bracketed in
    # [tau (r - n), tau r]; start from the normal approximation of the study's likelihood.
    theta = math.log((r + 0.5) / (n - r + 0.5))
    se2 = 1.0 / (r + 0.5) + 1.0 / (n - r + 0.5)
    lo = np.broadcast_to(tau * (r - n), np.broadcast_shapes(mu.shape, tau.shape)).copy()
    hi = np.broadcast_to(tau * r, lo.shape).copy()
    v = np.clip(tau * (theta - mu) / (se2 + t2), lo, hi)
    for _ in range(_MAX_NEWTON):
        p = expit(mu + tau * v)
        grad = tau * (r - n * p) - v
        lo = np.where(grad > 0.0, v, lo)
        hi = np.where(grad < 0.0, v, hi)
        delta = grad / (1.0 + t2 * n * p * (1.0 - p))
        step = v + delta
        v = np.where((step < lo) | (step > hi), 0.5 * (lo + hi), step)
        if np.max(np.abs(delta)) < 1e-9:
            break
    p = expit(mu + tau * v)
    rho = 1.0 / np.sqrt(1.0 + t2 * n * p * (1.0 - p))
    vg = v[..., None] + rho[..., None] * x
    eta = mu[..., None] + tau[..., None] * vg
    terms = n * log_expit(eta) - (n - r) * eta + (logw + 0.5 * x * x) - 0.5 * vg * vg
    log_choose = gammaln(n + 1.0) - gammaln(r + 1.0) - gammaln(n - r + 1.0)
    return _logsumexp_last(terms) + np.log(rho) + log_choose


def _study_loglik_edge(mu: FloatArray, tau: FloatArray, r: int, n: int) -> FloatArray:
    """Same integral for a study with r = 0 or r = n and tau wider than its likelihood.

    For r = 0 the likelihood ``B(eta) = (1 + e^eta)^(-n)`` is a soft step, which the
    Laplace-centred rule cannot follow once tau is large.  Integrating by parts,

    ``integral B(eta) N(eta | mu, tau^2) d eta = integral Phi((eta - mu) / tau) g(eta) d eta``,

    with ``g = -B' = n logistic(eta) (1 - logistic(eta))^n`` a smooth density (analytic in
    the strip ``|Im eta| < pi``, so the trapezoid rule with step 0.2 is accurate to ~1e-11 and
    Phi is smooth on that scale because tau > sqrt(2)).  r = n is the mirror image.  The range
    drops tail mass below 1e-18.  Requires tau > 0.
    """
    eta, logw = _edge_rule(n)
    sign = 1.0 if r == 0 else -1.0
    terms = logw + log_ndtr((eta - sign * mu[..., None]) / tau[..., None])
    return _logsumexp_last(terms)


def _edge_rule(n: int) -> tuple[FloatArray, FloatArray]:
    """Trapezoid nodes and log weights for the density n logistic(eta) (1 - logistic(eta))^n."""
    lo = math.log(1e-18 / n)  # left tail mass ~ n e^eta
    hi = math.log(math.expm1(41.5 / n))  # right tail mass (1 + e^eta)^(-n) < 1e-18
    eta = np.arange(lo, hi + _EDGE_STEP, _EDGE_STEP)
    logw = math.log(n * _EDGE_STEP) + log_expit(eta) + n * log_expit(-eta)
    return eta, logw


def _log_likelihood(
    mu: FloatArray,
    tau: FloatArray,
    events: NDArray[np.int64],
    totals: NDArray[np.int64],
    n_gh: int,
) -> FloatArray:
    """Sum over studies of log L_i(mu, tau) on the outer grid, shape (len(mu), len(tau)).

    Adaptive Gauss-Hermite with ``n_gh`` nodes, except for studies with no events (or only
    events) at tau above the study's logit-scale standard error, see ``_study_loglik_edge``.
    """
    x, logw = _hermite_rule(n_gh)
    m = mu[:, None]
    out = np.zeros((mu.size, tau.size))
    pairs, counts = np.unique(np.stack([events, totals], axis=1), axis=0, return_counts=True)
    for (r, n), mult in zip(pairs.tolist(), counts.tolist(), strict=True):
        if 0 < r < n:
            narrow = np.ones(tau.shape, dtype=bool)
        else:
            se = math.sqrt(1.0 / (r + 0.5) + 1.0 / (n - r + 0.5))
            narrow = tau <= _ADAPTIVE_LIMIT * se
        if narrow.any():
            out[:, narrow] += mult * _study_loglik_adaptive(m, tau[None, narrow], r, n, x, logw)
        if (~narrow).any():
            out[:, ~narrow] += mult * _study_loglik_edge(m, tau[None, ~narrow], r, n)
    return out


def _simpson_weights(n: int, h: float) -> FloatArray:
    """Composite Simpson weights for an odd number of equally spaced points."""
    w = np.ones(n)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return w * h / 3.0


# ---------------------------------------------------------------------------------------------
# cubic Hermite interpolation of CDFs on a uniform grid
# ---------------------------------------------------------------------------------------------


def _hermite_eval(
    x0: float, h: float, values: FloatArray, slopes: FloatArray, y: FloatArray
) -> FloatArray:
    """Evaluate cubic Hermite interpolants on the uniform grid x0 + h * i.

    ``values``/``slopes`` have the grid along axis 0 and, optionally, columns along axis 1; for
    2-D input ``y`` must have shape (..., n_columns).  Below the grid the value is
    ``values[0]``, above it ``values[-1]``.
    """
    n = values.shape[0]
    s = (y - x0) / h
    i = np.clip(np.floor(s), 0, n - 2).astype(np.intp)
    s = np.clip(s - i, 0.0, 1.0)
    s2, s3 = s * s, s * s * s
    h00 = 2 * s3 - 3 * s2 + 1
    h10 = s3 - 2 * s2 + s
    h01 = -2 * s3 + 3 * s2
    h11 = s3 - s2
    if values.ndim == 1:
        return h00 * values[i] + h10 * h * slopes[i] + h01 * values[i + 1] + h11 * h * slopes[i + 1]
    cols = np.arange(values.shape[1])
    return (
        h00 * values[i, cols]
        + h10 * h * slopes[i, cols]
        + h01 * values[i + 1, cols]
        + h11 * h * slopes[i + 1, cols]
    )


def _cumulative(density: FloatArray, h: float) -> FloatArray:
    """Cumulative Simpson integral along axis 0, starting at zero."""
    return cumulative_simpson(density, dx=h, axis=0, initial=0.0)


# ---------------------------------------------------------------------------------------------
# the posterior object
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ExactPosterior:
    """Grid representation of the posterior of (mu, tau) with derived summaries.

    Attributes
    ----------
    mu_grid, u_grid, tau_grid : ndarray
        The fine grids; ``tau_grid = tau_c * sinh(u_grid)``.
    tau_c : float
        Scale of the sinh map from ``u`` to ``tau``.
    density : ndarray
        Normalised joint posterior density of (mu, u) at the grid points, shape
        (len(mu_grid), len(u_grid)) (density in ``u``, i.e. including the Jacobian).
    weights : ndarray
        Joint quadrature weights (density times trapezoid x Simpson weights); they sum to one.
    moments : dict
        ``{quantity: (mean, sd)}`` for the four quantities.
    settings : dict
        The prior, the data and the numerical settings used.
    """

    mu_grid: FloatArray
    u_grid: FloatArray
    tau_grid: FloatArray
    tau_c: float
    density: FloatArray
    weights: FloatArray
    moments: dict[str, tuple[float, float]]
    settings: dict[str, object]
    _col_cdf: FloatArray = field(repr=False)
    _mu_cdf: FloatArray = field(repr=False)
    _mu_pdf: FloatArray = field(repr=False)
    _u_cdf: FloatArray = field(repr=False)
    _u_pdf: FloatArray = field(repr=False)
    _gh_x: FloatArray = field(repr=False)
    _gh_w: FloatArray = field(repr=False)

    # -- helpers ---------------------------------------------------------------------------

    @property
    def _h_mu(self) -> float:
        return float(self.mu_grid[1] - self.mu_grid[0])

    @property
    def _h_u(self) -> float:
        return float(self.u_grid[1] - self.u_grid[0])

    @property
    def _small(self) -> NDArray[np.bool_]:
        return self.tau_grid < _SMALL_TAU_FACTOR * self._h_mu

    def _theta_new_cdf(self, t: float, upper: bool = False) -> float:
        """P(mu + tau z <= t), or P(mu + tau z > t) if ``upper``."""
        small = self._small
        big = ~small
        total = 0.0
        if big.any():
            z = (t - self.mu_grid[:, None]) / self.tau_grid[None, big]
            total += float(np.sum(self.weights[:, big] * ndtr(-z if upper else z)))
        if small.any():
            cols = np.flatnonzero(small)
            # conditional CDF (unnormalised, scaled by the column's u weight) smoothed over z
            w_u = self._u_w[cols]
            pts = t - self.tau_grid[None, cols] * self._gh_x[:, None]  # (G, n_small)
            values = self._col_cdf[:, cols] * w_u
            vals = _hermite_eval(
                float(self.mu_grid[0]), self._h_mu, values, self.density[:, cols] * w_u, pts
            )
            if upper:
                vals = values[-1][None, :] - vals
            total += float(self._gh_w @ vals.sum(axis=1))
        return min(max(total, 0.0), 1.0)

    @property
    def _u_w(self) -> FloatArray:
        return _simpson_weights(self.u_grid.size, self._h_u)

    def _mu_cdf_at(self, x: float) -> float:
        val = _hermite_eval(
            float(self.mu_grid[0]), self._h_mu, self._mu_cdf, self._mu_pdf, np.asarray(x)
        )
        return float(min(max(val, 0.0), 1.0))

    def _u_cdf_at(self, u: float) -> float:
        val = _hermite_eval(0.0, self._h_u, self._u_cdf, self._u_pdf, np.asarray(u))
        return float(min(max(val, 0.0), 1.0))

    @staticmethod
    def _check_quantity(quantity: str) -> None:
        if quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity {quantity!r}; expected one of {QUANTITIES}")

    # -- public API ------------------------------------------------------------------------

    def cdf(self, quantity: str, x: float) -> float:
        """Posterior CDF ``P(quantity <= x)``.

        Parameters
        ----------
        quantity : str
            One of ``"mu"``, ``"tau"``, ``"rate_typical"``, ``"rate_new"``.
        x : float
            Point at which to evaluate the CDF (a logit for ``mu``, a rate for the rates).

        Returns
        -------
        float
            The probability, in [0, 1].
        """
        self._check_quantity(quantity)
        x = float(x)
        if quantity == "mu":
            return self._mu_cdf_at(x)
        if quantity == "tau":
            if x < 0.0:
                return 0.0
            return self._u_cdf_at(math.asinh(x / self.tau_c))
        if x <= 0.0:
            return 0.0
        if x >= 1.0:
            return 1.0
        t = float(logit(x))
        if quantity == "rate_typical":
            return self._mu_cdf_at(t)
        return self._theta_new_cdf(t)

    def prob_above(self, quantity: str, threshold: float) -> float:
        """Posterior probability ``P(quantity > threshold)``.

        For ``rate_new`` the upper tail is summed directly (no ``1 - cdf`` cancellation).

        Parameters
        ----------
        quantity : str
            Usually ``"rate_typical"`` or ``"rate_new"``; ``"mu"`` and ``"tau"`` also work.
        threshold : float
            The threshold (a rate for the rates).

        Returns
        -------
        float
            The probability, in [0, 1].
        """
        self._check_quantity(quantity)
        if quantity == "rate_new" and 0.0 < threshold < 1.0:
            return self._theta_new_cdf(float(logit(threshold)), upper=True)
        return 1.0 - self.cdf(quantity, threshold)

    def quantile(self, quantity: str, p: float) -> float:
        """Posterior quantile of ``quantity`` at probability ``p`` (0 < p < 1).

        Parameters
        ----------
        quantity : str
            One of ``"mu"``, ``"tau"``, ``"rate_typical"``, ``"rate_new"``.
        p : float
            Probability strictly between 0 and 1.

        Returns
        -------
        float
            ``x`` with ``cdf(quantity, x) == p`` (to ~1e-12 in the underlying scale).
        """
        self._check_quantity(quantity)
        if not 0.0 < p < 1.0:
            raise ValueError(f"p must be strictly between 0 and 1, got {p}")
        mu_lo, mu_hi = float(self.mu_grid[0]), float(self.mu_grid[-1])
        if quantity in ("mu", "rate_typical"):
            q = _root(lambda s: self._mu_cdf_at(s) - p, mu_lo, mu_hi)
            return q if quantity == "mu" else float(expit(q))
        if quantity == "tau":
            u = _root(lambda s: self._u_cdf_at(s) - p, 0.0, float(self.u_grid[-1]))
            return self.tau_c * math.sinh(u)
        spread = 10.0 * float(self.tau_grid[-1]) + 1.0
        q = _root(lambda s: self._theta_new_cdf(s) - p, mu_lo - spread, mu_hi + spread)
        return float(expit(q))

    def summary(self, probs: Sequence[float] = (0.025, 0.5, 0.975)) -> list[dict[str, object]]:
        """Mean, sd and quantiles of mu, tau, rate_typical and rate_new.

        Parameters
        ----------
        probs : sequence of float
            Probabilities of the quantiles to report; key ``f"q{100 * p:g}"``.

        Returns
        -------
        list of dict
            One dict per quantity in the order mu, tau, rate_typical, rate_new, with keys
            ``quantity``, ``mean``, ``sd`` and one key per probability (e.g. ``"q2.5"``).
        """
        rows: list[dict[str, object]] = []
        for name in QUANTITIES:
            mean, sd = self.moments[name]
            row: dict[str, object] = {"quantity": name, "mean": mean, "sd": sd}
            for p in probs:
                row[f"q{100 * p:g}"] = self.quantile(name, float(p))
            rows.append(row)
        return rows


def _root(func: Callable[[float], float], lo: float, hi: float) -> float:
    """Bracketed root of an increasing function, widening the bracket if needed."""
    width = hi - lo
    for _ in range(60):
        if func(lo) > 0.0:
            lo -= width
            width *= 2.0
        elif func(hi) < 0.0:
            hi += width
            width *= 2.0
        else:
            return float(brentq(func, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps))
    raise RuntimeError("could not bracket the quantile")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# grid search and the public entry point
# ---------------------------------------------------------------------------------------------


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


def _log_posterior(
    mu: FloatArray,
    u: FloatArray,
    c: float,
    r: NDArray[np.int64],
    n: NDArray[np.int64],
    n_gh: int,
    prior: tuple[float, float, str, float],
) -> tuple[FloatArray, FloatArray]:
    """Unnormalised log posterior density of (mu, u), and tau = c sinh(u)."""
    mu_mean, mu_sd, family, scale = prior
    tau = c * np.sinh(u)
    lp = _log_likelihood(mu, tau, r, n, n_gh)
    lp += (-0.5 * ((mu - mu_mean) / mu_sd) ** 2)[:, None]
    lp += (_log_tau_prior(tau, family, scale) + np.log(c * np.cosh(u)))[None, :]
    return lp, tau


def _log_marginals(lp: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Log marginal densities (up to constants) along each axis of a uniform grid."""
    top = lp.max()
    e = np.exp(lp - top)
    with np.errstate(divide="ignore"):
        return np.log(e.sum(axis=1)), np.log(e.sum(axis=0))


def _find_ranges(
    r: NDArray[np.int64],
    n: NDArray[np.int64],
    prior: tuple[float, float, str, float],
) -> tuple[float, float, float, float]:
    """Coarse passes: return (mu_lo, mu_hi, tau_c, u_max) enclosing the posterior mass."""
    mu_mean, mu_sd, family, scale = prior
    theta = np.log((r + 0.5) / (n - r + 0.5))
    se = np.sqrt(1.0 / (r + 0.5) + 1.0 / (n - r + 0.5))
    mu_lo = float(min(np.min(theta - 4.0 * se), mu_mean - 4.0 * mu_sd))
    mu_hi = float(max(np.max(theta + 4.0 * se), mu_mean + 4.0 * mu_sd))
    # start from the prior's 1 - 1e-6 quantile, but at most 50 (heterogeneity of 50 logits);
    # the passes below widen the range if the posterior needs more.
    t_max = min(_tau_prior_quantile(1.0 - 1e-6, family, scale), 50.0)
    c = t_max / 10.0
    for _ in range(_MAX_COARSE_PASSES):
        u_max = math.asinh(t_max / c)
        mu = np.linspace(mu_lo, mu_hi, _COARSE_MU)
        u = np.linspace(0.0, u_max, _COARSE_U)
        lp, tau = _log_posterior(mu, u, c, r, n, _COARSE_GH, prior)
        lmu, lu = _log_marginals(lp)
        keep_mu = np.flatnonzero(lmu > lmu.max() - _LOG_THRESHOLD)
        keep_u = np.flatnonzero(lu > lu.max() - _LOG_THRESHOLD)
        i0, i1, k1 = int(keep_mu[0]), int(keep_mu[-1]), int(keep_u[-1])
        width = mu_hi - mu_lo
        grown = False
        if i0 == 0:
            mu_lo -= width
            grown = True
        if i1 == _COARSE_MU - 1:
            mu_hi += width
            grown = True
        if k1 == _COARSE_U - 1:
            t_max *= 8.0
            grown = True
        # scale of the sinh map: the posterior median of tau on this grid
        pu = np.exp(lu - lu.max())
        cdf_u = np.cumsum(pu) / pu.sum()
        median_tau = float(tau[min(int(np.searchsorted(cdf_u, 0.5)), tau.size - 1)])
        if grown:
            c = min(c, t_max / 10.0)
            continue
        new_lo, new_hi = float(mu[i0 - 1]), float(mu[i1 + 1])
        new_t = float(tau[k1 + 1])
        new_c = min(max(median_tau, new_t / 1000.0), new_t / 3.0)
        zoom = (i1 - i0) < _COARSE_MU // 2 or k1 < _COARSE_U // 2
        mu_lo, mu_hi, t_max, c = new_lo, new_hi, new_t, new_c
        if not zoom:
            break
    return mu_lo, mu_hi, c, math.asinh(t_max / c)


def random_effects_exact(
    events: ArrayLike,
    totals: ArrayLike,
    *,
    mu_mean: float = 0.0,
    mu_sd: float = 1.5,
    tau_family: str = "halfnormal",
    tau_scale: float = 1.0,
    n_gh: int = 60,
    n_mu: int = 161,
    n_tau: int = 101,
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
        Gauss-Hermite nodes for each study's random effect (adaptive rule) and for the
        predictive moments.
    n_mu, n_tau : int
        Fine-grid sizes for ``mu`` and for ``u = asinh(tau / c)``; ``n_tau`` is rounded up to
        an odd number (Simpson's rule).

    Returns
    -------
    ExactPosterior
        Grid posterior with ``summary``, ``cdf``, ``quantile`` and ``prob_above``.

    Raises
    ------
    ValueError
        If the data are inconsistent, a prior parameter is not positive, or ``tau_family``
        is unknown.
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

    mu_lo, mu_hi, c, u_max = _find_ranges(r, n, prior)
    mu = np.linspace(mu_lo, mu_hi, n_mu)
    u = np.linspace(0.0, u_max, n_tau)
    h_mu, h_u = float(mu[1] - mu[0]), float(u[1] - u[0])
    lp, tau = _log_posterior(mu, u, c, r, n, n_gh, prior)

    w_mu = np.full(n_mu, h_mu)  # trapezoid; the end values are ~exp(-30) of the maximum
    w_u = _simpson_weights(n_tau, h_u)
    dens = np.exp(lp - lp.max())
    norm = float(w_mu @ dens @ w_u)
    dens /= norm
    weights = dens * w_mu[:, None] * w_u[None, :]

    # marginal densities and CDFs
    mu_pdf = dens @ w_u
    u_pdf = w_mu @ dens
    col_cdf = _cumulative(dens, h_mu)
    mu_cdf = col_cdf @ w_u
    u_cdf = _cumulative(u_pdf, h_u)
    u_pdf /= u_cdf[-1]  # cumulative Simpson and Simpson totals agree to ~1e-12; make it exact
    u_cdf /= u_cdf[-1]

    # moments
    x, logw = _hermite_rule(n_gh)
    gh_w = np.exp(logw)
    wm, wt = weights.sum(axis=1), weights.sum(axis=0)

    def mean_sd(values: FloatArray, w: FloatArray) -> tuple[float, float]:
        m1 = float(w @ values)
        var = float(w @ (values - m1) ** 2)
        return m1, math.sqrt(max(var, 0.0))

    rate = expit(mu)
    pred = expit(mu[:, None, None] + tau[None, :, None] * x)  # (mu, tau, node)
    pred1 = pred @ gh_w
    pred2 = (pred * pred) @ gh_w
    pm = float(np.sum(weights * pred1))
    pv = float(np.sum(weights * pred2)) - pm * pm
    moments = {
        "mu": mean_sd(mu, wm),
        "tau": mean_sd(tau, wt),
        "rate_typical": mean_sd(rate, wm),
        "rate_new": (pm, math.sqrt(max(pv, 0.0))),
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
    }
    return ExactPosterior(
        mu_grid=mu,
        u_grid=u,
        tau_grid=tau,
        tau_c=c,
        density=dens,
        weights=weights,
        moments=moments,
        settings=settings,
        _col_cdf=col_cdf,
        _mu_cdf=mu_cdf,
        _mu_pdf=mu_pdf,
        _u_cdf=u_cdf,
        _u_pdf=u_pdf,
        _gh_x=x,
        _gh_w=gh_w,
    )
