r"""Pareto-smoothed importance sampling for the support measures, in numpy.

The same computations as ``arviz_stats`` (its ``pareto_khat``, ``power_scale_lw`` and
``power_scale_sense``; a test checks agreement to 1e-10 on random draws), written here so that a
fit does not pay arviz-stats' import (about 1.5 s, most of it its LOO module) on every run.

**Pareto** :math:`\hat k` (Vehtari et al. 2024, J Mach Learn Res 25:72): the
:math:`M = \lfloor 3 \sqrt{S / r_\text{eff}} \rfloor` largest draws (:math:`S r_\text{eff} > 225`;
else :math:`\lfloor S/5 \rfloor`) above the next one are fitted with a generalized Pareto
distribution (Zhang & Stephens' empirical Bayes estimate, with a Gaussian prior on the shape
centred at 1/2 worth 10 draws); the tail index :math:`\hat k` of both tails is the larger.
Moments of order :math:`1/\hat k` and higher do not exist: a variance needs :math:`\hat k < 1/2`.

**Power-scaling sensitivity** (Kallioinen et al. 2024, Stat Comput 34:57): raising the prior
(or the likelihood) to the power :math:`\alpha` reweights the posterior draws by
:math:`w_s \propto p(\theta_s)^{\alpha - 1}`; the weights are Pareto-smoothed, and the
sensitivity of a quantity is the cumulative Jensen-Shannon distance between its weighted and
unweighted draws per unit :math:`\log_2 \alpha`, averaged over :math:`\alpha = 0.99, 1.01`.
"""

from __future__ import annotations

import warnings

import numpy as np

from hlhbayes.engine.diagnostics import ess_mean

ALPHAS = (0.99, 1.01)
"""The powers of the prior (likelihood) whose effect is measured, as arviz-stats' default."""


def pareto_khat(draws: np.ndarray, r_eff: float = 1.0) -> float:
    """Pareto k-hat of both tails of ``draws`` (any shape, taken as one sample)."""
    x = np.ravel(np.asarray(draws, dtype=float))
    n_tail = _tail_length(len(x), r_eff, both=True)
    return max(_fit_tail(x, n_tail)[0], _fit_tail(-x, n_tail)[0])


def power_scaled_weights(log_component: np.ndarray, alpha: float) -> np.ndarray:
    """Normalised Pareto-smoothed weights of the draws when a component is raised to ``alpha``.

    ``log_component`` holds, per draw (``(chain, draw)``), the log density of the scaled
    component (log prior or total log likelihood); the result has its shape and sums to 1.
    """
    shape = np.shape(log_component)
    values = np.ravel(np.asarray(log_component, dtype=float))
    n = len(values)
    n_tail = _tail_length(n, _relative_tail_ess(values), both=True)
    log_weights = _smooth_log_weights((alpha - 1.0) * values, n_tail)
    weights = np.exp(log_weights)
    return (weights / weights.sum()).reshape(shape)


def power_scale_sensitivity(
    draws: np.ndarray, log_component: np.ndarray, alphas: tuple[float, float] = ALPHAS
) -> float:
    """Sensitivity of one scalar quantity's posterior to power-scaling one component."""
    x = np.ravel(np.asarray(draws, dtype=float))
    lower, upper = (np.ravel(power_scaled_weights(log_component, a)) for a in alphas)
    lower_cjs = max(_cjs_distance(x, lower), _cjs_distance(-x, lower))
    upper_cjs = max(_cjs_distance(x, upper), _cjs_distance(-x, upper))
    return float((-lower_cjs / np.log2(alphas[0]) + upper_cjs / np.log2(alphas[1])) / 2)


def _tail_length(n: int, r_eff: float, both: bool) -> int:
    n_tail = np.floor(3 * (n / r_eff) ** 0.5) if n * r_eff > 225 else np.floor(n / 5)
    if both and n_tail > n // 2:
        warnings.warn(f"a tail cannot hold more than half the draws: {n // 2} used", stacklevel=3)
        n_tail = n // 2
    if both and n_tail < 5:
        warnings.warn("a tail needs at least 5 draws: 5 used", stacklevel=3)
        n_tail = 5
    return int(n_tail)


def _relative_tail_ess(values: np.ndarray) -> float:
    """Relative ESS of the 5 % and 95 % quantiles (the smaller), the draws as one sequence."""
    below = np.stack([values <= np.quantile(values, p) for p in (0.05, 0.95)], axis=-1)
    return float(np.min(ess_mean(below[None].astype(float)))) / len(values)


