r"""Fit a mixture of beta distributions to draws by expectation-maximisation (EM).

This is the step that turns the MCMC draws of a meta-analytic-predictive (MAP) distribution
into a parametric prior (RBesT ``mixfit`` / ``EM_bmm_ab`` / ``automixfit``).

**E-step.** Responsibilities of component :math:`k` for draw :math:`x_i`,

.. math::

    r_{ik} = \frac{w_k \operatorname{Beta}(x_i \mid a_k, b_k)}
                  {\sum_j w_j \operatorname{Beta}(x_i \mid a_j, b_j)} .

**M-step.** :math:`w_k = \frac1N \sum_i r_{ik}`, and :math:`(a_k, b_k)` maximise the weighted
beta log-likelihood

.. math::

    \ell_k(a, b) = (a - 1)\, \bar c_{1k} + (b - 1)\, \bar c_{2k} - \log B(a, b), \qquad
    \bar c_{1k} = \frac{\sum_i r_{ik} \log x_i}{\sum_i r_{ik}}, \quad
    \bar c_{2k} = \frac{\sum_i r_{ik} \log (1 - x_i)}{\sum_i r_{ik}},

whose stationary point solves :math:`\psi(a) - \psi(a + b) = \bar c_{1k}`,
:math:`\psi(b) - \psi(a + b) = \bar c_{2k}` (the equations RBesT solves by least squares).
:math:`\ell_k` is concave (:math:`\log B` is convex), so it is maximised exactly here by projected
Newton steps with the trigamma Hessian, subject to :math:`a, b \ge 1` by default (RBesT's
``constrain_gt1``: unimodal components, and a finite ELIR effective sample size).

**Shapes at the bound.** RBesT fits :math:`\log(a - 1)` and floors it at :math:`\log 10^{-8}`,
so a constrained shape stops silently at :math:`1 + 10^{-8}`. Here the M-step is a projected
Newton step that holds a shape at 1 exactly when its gradient points below 1 (the draws would
take it lower: towards a density rising without limit at 0 or 1), and
:meth:`MixtureFit.at_bounds` lists every shape so held, so that the output can say so. Exactly 1
rather than :math:`1 + 10^{-8}` keeps the ELIR what RBesT's numerical integration gives
(:mod:`hlhbayes.design.ess`); ``constrain_gt1=False`` fits without the bound.

**Start.** One-dimensional k-means with centres at the quantiles :math:`(k - 1/2)/K`, then moment
matching per cluster; as in RBesT the lightest cluster is also tried at the centre of the
sample with the sample's variance. Both starts are run and the higher likelihood kept (the
procedure is deterministic).

**Convergence.** EM never decreases the log-likelihood :math:`L = \sum_i \log \pi(x_i)`. Plain EM
crawls when components overlap (hundreds of iterations), so each iteration is extrapolated by
SQUAREM (Varadhan & Roland 2008) with a safeguard that keeps the increase monotone; it stops
when an iteration raises :math:`L` by less than ``tol`` (default :math:`10^{-10}`) per draw.
:func:`auto_fit` compares the candidates at :math:`10^{-7}` per draw (over-fitted mixtures
crawl along flat ridges of the likelihood for thousands of iterations, for gains far below the
AIC penalty) and polishes the chosen one to :math:`10^{-10}`.

**Number of components.** :func:`auto_fit` fits :math:`K = 1, \dots, 4` and keeps the smallest
penalised criterion :math:`\mathrm{AIC}_k = -2 L + k\,(3K - 1)` with RBesT's penalty
:math:`k = 6` (Collett 2003: values 2 to 6; larger favours fewer components).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from hlhbayes.design.mixture import BetaMixture, FloatArray
from hlhbayes.errors import HlhBayesError

AIC_PENALTY = 6.0
"""RBesT ``automixfit``'s default penalty per parameter."""

MAX_SHAPE = 1e7
"""Upper bound on a and b: a cluster of identical draws would otherwise drive them to infinity."""

TOL = 1e-10
"""EM stops when an iteration raises the log-likelihood by less than this per draw."""

