"""The posterior mixture after observed data (RBesT ``postmix``): conjugate algebra and RBesT.

RBesT's postmix for a beta mixture (R/postmix.R, version 1.8-2): every component Beta(a, b)
becomes Beta(a + r, b + n - r) and its weight is multiplied by the beta-binomial probability of
the data under it (``dBetaBinomial(r, n, a, b)``), then normalised. The checks below use
scipy's beta-binomial, an implementation independent of ours.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hlhbayes.design.decision import Rule2S, prob_difference
from hlhbayes.design.mixture import BetaMixture

shapes = st.floats(0.1, 500.0)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(shapes, shapes, st.integers(1, 200), st.data())
def test_posterior_of_one_beta_is_beta_a_plus_r_b_plus_n_minus_r(a, b, n, data):
    r = data.draw(st.integers(0, n))
    post = BetaMixture.beta(a, b).posterior(r, n)
    assert post.weights.tolist() == [1.0]
    assert post.a[0] == a + r and post.b[0] == b + (n - r)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(st.tuples(st.floats(0.05, 1.0), shapes, shapes), min_size=2, max_size=4),
    st.integers(1, 150),
    st.data(),
)
def test_weights_follow_the_beta_binomial_marginal_likelihoods(rows, n, data):
    r = data.draw(st.integers(0, n))
    total = sum(row[0] for row in rows)
    prior = BetaMixture.from_components([(w / total, a, b) for w, a, b in rows])
    post = prior.posterior(r, n)
    marginal = stats.betabinom.pmf(r, n, prior.a, prior.b)
    expected = prior.weights * marginal / np.sum(prior.weights * marginal)
    assert np.allclose(post.weights, expected, rtol=1e-9, atol=1e-15)
    assert np.array_equal(post.a, prior.a + r) and np.array_equal(post.b, prior.b + (n - r))


def test_rbest_postmix_example_individual_data():
    """R/postmix.R example: ``postmix(mixbeta(c(1, 1, 1)), c(1, 0, 1, 1, 0, 1))`` and the same
    from summary data (``n = 6, r = 4``): the uniform prior becomes Beta(5, 3)."""
    data = [1, 0, 1, 1, 0, 1]
    post = BetaMixture.beta(1, 1).posterior(sum(data), len(data))
    assert post == BetaMixture.beta(5, 3)


def test_rbest_postmix_example_conflicting_data():
    """R/postmix.R example: ``postmix(mixbeta(c(0.5, 4, 10), c(0.5, 1, 1)), n = 20, r = 18)``,
    a robust informative prior (mean 0.29) and conflicting data (18 of 20): the weight moves to
    the vague component."""
    prior = BetaMixture.from_components([(0.5, 4, 10), (0.5, 1, 1)])
    post = prior.posterior(18, 20)
    assert post.a.tolist() == [22.0, 19.0] and post.b.tolist() == [12.0, 3.0]
    marginal = np.array([stats.betabinom.pmf(18, 20, 4, 10), 1 / 21])  # uniform: 1/(n + 1)
    assert np.allclose(post.weights, marginal / marginal.sum(), rtol=1e-12)
    assert post.weights[1] > 0.99


# The AS vignette (../shared/anchors/RBesT_AS_vignette.md), "Trial Analysis":
# post_placebo <- postmix(map_robust, r = 1, n = 6); post_treat <- postmix(treat_prior, r = 14,
# n = 24); pmixdiff(post_treat, post_placebo, 0, lower.tail = FALSE) printed 0.9913233; and the
# "Data Scenarios" decisions on postmix results: 15/24 vs 3/6 under the MAP "just positive",
# 14/24 vs 4/6 "negative".
AS_MAP = BetaMixture.from_components(
    [(0.6167463, 19.1916387, 57.7779318), (0.3832537, 3.5278745, 9.3735980)]
)
P_DIFF_ROBUST = 0.9913233
TOL_P_DIFF = 1e-6
"""Printed to 7 decimals; see tests/test_design_rbest.py for the reasoning."""


def test_as_vignette_trial_analysis():
    post_placebo = AS_MAP.robustify(0.2, 0.5).posterior(1, 6)
    post_treat = BetaMixture.beta(0.5, 1).posterior(14, 24)
    assert prob_difference(post_treat, post_placebo, 0.0) == pytest.approx(
        P_DIFF_ROBUST, abs=TOL_P_DIFF
    )
    rule = Rule2S(prob=0.95, delta=0.0)
    treat = BetaMixture.beta(0.5, 1)
    assert rule(treat.posterior(15, 24), AS_MAP.posterior(3, 6))
    assert not rule(treat.posterior(14, 24), AS_MAP.posterior(4, 6))