def _fit_tail(x: np.ndarray, n_tail: int) -> tuple[float, float, np.ndarray, np.ndarray, float]:
    """Fit the right tail: ``(k, sigma, tail positions, tail values, cutoff)``."""
    if n_tail < 5:
        raise ValueError("a tail needs at least 5 draws")
    order = np.argsort(x)
    positions = order[len(x) - n_tail :]
    tail = x[positions]
    cutoff = x[order[len(x) - n_tail - 1]]
    if abs(tail.max() - tail.min()) < np.finfo(float).tiny:
        raise ValueError("all tail values are the same")
    k, sigma = _fit_generalized_pareto(tail - cutoff)
    return k, sigma, positions, tail, cutoff


def _smooth_log_weights(log_weights: np.ndarray, n_tail: int) -> np.ndarray:
    """PSIS: the largest weights replaced by the fitted Pareto's expected order statistics."""
    lw = log_weights - log_weights.max()
    order = np.argsort(lw)
    positions = order[len(lw) - n_tail :]
    log_tail = lw[positions]
    cutoff = np.exp(lw[order[len(lw) - n_tail - 1]])
    if abs(log_tail.max() - log_tail.min()) < np.finfo(float).tiny:
        raise ValueError("all tail values are the same")
    tail = np.exp(log_tail)
    k, sigma = _fit_generalized_pareto(tail - cutoff)
    if np.isfinite(k):
        p = np.arange(0.5, n_tail) / n_tail
        smoothed = np.log(_generalized_pareto_quantile(p, k, sigma, cutoff))
        smoothed[smoothed > log_tail.max()] = log_tail.max()
        lw[positions] = smoothed
    return lw - _logsumexp(lw)


def _fit_generalized_pareto(x: np.ndarray) -> tuple[float, float]:
    """Zhang & Stephens' estimate of ``(k, sigma)`` from sorted exceedances ``x``, k shrunk to 1/2.

    ``(nan, nan)`` when the first quartile is the minimum (far from a Pareto tail).
    """
    prior_bs, prior_k = 3, 10
    n = len(x)
    m = 30 + int(n**0.5)
    xstar = x[int((n / 4 + 0.5) - 1)]
    if xstar <= x[0]:
        return np.nan, np.nan
    b = 1 - np.sqrt(m / (np.arange(1, m + 1, dtype=float) - 0.5))
    b /= prior_bs * xstar
    b += 1 / x[-1]
    k_b = np.mean(np.log1p(-b[:, None] * x), axis=1)
    log_lik = n * (np.log(-b / k_b) - k_b - 1)
    w = np.exp(log_lik - _logsumexp(log_lik))
    keep = w >= 10 * np.finfo(float).eps
    w, b = w[keep], b[keep]
    w /= w.sum()
    b_post = np.sum(b * w)
    k = np.mean(np.log1p(-b_post * x))
    sigma = -k / b_post
    k = (n * k + prior_k * 0.5) / (n + prior_k)
    if np.isnan(k):
        return np.inf, np.nan
    return float(k), float(sigma)


def _generalized_pareto_quantile(p: np.ndarray, k: float, sigma: float, mu: float) -> np.ndarray:
    if sigma <= 0:
        return np.full_like(p, np.nan)
    if k == 0:
        return mu - sigma * np.log1p(-p)
    return mu + sigma * np.expm1(-k * np.log1p(-p)) / k


def _cjs_distance(x: np.ndarray, weights: np.ndarray) -> float:
    """Cumulative Jensen-Shannon distance between the draws and the same draws weighted."""
    order = np.argsort(x)
    x, weights = x[order], weights[order]
    width = np.diff(x)
    n = len(x)
    cdf_p = np.linspace(1 / n, 1 - 1 / n, n - 1)
    cdf_q = np.cumsum(weights / np.sum(weights))[:-1]
    int_p, int_q = np.dot(cdf_p, width), np.dot(cdf_q, width)
    log_p = np.log2(cdf_p, out=np.zeros_like(cdf_p), where=cdf_p != 0)
    log_q = np.log2(cdf_q, out=np.zeros_like(cdf_q), where=cdf_q != 0)
    mid = 0.5 * (cdf_p + cdf_q)
    log_mid = np.log2(mid, out=np.zeros_like(mid), where=mid != 0)
    pq = np.sum(width * (cdf_p * (log_p - log_mid))) + 0.5 / np.log(2) * (int_q - int_p)
    qp = np.sum(width * (cdf_q * (log_q - log_mid))) + 0.5 / np.log(2) * (int_p - int_q)
    return float(np.sqrt((max(0.0, pq) + max(0.0, qp)) / (int_p + int_q)))


def _logsumexp(x: np.ndarray) -> float:
    top = np.max(x)
    return float(top + np.log(np.sum(np.exp(x - top))))
