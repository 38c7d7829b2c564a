"""The predictive distribution of future responders (RBesT ``preddist``).

References, quoted where used: RBesT's ``preddist`` examples (R/preddist.R, version 1.8-2) and
its tests tests/testthat/test-preddist.R ("check that predictive distributions hold what they
promise, i.e. that they describe the sum of n new data points") and test-mixdist.R (the
"problematic" BetaBinomial densities). RBesT prints none of these numbers; the checks are the
ones its tests make, against simulation and an independent beta-binomial (scipy).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from hlhbayes.design.mixture import BetaMixture
from hlhbayes.design.predictive import predictive
from hlhbayes.errors import HlhBayesError

Z = 4.5
"""Monte Carlo comparisons allow this many standard errors."""


@st.composite
def mixtures(draw):
    k = draw(st.integers(1, 3))
    shapes = st.floats(0.2, 200.0)
    w = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
    a = draw(st.lists(shapes, min_size=k, max_size=k))
    b = draw(st.lists(shapes, min_size=k, max_size=k))
    return BetaMixture(w / w.sum(), np.array(a), np.array(b))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(mixtures(), st.integers(1, 60))
def test_sums_to_one_with_the_mean_and_sd_of_the_law_of_total_variance(mix, n):
    pred = predictive(mix, n)
    y = np.arange(n + 1)
    assert pred.pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(pred.pmf >= 0) and np.all(np.diff(pred.cdf) >= -1e-15) and pred.cdf[-1] == 1.0
    mean = float(np.sum(y * pred.pmf))
    assert pred.mean() == pytest.approx(n * mix.mean(), rel=1e-12)
    assert mean == pytest.approx(pred.mean(), rel=1e-9, abs=1e-9)
    sd = math.sqrt(float(np.sum((y - mean) ** 2 * pred.pmf)))
    assert pred.sd() == pytest.approx(sd, rel=1e-7, abs=1e-9)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(mixtures(), st.integers(1, 40), st.floats(0.0, 1.0))
def test_quantile_is_the_smallest_y_reaching_q(mix, n, q):
    pred = predictive(mix, n)
    y = pred.quantile(q)
    assert pred.cdf[y] >= q - 1e-12
    assert y == 0 or pred.cdf[y - 1] < q - 1e-12


def test_predictive_is_the_binomial_averaged_over_the_prior():
    mix = BetaMixture.from_components([(0.8, 15, 50), (0.2, 1, 1)])
    pred = predictive(mix, 10)
    for y in range(11):
        direct = integrate.quad(
            lambda p, y=y: stats.binom.pmf(y, 10, p) * float(mix.pdf(p)), 0, 1, points=[0.23]
        )[0]
        assert pred.pmf[y] == pytest.approx(direct, abs=1e-10)


def test_rbest_example_1_uniform_prior():
    """R/preddist.R, example 1: ``preddist(mixbeta(c(1, 1, 1)), n = 10)``, its probabilities,
    cumulative probabilities and median ``qmix(bmPred, 0.5)``: under a uniform prior every
    number of responders out of 10 is equally likely (1/11), so the median is 5."""
    pred = predictive(BetaMixture.beta(1, 1), 10)
    assert np.allclose(pred.pmf, 1 / 11, atol=1e-14, rtol=0)
    assert np.allclose(pred.cdf, np.arange(1, 12) / 11, atol=1e-14, rtol=0)
    assert pred.quantile(0.5) == 5


def _simulate(mix: BetaMixture, n: int, size: int, seed: int) -> np.ndarray:
    """Responders among n patients: a rate drawn from ``mix`` per trial, then n Bernoullis."""
    rng = np.random.default_rng(seed)
    return rng.binomial(n, mix.sample(size, rng=rng))


def test_rbest_example_2_against_simulation():
    """R/preddist.R, example 2: ``mixbeta(inf = c(0.8, 15, 50), rob = c(0.2, 1, 1))`` with
    ``n = 10``; the example compares ``dmix(bmPred, 0:10)`` with ``table(r) / n.sim`` for
    100,000 simulated outcomes, as here (within Z Monte Carlo standard errors)."""
    mix = BetaMixture.from_components([(0.8, 15, 50), (0.2, 1, 1)])
    pred = predictive(mix, 10)
    size = 100_000
    freq = np.bincount(_simulate(mix, 10, size, seed=1), minlength=11) / size
    se = np.sqrt(pred.pmf * (1 - pred.pmf) / size)
    assert np.all(np.abs(freq - pred.pmf) < Z * se)
    assert pred.quantile(0.5) == int(np.quantile(_simulate(mix, 10, size, 2), 0.5))


@pytest.mark.parametrize(
    "components",
    [[(1.0, 11, 4)], [(0.8, 11, 4), (0.2, 1, 1)]],
    ids=["beta", "betaMix"],
)
def test_rbest_preddist_holds_what_it_promises(components):
    """tests/testthat/test-preddist.R: for ``mixbeta(c(1, 11, 4))`` and
    ``mixbeta(c(0.8, 11, 4), c(0.2, 1, 1))`` the predictive of n = 25 describes the sum of 25
    Bernoulli outcomes whose rate is drawn from the mixture (RBesT: 1e5 simulations, the
    10-90% quantiles within 25 * 0.01). Here the whole distribution function, within the 99.9%
    Kolmogorov bound 1.95 / sqrt(N), and the 10-90% quantiles within RBesT's tolerance."""
    mix = BetaMixture.from_components(components)
    pred = predictive(mix, 25)
    size = 100_000
    sums = _simulate(mix, 25, size, seed=42343)
    ecdf = np.cumsum(np.bincount(sums, minlength=26)) / size
    assert np.max(np.abs(ecdf - pred.cdf)) < 1.95 / math.sqrt(size)
    for q in np.arange(0.1, 0.91, 0.1):
        simulated = np.quantile(sums, q, method="inverted_cdf")
        assert abs(pred.quantile(q) - simulated) < 25 * 0.01 + 1  # integers: equal, or a tie


@pytest.mark.parametrize(
    ("a", "b"), [(298.30333970, 146.75306521), (3 + 1 / 3, 47 + 1 / 3)], ids=["bm1", "bm2"]
)
def test_rbest_problematic_betabinomials(a, b):
    """tests/testthat/test-mixdist.R: the "problematic" Beta densities whose BetaBinomial CDF
    (n = 50) was not monotone in an older Stan; the CDF must be the running sum of the
    probabilities. Here also against scipy's independent beta-binomial."""
    pred = predictive(BetaMixture.beta(a, b), 50)
    expected = stats.betabinom.pmf(np.arange(51), 50, a, b)
    assert np.allclose(pred.pmf, expected, rtol=1e-10, atol=1e-300)
    assert np.all(np.diff(pred.cdf) >= 0)
    assert np.allclose(pred.cdf, np.cumsum(pred.pmf), atol=1e-14)


def test_summary_and_records():
    pred = predictive(BetaMixture.beta(1, 1), 4)
    assert pred.summary() == {
        "mean": 2.0,
        "sd": pytest.approx(math.sqrt(2.0)),
        "q2.5": 0,
        "q50": 2,
        "q97.5": 4,
    }
    records = pred.records()
    assert [r["responders"] for r in records] == [0, 1, 2, 3, 4]
    assert records[-1]["cumulative"] == 1.0 and records[0]["probability"] == pytest.approx(0.2)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_sample_size(n):
    with pytest.raises(HlhBayesError, match="future sample size"):
        predictive(BetaMixture.beta(1, 1), n)
