"""EM fit of beta mixtures: recovery of known mixtures, the M-step, the AIC choice."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special

from hlhbayes.design.em import _beta_mle, auto_fit, fit_beta_mixture
from hlhbayes.design.mixture import BetaMixture
from hlhbayes.errors import HlhBayesError


def test_m_step_solves_the_digamma_equations():
    rng = np.random.default_rng(1)
    x = rng.beta(3.0, 7.0, size=2000)
    c1, c2 = np.array([np.log(x).mean()]), np.array([np.log1p(-x).mean()])
    a, b = np.array([1.5]), np.array([1.5])
    _beta_mle(c1, c2, a, b, lower=0.0)
    s = special.digamma(a + b)
    assert special.digamma(a) - s == pytest.approx(c1, abs=1e-10)
    assert special.digamma(b) - s == pytest.approx(c2, abs=1e-10)

    # and it is the maximum likelihood of scipy's generic optimiser
    def nll(t):
        return -np.sum((t[0] - 1) * np.log(x) + (t[1] - 1) * np.log1p(-x) - special.betaln(*t))

    ref = optimize.minimize(
        nll, [2.0, 5.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12}
    ).x
    assert np.allclose([a[0], b[0]], ref, rtol=1e-4)


def test_constrained_m_step_stops_at_one():
    rng = np.random.default_rng(2)
    x = rng.beta(0.6, 4.0, size=2000)  # the unconstrained MLE has a < 1
    c1, c2 = np.array([np.log(x).mean()]), np.array([np.log1p(-x).mean()])
    a, b = np.array([2.0]), np.array([2.0])
    _beta_mle(c1, c2, a, b, lower=1.0)
    assert a[0] == 1.0 and b[0] > 1.0


def test_recovers_a_well_separated_mixture():
    truth = BetaMixture.from_components([(0.3, 5.0, 45.0), (0.7, 40.0, 20.0)])
    x = truth.sample(8000, rng=3)
    fit = auto_fit(x)
    mix = fit.best.mixture
    assert mix.n_components == 2
    assert np.allclose(mix.weights, [0.7, 0.3], atol=0.02)
    assert np.allclose(mix.a, [40.0, 5.0], rtol=0.1)
    assert np.allclose(mix.b, [20.0, 45.0], rtol=0.1)
    assert fit.best.converged


def test_single_beta_is_the_moment_free_mle():
    x = BetaMixture.beta(4.0, 9.0).sample(5000, rng=4)
    fit = fit_beta_mixture(x, 1)
    assert fit.mixture.a[0] == pytest.approx(4.0, rel=0.06)
    assert fit.mixture.b[0] == pytest.approx(9.0, rel=0.06)
    assert fit.loglik == pytest.approx(float(fit.mixture.logpdf(x).sum()))


def test_aic_choice_and_table():
    x = BetaMixture.beta(12.0, 30.0).sample(4000, rng=5)
    fit = auto_fit(x, components=(1, 2))
    assert fit.best.mixture.n_components == 1
    rows = fit.table()
    assert [r["components"] for r in rows] == [1, 2]
    assert sum(r["chosen"] for r in rows) == 1
    for r in rows:
        k = r["components"]
        assert r["aic"] == pytest.approx(-2 * r["loglik"] + 6 * (3 * k - 1))


def test_edges_and_errors():
    x = np.concatenate([np.zeros(3), np.ones(2), BetaMixture.beta(2, 2).sample(500, rng=6)])
    fit = fit_beta_mixture(x, 1)  # exact 0 and 1 are moved inside by machine epsilon
    assert np.isfinite(fit.loglik)
    with pytest.raises(HlhBayesError, match="at least 10"):
        fit_beta_mixture([0.5] * 5, 1)
    with pytest.raises(HlhBayesError, match="probabilities"):
        fit_beta_mixture([1.5] * 20, 1)


# ---------------------------------------------------------------------- shapes at the bound
def test_a_shape_held_at_one_is_reported():
    """Draws whose best single beta has a < 1: the constrained fit holds a at exactly 1."""
    x = BetaMixture.beta(0.6, 4.0).sample(3000, rng=7)
    fit = fit_beta_mixture(x, 1)
    assert fit.mixture.a[0] == 1.0 and fit.mixture.b[0] > 1.0
    assert fit.at_bounds() == [{"component": 1, "parameter": "a", "value": 1.0, "bound": "lower"}]

    # it is the constrained maximum: moving a off the bound (b at its best for each a) loses
    # likelihood, and the unconstrained fit goes below 1
    def best_loglik(a: float) -> float:
        res = optimize.minimize_scalar(
            lambda b: -BetaMixture.beta(a, b).logpdf(x).sum(), bounds=(1.0, 50.0), method="bounded"
        )
        return -res.fun

    assert best_loglik(1.0) > best_loglik(1.01) > best_loglik(1.1)
    free = fit_beta_mixture(x, 1, constrain_gt1=False)
    assert free.mixture.a[0] < 1.0 and free.at_bounds() == [] and free.lower == 0.0
    assert free.loglik > fit.loglik


def test_no_bound_reported_for_an_interior_fit():
    x = BetaMixture.from_components([(0.3, 5.0, 45.0), (0.7, 40.0, 20.0)]).sample(4000, rng=8)
    fit = auto_fit(x)
    assert fit.best.at_bounds() == [] and fit.best.lower == 1.0
    assert all(f.lower == 1.0 for f in fit.fits)


def test_auto_fit_keeps_the_bound_through_polishing():
    x = BetaMixture.beta(9.0, 0.7).sample(4000, rng=9)  # draws piled up at 1: b wants < 1
    fit = auto_fit(x, components=(1, 2))
    held = fit.best.at_bounds()
    assert held and all(h["parameter"] == "b" and h["value"] == 1.0 for h in held)
    unconstrained = auto_fit(x, components=(1, 2), constrain_gt1=False)
    assert unconstrained.best.lower == 0.0 and np.min(unconstrained.best.mixture.b) < 1.0