SELECT_TOL = 1e-7
"""The looser tolerance at which :func:`auto_fit` compares numbers of components."""

POLISH_ITER = 300
"""Iterations allowed to polish the chosen fit to ``TOL``."""

_TINY = np.finfo(float).eps
_FLOOR = 1e-8  # smallest a - lower, b - lower in the log parameterisation (as RBesT)


@dataclass(frozen=True)
class MixtureFit:
    """One EM fit: the mixture, its log-likelihood over the draws and how the EM ended.

    ``lower`` is the lower bound the shapes were held to (1 with ``constrain_gt1``, else 0).
    """

    mixture: BetaMixture
    loglik: float
    n_draws: int
    iterations: int
    converged: bool
    lower: float = 1.0

    def at_bounds(self) -> list[dict[str, Any]]:
        """The shapes the fit holds at a bound, one record each.

        ``{"component": k (1-based), "parameter": "a" or "b", "value": ..., "bound": "lower" or
        "upper"}``. With ``constrain_gt1`` the EM returns a shape whose constraint is active as
        exactly 1 (the draws would take it lower); the upper bound is :data:`MAX_SHAPE`.
        """
        found = []
        mix = self.mixture
        for k in range(mix.n_components):
            for name, value in (("a", float(mix.a[k])), ("b", float(mix.b[k]))):
                bound = None
                if self.lower > 0 and value <= self.lower:
                    bound = "lower"
                elif value >= MAX_SHAPE:
                    bound = "upper"
                if bound is not None and mix.weights[k] > 0:
                    found.append(
                        {"component": k + 1, "parameter": name, "value": value, "bound": bound}
                    )
        return found

    @property
    def n_parameters(self) -> int:
        """:math:`3K - 1` (weights sum to one)."""
        return 3 * self.mixture.n_components - 1

    def aic(self, penalty: float = AIC_PENALTY) -> float:
        """:math:`-2 L + k (3K - 1)`."""
        return -2.0 * self.loglik + penalty * self.n_parameters


@dataclass(frozen=True)
class AutoFit:
    """The fits for each number of components and the one chosen by the penalised AIC."""

    best: MixtureFit
    fits: tuple[MixtureFit, ...]
    penalty: float

    def table(self) -> list[dict[str, float | int | bool]]:
        """One row per fit: ``components, loglik, aic, iterations, converged, chosen``."""
        return [
            {
                "components": f.mixture.n_components,
                "loglik": f.loglik,
                "aic": f.aic(self.penalty),
                "iterations": f.iterations,
                "converged": f.converged,
                "chosen": f is self.best,
            }
            for f in self.fits
        ]


def _prepare(draws: ArrayLike) -> FloatArray:
    x = np.asarray(draws, dtype=float).ravel()
    if x.size < 10:
        raise HlhBayesError(f"need at least 10 draws to fit a mixture, got {x.size}")
    if not np.all(np.isfinite(x)) or np.any((x < 0) | (x > 1)):
        raise HlhBayesError("draws must be finite probabilities in [0, 1]")
    # as RBesT: exact 0 or 1 would give an infinite log; move them inside by machine epsilon
    return np.clip(x, _TINY, 1.0 - _TINY)


def _moment_shapes(m: float, v: float, lower: float) -> tuple[float, float]:
    n = m * (1.0 - m) / v - 1.0 if v > 0 else 1.0
    n = max(n, 1.0) if np.isfinite(n) else 1.0
    a, b = n * m, n * (1.0 - m)
    return min(max(a, lower + 1e-6), MAX_SHAPE), min(max(b, lower + 1e-6), MAX_SHAPE)


