"""The numpy special functions against scipy, the reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from hlhbayes.special import binomial_logpmf, expit, normal_quantiles


def test_binomial_logpmf_matches_scipy_stats_including_the_edges():
    rng = np.random.default_rng(7)
    n = rng.integers(1, 60, size=200)
    y = rng.integers(0, n + 1)
    p = rng.uniform(0, 1, size=200)
    np.testing.assert_allclose(binomial_logpmf(y, n, p), stats.binom.logpmf(y, n, p), rtol=1e-12)
    # p at 0 or 1: certain outcomes have log-probability 0, impossible ones -inf
    edges_y, edges_n, edges_p = (
        np.array([0, 5, 0, 5]),
        np.array([5, 5, 5, 5]),
        np.array([0, 1, 1, 0]),
    )
    expected = stats.binom.logpmf(edges_y, edges_n, edges_p)
    np.testing.assert_array_equal(binomial_logpmf(edges_y, edges_n, edges_p), expected)
    assert list(expected) == [0.0, 0.0, -np.inf, -np.inf]


def test_binomial_logpmf_broadcasts_draws_over_units_and_large_counts():
    rng = np.random.default_rng(3)
    n = np.array([1, 12, 400, 10**6])
    y = np.array([1, 7, 123, 654_321])
    p = rng.uniform(0.01, 0.99, size=(2, 5, 4))
    np.testing.assert_allclose(binomial_logpmf(y, n, p), stats.binom.logpmf(y, n, p), rtol=1e-11)


def test_expit_matches_scipy_without_overflow_warnings():
    x = np.concatenate([np.linspace(-40, 40, 801), [-800.0, 800.0, 0.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is exact
        got = expit(x)
    np.testing.assert_allclose(got, special.expit(x), rtol=1e-14, atol=0)


@pytest.mark.parametrize("size", [8, 1000, 4000])
def test_normal_quantiles_of_ranks_match_ndtri(size):
    table = normal_quantiles(size, 3 / 8)
    ranks = np.arange(2, 2 * size + 1) / 2
    np.testing.assert_allclose(
        table, special.ndtri((ranks - 3 / 8) / (size + 1 / 4)), rtol=1e-13, atol=1e-15
    )
    assert not table.flags.writeable
