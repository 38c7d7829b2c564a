"""The exact posterior on its grid: CDFs, quantiles and summaries (see :mod:`hlhbayes.exact`).

CDFs of the grid densities integrate their band-limited (sinc) interpolants, or a cubic Hermite
interpolant of the cumulative Simpson integral (exponential prior with mass at tau = 0);
quantiles invert them by Brent's method; ``rate_new`` integrates ``logistic(mu + tau z)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.special import expit, logit, ndtr, sici

from hlhbayes.exact.likelihood import hermite_rule
from hlhbayes.exact.tail import TauTail

FloatArray = NDArray[np.float64]

#: Quantities summarised by :meth:`ExactPosterior.summary`, in this order.
QUANTITIES: tuple[str, ...] = ("mu", "tau", "rate_typical", "rate_new")

_SMALL_TAU_FACTOR = 1.5  # tau_k < factor * local mu spacing: smooth the column CDF, not a sum
_TAYLOR_TAU_FACTOR = 0.05  # tau_k <= factor * spacing: smooth by a second-order Taylor term
_SMOOTH_GH = 12  # Gauss-Hermite nodes for that smoothing (tau_k is small against sd(mu))
NOTED_MASS = 1e-6  # a share of tau beyond the cap below this changes no printed digit


def _sinc_cdf(h: float, points: FloatArray, masses: FloatArray, y: FloatArray) -> FloatArray:
    """CDF at ``y`` of the band-limited (sinc) interpolant of a density on a uniform grid.

    ``points`` are (a subset of) the grid points, spacing ``h``, and ``masses = h * f(points)``
    along the last axis (broadcasting against ``y[..., None]``); grid points left out must have
    negligible mass.  The sinc interpolant integrates in closed form,
    ``integral_{-inf}^{y} sinc((x - x_j) / h) dx / h = 1/2 + Si(pi (y - x_j) / h) / pi``; for
    a smooth density that is negligible at both grid ends this is spectrally accurate, like
    the trapezoid rule for the total (which it reproduces exactly as ``y -> inf``).
    """
    si, _ = sici(math.pi * (y[..., None] - points) / h)
    return np.sum(masses * (0.5 + si / math.pi), axis=-1)


def _hermite_eval(h: float, values: FloatArray, slopes: FloatArray, y: float) -> float:
    """Cubic Hermite interpolant on the grid ``h * i`` (clamped to the end values)."""
    n = values.shape[0]
    s = y / h
    i = min(max(math.floor(s), 0), n - 2)
    s = min(max(s - i, 0.0), 1.0)
    s2, s3 = s * s, s * s * s
    return float(
        (2 * s3 - 3 * s2 + 1) * values[i]
        + (s3 - 2 * s2 + s) * h * slopes[i]
        + (-2 * s3 + 3 * s2) * values[i + 1]
        + (s3 - s2) * h * slopes[i + 1]
    )


def predictive_moments(
    mu: FloatArray, tau: FloatArray, weights: FloatArray, n_gh: int
) -> tuple[float, float]:
    """Mean and sd of logistic(mu + tau z) under the grid weights.

    For tau <= 2, Gauss-Hermite over z (the integrand's poles are >= pi / 2 from the real
    axis).  For wider tau, ``E[logistic(X)^k] = E[Phi((mu - T_k) / tau)]`` with ``T_k`` of CDF
    ``logistic^k``, by the trapezoid rule in t (step 0.2 on [-40, 40]; the densities of T_k
    are analytic in ``|Im t| < pi``).  Grid points of negligible weight are skipped.
    """
    mm, tt = np.meshgrid(mu, tau, indexing="ij")
    use = weights > 1e-18 * weights.max()  # the rest carries < 1e-14 of the mass
    mm, tt, w = mm[use], tt[use], weights[use]
    m1 = np.empty(w.shape)
    m2 = np.empty(w.shape)
    narrow = tt <= 2.0
    x, logw = hermite_rule(max(n_gh, 20))
    pred = expit(mm[narrow, None] + tt[narrow, None] * x)
    gh_w = np.exp(logw)
    m1[narrow] = pred @ gh_w
    m2[narrow] = (pred * pred) @ gh_w
    if (~narrow).any():
        t = np.linspace(-40.0, 40.0, 401)
        st = expit(t)
        g1 = 0.2 * st * (1.0 - st)
        g2 = 2.0 * st * g1
        cdf = ndtr((mm[~narrow, None] - t) / tt[~narrow, None])
        m1[~narrow] = cdf @ g1
        m2[~narrow] = cdf @ g2
    mean = float(w @ m1)
    var = float(w @ m2) - mean * mean
    return mean, math.sqrt(max(var, 0.0))


@dataclass(frozen=True, eq=False)
class ExactPosterior:
    """Grid representation of the posterior of (mu, tau) with derived summaries.

    The grids are uniform in ``xi`` and ``u``, with ``mu = mu_center + mu_scale * sinh(xi)``
    and ``tau = tau_c * sinh(u)``: fine in the bulk, logarithmic in heavy tails.

    Attributes
    ----------
    xi_grid, u_grid : ndarray
        The uniform grids.
    mu_grid, tau_grid : ndarray
        The corresponding values of ``mu`` and ``tau``.
    mu_center, mu_scale, tau_c : float
        Parameters of the two sinh maps.
    density : ndarray
        Normalised joint posterior density of (xi, u) at the grid points, shape
        (len(xi_grid), len(u_grid)) (a density in the grid variables, Jacobians included).
    weights : ndarray
        Joint quadrature weights (density times trapezoid x Simpson weights); they sum to one.
    moments : dict
        ``{quantity: (mean, sd)}`` for the four quantities; ``None`` for a moment of tau that
        is infinite (:mod:`hlhbayes.exact.tail`).
    settings : dict
        The data, the prior and the numerical settings used.
    tau_tail : TauTail
        Tau beyond the grid's cap: the tau and rate_new summaries include it.
    """

    xi_grid: FloatArray
    u_grid: FloatArray
    mu_grid: FloatArray
    tau_grid: FloatArray
    mu_center: float
    mu_scale: float
    tau_c: float
    density: FloatArray
    weights: FloatArray
    moments: dict[str, tuple[float | None, float | None]]
    settings: dict[str, object]
    tau_tail: TauTail
    _mu_mass: FloatArray = field(repr=False)
    _u_cdf: FloatArray = field(repr=False)
    _u_pdf: FloatArray = field(repr=False)
    _u_mode: str = field(repr=False)

    # -- helpers ---------------------------------------------------------------------------

    @property
    def _h_xi(self) -> float:
        return float(self.xi_grid[1] - self.xi_grid[0])

    @property
    def _h_u(self) -> float:
        return float(self.u_grid[1] - self.u_grid[0])

    def _xi(self, x: FloatArray) -> FloatArray:
        return np.arcsinh((x - self.mu_center) / self.mu_scale)

    def _mu_cdf_at(self, x: float, upper: bool = False) -> float:
        """P(mu <= x), or P(mu > x) if ``upper`` (1 - S(s) = S(-s): no cancellation)."""
        y = self._xi(np.asarray(x, dtype=float))
        if upper:
            val = _sinc_cdf(self._h_xi, -self.xi_grid, self._mu_mass, -y)
        else:
            val = _sinc_cdf(self._h_xi, self.xi_grid, self._mu_mass, y)
        return min(max(float(val), 0.0), 1.0)

    @cached_property
    def _u_sinc(self) -> tuple[FloatArray, FloatArray, float]:
        """Points, masses and total for the sinc CDF in u (even extension if needed)."""
        h = self._h_u
        mass = h * self._u_pdf
        if self._u_mode == "even":
            pts = np.concatenate([-self.u_grid[:0:-1], self.u_grid])
            mass = np.concatenate([mass[:0:-1], mass])
        else:
            pts = self.u_grid
        return pts, mass, float(mass.sum())

    def _u_cdf_at(self, u: float) -> float:
        """P(U <= u) for the grid variable u of tau.

        Spectrally accurate sinc CDF when the density vanishes at both ends of the u grid, or
        (even tau priors: the posterior density in u is then even in u) of its even
        extension when the grid starts at tau = 0; otherwise (exponential prior with mass
        at tau = 0) a cubic Hermite interpolant of the cumulative Simpson integral.
        """
        if self._u_mode == "hermite":
            val = _hermite_eval(self._h_u, self._u_cdf, self._u_pdf, u - float(self.u_grid[0]))
        else:
            pts, mass, total = self._u_sinc
            val = float(_sinc_cdf(self._h_u, pts, mass, np.asarray(u, dtype=float)))
            if self._u_mode == "even":
                val = (val - 0.5 * total) / (0.5 * total)
            else:
                val /= total
        return min(max(val, 0.0), 1.0)

    @cached_property
    def _theta_new_parts(self) -> dict[str, FloatArray]:
        """Grid pieces for the CDF of mu + tau z, split by tau (see ``_theta_new_cdf_vec``)."""
        w = self.weights
        keep = w > 1e-18 * w.max()  # the rest carries < 1e-14 of the mass
        tau = self.tau_grid
        # largest local mu spacing, column by column, among the points that matter: where a
        # point of weight < 1e-12 of the largest is summed with a too-narrow Phi, the CDF
        # gets a step of that (negligible) height
        spacing = self.mu_scale * np.cosh(self.xi_grid) * self._h_xi
        matter = w > 1e-12 * w.max()
        local = np.where(matter, spacing[:, None], 0.0).max(axis=0)
        # tau = 0 is never "big": in a column where no point matters, local is 0 and the
        # test alone would divide by tau = 0; it belongs to the Taylor branch (exact there)
        big = (tau > 0) & (tau >= _SMALL_TAU_FACTOR * local)
        tiny = ~big & (tau <= _TAYLOR_TAU_FACTOR * local)
        mid = ~big & ~tiny
        jj, kk = np.nonzero(keep & big[None, :])
        rows = np.flatnonzero(keep[:, ~big].any(axis=1))
        tiny_w = w[np.ix_(rows, np.flatnonzero(tiny))]
        return {
            "big_mu": self.mu_grid[jj],
            "big_tau": tau[kk],
            "big_w": w[jj, kk],
            "rows_xi": self.xi_grid[rows],
            "mid_tau": tau[mid],
            "mid_w": w[np.ix_(rows, np.flatnonzero(mid))].T,  # (n_mid, n_rows)
            "tiny_m0": tiny_w.sum(axis=1),
            "tiny_m2": tiny_w @ (0.5 * tau[tiny] ** 2),
        }

    def _theta_new_cdf_vec(self, t: FloatArray, upper: bool = False) -> FloatArray:
        """P(mu + tau z <= t) for an array ``t``, or P(mu + tau z > t) if ``upper``.

        The grid's share, and 1/2 of the mass of tau beyond the cap (where ``mu + tau z`` is
        below any moderate ``t`` with probability 1/2, to O(1/tau)).
        """
        beyond = self.tau_tail.mass_beyond
        return (1.0 - beyond) * self._theta_new_grid_cdf(t, upper) + 0.5 * beyond

    def _theta_new_grid_cdf(self, t: FloatArray, upper: bool = False) -> FloatArray:
        """P(mu + tau z <= t) on the grid, or P(mu + tau z > t) if ``upper``.

        Columns whose tau is at least 1.5 local mu spacings: the grid sum of
        ``Phi((t - mu) / tau)`` (spectrally accurate: the aliasing error is
        ~exp(-2 pi^2 1.5^2)).  Narrower columns would give a staircase; there the column's
        sinc-interpolated CDF of mu, F, is smoothed over z instead: by Gauss-Hermite for tau
        above 0.05 spacings, and below by the Taylor expansion ``F + tau^2 F'' / 2`` (next
        term ``tau^4 F^(4) / 8``, relatively < 1e-8).  The result is continuous in t.  Grid
        points with weight below 1e-18 of the largest are skipped.
        """
        h = self._h_xi
        parts = self._theta_new_parts
        sign = -1.0 if upper else 1.0
        total = np.zeros(t.shape)
        if parts["big_w"].size:
            z = (t[:, None] - parts["big_mu"]) / parts["big_tau"]
            total += ndtr(sign * z) @ parts["big_w"]
        xi_r = parts["rows_xi"]
        if not xi_r.size:
            return np.clip(total, 0.0, 1.0)
        if parts["mid_tau"].size:
            pts = t[:, None, None] - parts["mid_tau"][:, None] * self._smooth_x  # (T, S, G)
            vals = _sinc_cdf(h, sign * xi_r, parts["mid_w"][:, None, :], sign * self._xi(pts))
            total += (vals @ self._smooth_w).sum(axis=1)
        y = self._xi(t)
        total += _sinc_cdf(h, sign * xi_r, parts["tiny_m0"], sign * y)
        # F(t) = G(xi(t)) with G the sinc-interpolated CDF in xi:
        # F'' = G'' xi'^2 + G' xi'', G' = sum m sinc(s) / h, G'' = sum m sinc'(s) / h^2
        s = (y[:, None] - xi_r) / h
        near = np.abs(s) < 1e-4
        safe = np.where(near, 1.0, s)
        dsinc = np.where(
            near, -(math.pi**2) * s / 3.0, (np.cos(math.pi * safe) - np.sinc(safe)) / safe
        )
        g1 = (np.sinc(s) @ parts["tiny_m2"]) / h
        g2 = (dsinc @ parts["tiny_m2"]) / h**2
        d = t - self.mu_center
        xi1 = 1.0 / np.sqrt(self.mu_scale**2 + d * d)
        total += sign * (g2 * xi1**2 - g1 * d * xi1**3)
        return np.clip(total, 0.0, 1.0)

    @cached_property
    def _smooth_x(self) -> FloatArray:
        return hermite_rule(_SMOOTH_GH)[0]

    @cached_property
    def _smooth_w(self) -> FloatArray:
        return np.exp(hermite_rule(_SMOOTH_GH)[1])

    def _theta_new_cdf(self, t: float, upper: bool = False) -> float:
        return float(self._theta_new_cdf_vec(np.array([t], dtype=float), upper)[0])

    def _quantiles(self, quantity: str, probs: Sequence[float]) -> list[float]:
        """Quantiles: bracket on a coarse evaluation, then Brent's method."""
        ps = [float(p) for p in probs]
        for p in ps:
            if not 0.0 < p < 1.0:
                raise ValueError(f"p must be strictly between 0 and 1, got {p}")
        out: list[float] = []
        if quantity in ("mu", "rate_typical"):
            approx = np.cumsum(self._mu_mass) - 0.5 * self._mu_mass
            grid = self.mu_grid
            for p in ps:
                i = int(np.searchsorted(approx, p))
                lo, hi = grid[max(i - 2, 0)], grid[min(i + 1, grid.size - 1)]
                q = _root(lambda s, p=p: self._mu_cdf_at(s) - p, float(lo), float(hi))
                out.append(q if quantity == "mu" else float(expit(q)))
        elif quantity == "tau":
            beyond = self.tau_tail.mass_beyond
            for p in ps:
                if p >= 1.0 - beyond:  # beyond the cap: on the power-law tail (tail.py)
                    e = self.tau_tail.exponent
                    out.append(self.tau_tail.cap * (beyond / (1.0 - p)) ** (1.0 / (e - 1.0)))
                    continue
                p = p / (1.0 - beyond)
                i = int(np.searchsorted(self._u_cdf, p))
                lo = self.u_grid[max(i - 1, 0)]
                hi = self.u_grid[min(i, self.u_grid.size - 1)]
                u = _root(lambda s, p=p: self._u_cdf_at(s) - p, float(lo), float(hi))
                out.append(self.tau_c * math.sinh(u))
        else:
            mean, sd = self.moments["mu"]
            tau2 = float(np.sum(self.weights.sum(axis=0) * self.tau_grid**2))
            cand = mean + math.sqrt(sd * sd + tau2) * np.linspace(-12.0, 12.0, 49)
            cdf = self._theta_new_cdf_vec(cand)
            for p in ps:
                i = int(np.searchsorted(cdf, p))
                lo, hi = cand[max(i - 1, 0)], cand[min(i, cand.size - 1)]
                q = _root(lambda s, p=p: self._theta_new_cdf(s) - p, float(lo), float(hi))
                out.append(float(expit(q)))
        return out

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
            tail = self.tau_tail
            if x > tail.cap and tail.mass_beyond:
                return 1.0 - tail.mass_beyond * (x / tail.cap) ** (1.0 - tail.exponent)
            return (1.0 - tail.mass_beyond) * self._u_cdf_at(math.asinh(x / self.tau_c))
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

        For ``mu``, ``rate_typical`` and ``rate_new`` the upper tail is summed directly rather
        than computed as ``1 - cdf`` (no cancellation for small tail probabilities).

        Parameters
        ----------
        quantity : str
            Usually ``"rate_typical"`` or ``"rate_new"``; ``"mu"`` and ``"tau"`` also work.
        threshold : float
            The threshold (a logit for ``mu``, a rate for the rates).

        Returns
        -------
        float
            The probability, in [0, 1].
        """
        self._check_quantity(quantity)
        threshold = float(threshold)
        if quantity == "mu":
            return self._mu_cdf_at(threshold, upper=True)
        if quantity in ("rate_typical", "rate_new") and 0.0 < threshold < 1.0:
            t = float(logit(threshold))
            if quantity == "rate_typical":
                return self._mu_cdf_at(t, upper=True)
            return self._theta_new_cdf(t, upper=True)
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
            ``x`` with ``cdf(quantity, x) == p`` (root found to ~1e-13 on the logit, u or
            mu scale).
        """
        self._check_quantity(quantity)
        return self._quantiles(quantity, [p])[0]

    def summary(self, probs: Sequence[float] = (0.025, 0.5, 0.975)) -> list[dict[str, object]]:
        """Mean, sd and quantiles of mu, tau, rate_typical and rate_new.

        Parameters
        ----------
        probs : sequence of float
            Probabilities of the quantiles to report, each under the key ``f"q{100 * p:g}"``.

        Returns
        -------
        list of dict
            One dict per quantity in the order mu, tau, rate_typical, rate_new, with keys
            ``quantity``, ``mean``, ``sd`` and one key per probability (e.g. ``"q2.5"``);
            ``mean`` and ``sd`` of tau are ``None`` when infinite (see :meth:`notes`).
        """
        rows: list[dict[str, object]] = []
        for name in QUANTITIES:
            mean, sd = self.moments[name]
            row: dict[str, object] = {"quantity": name, "mean": mean, "sd": sd}
            for p, q in zip(probs, self._quantiles(name, probs), strict=True):
                row[f"q{100 * p:g}"] = q
            rows.append(row)
        return rows

    def notes(self) -> list[str]:
        """One line per caveat of the summaries.

        An infinite moment of tau, and the share of tau beyond the grid's cap (which mu and
        rate_typical leave out).
        """
        tail = self.tau_tail
        mean, sd = self.moments["tau"]
        lines = []
        if mean is None:
            lines.append(tail.why_not("mean and sd", 1))
        elif sd is None:
            lines.append(tail.why_not("sd", 2))
        if tail.mass_beyond >= NOTED_MASS:
            lines.append(
                f"tau: {tail.mass_beyond:.2g} of its posterior lies beyond the grid's cap "
                f"(tau = {tail.cap:g}); tau's quantiles and rate_new include it by its power-law "
                "tail, mu and rate_typical leave it out"
            )
        return lines


def _root(func: Callable[[float], float], lo: float, hi: float) -> float:
    """Bracketed root of an increasing function, widening the bracket if needed."""
    width = max(hi - lo, 1e-3)
    for _ in range(200):
        if func(lo) > 0.0:
            lo -= width
            width *= 2.0
        elif func(hi) < 0.0:
            hi += width
            width *= 2.0
        else:
            return float(brentq(func, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps))
    raise RuntimeError("could not bracket the quantile")  # pragma: no cover