def _kmeans_1d(x: FloatArray, k: int, iters: int = 50) -> FloatArray:
    """Cluster labels of Lloyd's k-means in one dimension, from centres at the quantiles."""
    centres = np.quantile(x, (np.arange(k) + 0.5) / k)
    labels = np.full(x.size, -1)
    for _ in range(iters):
        new = np.argmin(np.abs(x[:, None] - centres[None, :]), axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            if np.any(labels == j):
                centres[j] = x[labels == j].mean()
    return labels


def _starts(x: FloatArray, k: int, lower: float) -> list[BetaMixture]:
    m_all, v_all = float(x.mean()), float(x.var(ddof=1))
    if k == 1:
        a, b = _moment_shapes(m_all, v_all, lower)
        return [BetaMixture.beta(a, b)]
    labels = _kmeans_1d(x, k)
    w = np.array([np.mean(labels == j) for j in range(k)])
    means = np.full(k, m_all)
    variances = np.full(k, 1.5 * v_all)
    for j in range(k):
        members = x[labels == j]
        if members.size > 10:
            means[j], variances[j] = members.mean(), members.var(ddof=1)
    w = np.maximum(w, 1.0 / x.size)
    w /= w.sum()
    starts = []
    for centre_lightest in (False, True):
        m, v = means.copy(), variances.copy()
        if centre_lightest:
            j = int(np.argmin(w))
            m[j], v[j] = float(np.sum(w * means)), v_all
        shapes = [_moment_shapes(float(mj), float(vj), lower) for mj, vj in zip(m, v, strict=True)]
        starts.append(
            BetaMixture(w, np.array([s[0] for s in shapes]), np.array([s[1] for s in shapes]))
        )
    return starts


def _beta_mle(c1: FloatArray, c2: FloatArray, a: FloatArray, b: FloatArray, lower: float) -> None:
    r"""Maximise :math:`(a-1) c_1 + (b-1) c_2 - \log B(a, b)` on :math:`[lower, 10^7]^2`, in place.

    All components at once: projected Newton steps (the negative Hessian has
    :math:`\psi_1(a) - \psi_1(a+b)`, :math:`\psi_1(b) - \psi_1(a+b)` on the diagonal and
    :math:`-\psi_1(a+b)` off it) with step halving. The objective is concave, so this finds the
    maximum; coordinates at a bound whose gradient points outwards are held there.
    """
    lo, hi = max(lower, 1e-8), MAX_SHAPE
    np.clip(a, lo, hi, out=a)
    np.clip(b, lo, hi, out=b)

    def objective(x: FloatArray, y: FloatArray) -> FloatArray:
        return (x - 1.0) * c1 + (y - 1.0) * c2 - special.betaln(x, y)

    f = objective(a, b)
    for _ in range(200):
        s = special.digamma(a + b)
        g1 = c1 - special.digamma(a) + s
        g2 = c2 - special.digamma(b) + s
        t = special.zeta(2.0, a + b)  # trigamma
        h11, h22, h12 = special.zeta(2.0, a) - t, special.zeta(2.0, b) - t, -t
        free_a = ~(((a <= lo) & (g1 < 0)) | ((a >= hi) & (g1 > 0)))
        free_b = ~(((b <= lo) & (g2 < 0)) | ((b >= hi) & (g2 > 0)))
        det = h11 * h22 - h12 * h12
        both = free_a & free_b
        da = np.where(both, (h22 * g1 - h12 * g2) / det, np.where(free_a, g1 / h11, 0.0))
        db = np.where(both, (h11 * g2 - h12 * g1) / det, np.where(free_b, g2 / h22, 0.0))
        # Newton decrement: the gain a full step promises; below rounding, the component is done
        active = (g1 * da + g2 * db) > 1e-14 * np.maximum(1.0, np.abs(f))
        if not active.any():
            break
        scale = np.where(active, 1.0, 0.0)
        na, nb, fn = a, b, f
        for _ in range(45):
            na = np.clip(a + scale * da, lo, hi)
            nb = np.clip(b + scale * db, lo, hi)
            fn = objective(na, nb)
            bad = fn < f
            if not bad.any():
                break
            scale = np.where(bad, 0.5 * scale, scale)
        keep = fn < f
        na, nb, fn = np.where(keep, a, na), np.where(keep, b, nb), np.where(keep, f, fn)
        moved = np.maximum(np.abs(na - a) / np.maximum(1.0, a), np.abs(nb - b) / np.maximum(1.0, b))
        a[:], b[:], f = na, nb, fn
        if np.all(moved < 1e-13):
            break


class _EMStep:
    r"""One EM update as a map of unconstrained parameters (for SQUAREM extrapolation).

    :math:`\theta = (\log w_k, \log(a_k - l), \log(b_k - l))` with :math:`l` the lower bound on
    the shapes; any :math:`\theta` maps back to a valid mixture.
    """

    def __init__(self, x: FloatArray, lower: float) -> None:
        self.lx, self.l1x = np.log(x), np.log1p(-x)
        self.n = x.size
        self.lower = lower

    def unpack(self, theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        k = theta.size // 3
        lw = theta[:k] - theta[:k].max()
        w = np.exp(lw) / np.exp(lw).sum()
        ea, eb = np.exp(theta[k : 2 * k]), np.exp(theta[2 * k :])
        if self.lower > 0:
            # at the floor of pack() means at the bound: return the bound itself, so a fitted
            # component reads a = 1 rather than 1 + 1e-8 (which matters for the ELIR)
            ea = np.where(ea <= _FLOOR * (1 + 1e-9), 0.0, ea)
            eb = np.where(eb <= _FLOOR * (1 + 1e-9), 0.0, eb)
        a = np.minimum(self.lower + ea, MAX_SHAPE)
        b = np.minimum(self.lower + eb, MAX_SHAPE)
        return w, np.maximum(a, _FLOOR), np.maximum(b, _FLOOR)

    def pack(self, w: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
        floor = 1e-300
        return np.concatenate(
            [
                np.log(np.maximum(w, floor)),
                np.log(np.maximum(a - self.lower, _FLOOR)),
                np.log(np.maximum(b - self.lower, _FLOOR)),
            ]
        )

    def __call__(self, theta: FloatArray) -> tuple[FloatArray, float]:
        """The EM update of ``theta`` and the log-likelihood *at* ``theta``."""
        w, a, b = self.unpack(theta)
        with np.errstate(divide="ignore"):
            log_comp = (
                np.log(w)
                + (a - 1.0) * self.lx[:, None]
                + (b - 1.0) * self.l1x[:, None]
                - special.betaln(a, b)
            )
        top = log_comp.max(axis=1)
        log_norm = top + np.log(np.exp(log_comp - top[:, None]).sum(axis=1))
        loglik = float(log_norm.sum())
        resp = np.exp(log_comp - log_norm[:, None])
        mass = resp.sum(axis=0)
        w = mass / self.n
        a, b = a.copy(), b.copy()
        used = mass > 0  # an empty component keeps its shapes (its weight is 0)
        if used.any():
            c1 = (self.lx @ resp[:, used]) / mass[used]
            c2 = (self.l1x @ resp[:, used]) / mass[used]
            a_used, b_used = a[used], b[used]
            _beta_mle(c1, c2, a_used, b_used, self.lower)
            a[used], b[used] = a_used, b_used
        return self.pack(w, a, b), loglik


def _em(x: FloatArray, start: BetaMixture, lower: float, max_iter: int, tol: float) -> MixtureFit:
    r"""EM accelerated by SQUAREM (Varadhan & Roland 2008, scheme S3) with a monotone safeguard.

    From :math:`\theta_0`: :math:`\theta_1 = F(\theta_0)`, :math:`\theta_2 = F(\theta_1)`,
    :math:`r = \theta_1 - \theta_0`, :math:`v = \theta_2 - 2\theta_1 + \theta_0`, the step
    :math:`\alpha = \min(-1, -\lVert r\rVert / \lVert v\rVert)` and the candidate
    :math:`\theta' = \theta_0 - 2\alpha r + \alpha^2 v`. The next iterate is
    :math:`F(\theta')` if :math:`L(\theta') \ge L(\theta_1)`, else the plain
    :math:`\theta_2`; either way the log-likelihood never falls below plain EM's.
    """
    step = _EMStep(x, lower)
    theta = step.pack(start.weights, start.a, start.b)
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        t1, ll0 = step(theta)
        t2, ll1 = step(t1)
        r = t1 - theta
        v = t2 - t1 - r
        norm_v = float(np.linalg.norm(v))
        best_ll = ll1
        nxt = t2
        if norm_v > 0 and np.isfinite(norm_v):
            alpha = min(-1.0, -float(np.linalg.norm(r)) / norm_v)
            candidate = theta - 2.0 * alpha * r + alpha * alpha * v
            t3, ll_candidate = step(candidate)
            if np.isfinite(ll_candidate) and ll_candidate >= ll1:
                nxt, best_ll = t3, ll_candidate
        theta = nxt
        if best_ll - ll0 < tol * step.n:
            converged = True
            break
    w, a, b = step.unpack(theta)
    order = np.argsort(-w, kind="stable")
    mix = BetaMixture(w[order], a[order], b[order])
    loglik = float(mix.logpdf(x).sum())
    return MixtureFit(mix, loglik, x.size, it, converged, lower)


def fit_beta_mixture(
    draws: ArrayLike,
    n_components: int,
    *,
    constrain_gt1: bool = True,
    max_iter: int = 1000,
    tol: float = TOL,
    start: BetaMixture | None = None,
) -> MixtureFit:
    r"""Fit a ``n_components`` beta mixture to ``draws`` in [0, 1] by EM (see the module notes).

    Parameters
    ----------
    draws
        Samples of a probability (e.g. the MAP draws ``rate_new``).
    n_components
        :math:`K`, 1 to 10.
    constrain_gt1
        Keep every :math:`a_k, b_k \ge 1` (RBesT's default).
    max_iter, tol
        Stop after ``max_iter`` (accelerated) iterations or when one raises the log-likelihood
        by less than ``tol`` per draw.
    start
        A mixture to start from (with ``n_components`` components) instead of the k-means
        starts.

    Returns
    -------
    MixtureFit
        Components sorted by decreasing weight.
    """
    if int(n_components) != n_components or not 1 <= n_components <= 10:
        raise HlhBayesError(
            f"number of components must be an integer from 1 to 10, got {n_components}"
        )
    x = _prepare(draws)
    lower = 1.0 if constrain_gt1 else 0.0
    if start is not None:
        if start.n_components != n_components:
            raise HlhBayesError("the start mixture must have n_components components")
        starts = [start]
    else:
        starts = _starts(x, int(n_components), lower)
    fits = [_em(x, s, lower, max_iter, tol) for s in starts]
    return max(fits, key=lambda f: f.loglik)


def auto_fit(
    draws: ArrayLike,
    components: Sequence[int] = (1, 2, 3, 4),
    *,
    penalty: float = AIC_PENALTY,
    constrain_gt1: bool = True,
) -> AutoFit:
    r"""Fit each number of components and keep the lowest :math:`-2L + k(3K - 1)`.

    The candidates are compared after EM to ``SELECT_TOL`` per draw (over-fitted mixtures
    crawl along flat ridges of the likelihood; their remaining gain is far below the
    penalty); the chosen one is then polished to ``TOL``. Ties go to fewer components.
    """
    if not components:
        raise HlhBayesError("give at least one number of components")
    x = _prepare(draws)
    fits = [
        fit_beta_mixture(x, k, constrain_gt1=constrain_gt1, tol=SELECT_TOL)
        for k in sorted(set(components))
    ]
    i = min(range(len(fits)), key=lambda j: (fits[j].aic(penalty), fits[j].mixture.n_components))
    chosen = fits[i]
    polished = fit_beta_mixture(
        x,
        chosen.mixture.n_components,
        constrain_gt1=constrain_gt1,
        start=chosen.mixture,
        max_iter=POLISH_ITER,
    )
    if polished.loglik >= chosen.loglik:
        polished = MixtureFit(
            polished.mixture,
            polished.loglik,
            polished.n_draws,
            chosen.iterations + polished.iterations,
            polished.converged,
            polished.lower,
        )
        fits[i] = polished
    return AutoFit(fits[i], tuple(fits), penalty)
