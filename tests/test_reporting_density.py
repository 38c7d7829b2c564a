"""Boundary-aware densities of the report's figures, against exact densities.

Draws from distributions whose density is known in closed form (logit-normal rates, half-normal
SDs): the estimate must integrate to 1 over the support, match the exact density, and show no
mass (and no cliff) beyond the bound. The naive estimate cut at the bound is shown to fail the
same check, so the test can tell the two apart.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, logit

from hlhbayes.models.units import MODEL_ETIOLOGIES
from hlhbayes.reporting.density import positive_density, rate_density, real_density
from hlhbayes.reporting.palette import CHAIN_COLORS, TRIGGER_COLORS, trigger_color

N = 20_000


def rng() -> np.random.Generator:
    return np.random.default_rng(20261202)


def logit_normal_pdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """Exact density of logistic(N(mu, sigma))."""
    return stats.norm.pdf(logit(x), mu, sigma) / (x * (1 - x))


def integral(f: np.ndarray, x: np.ndarray) -> float:
    return float(np.trapezoid(f, x))


@pytest.mark.parametrize(("mu", "sigma"), [(2.2, 0.8), (0.0, 1.0), (3.5, 1.2)])
def test_rate_density_matches_the_logit_normal_and_keeps_its_mass_on_0_1(mu, sigma):
    draws = expit(rng().normal(mu, sigma, N))
    grid = np.linspace(0, 1, 1001)
    estimate = rate_density(draws, grid)
    inner = (grid > 0) & (grid < 1)
    exact = np.zeros_like(grid)
    exact[inner] = logit_normal_pdf(grid[inner], mu, sigma)
    # within 10% of the peak up to 99.5% and 6% in L1 over [0, 1] (Monte Carlo error of 20,000
    # draws and smoothing). In the last half percent a logit-normal with mu = 3.5 falls from its
    # peak to 0 faster than any kernel can follow; a reader sees that half percent as a line.
    body = grid <= 0.995
    assert np.max(np.abs(estimate - exact)[body]) < 0.10 * exact.max()
    assert integral(np.abs(estimate - exact), grid) < 0.06
    assert integral(estimate, grid) == pytest.approx(1.0, abs=0.01)
    assert np.isfinite(estimate).all() and (estimate >= 0).all()


def test_a_plain_estimate_cut_at_one_loses_mass_where_the_rate_density_does_not():
    draws = expit(rng().normal(3.5, 1.2, N))  # a rate near 1, like the response rates here
    grid = np.linspace(0, 1, 1001)
    naive = real_density(draws, grid)
    assert integral(naive, grid) < 0.97  # mass spilled beyond 1 and cut off
    assert integral(rate_density(draws, grid), grid) == pytest.approx(1.0, abs=0.01)
    assert rate_density(draws, np.array([-0.01, 1.01])).tolist() == [0.0, 0.0]


def test_positive_density_is_the_half_normal_at_zero_and_integrates_to_one():
    sigma = 1.0
    draws = np.abs(rng().normal(0, sigma, N))
    grid = np.linspace(0, 5, 2001)
    estimate = positive_density(draws, grid)
    exact = 2 * stats.norm.pdf(grid, 0, sigma)
    assert estimate[0] == pytest.approx(exact[0], rel=0.06)  # a plain KDE halves it
    assert real_density(draws, grid[:1])[0] < 0.6 * exact[0]
    assert np.max(np.abs(estimate - exact)) < 0.06 * exact.max()
    assert integral(estimate, grid) == pytest.approx(1.0, abs=2e-3)
    assert positive_density(draws, np.array([-0.1]))[0] == 0.0


def test_equal_draws_give_a_narrow_bump_not_an_error():
    grid = np.linspace(0, 1, 101)
    density = rate_density(np.full(50, 0.5), grid)
    assert np.argmax(density) == 50 and np.isfinite(density).all()


def test_every_trigger_has_its_own_colour_and_no_chain_takes_one():
    assert set(TRIGGER_COLORS) == set(MODEL_ETIOLOGIES)
    colours = [c.lower() for c in TRIGGER_COLORS.values()]
    assert len(set(colours)) == len(colours)
    assert not {c.lower() for c in CHAIN_COLORS} & set(colours)
    assert trigger_color("mixed") not in colours
    assert trigger_color("unreported") not in colours
