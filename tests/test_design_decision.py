"""Decision rules: exact posterior probabilities and decision boundaries (single and two arms)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from hlhbayes.design.decision import (
    Rule1S,
    Rule2S,
    boundary_1s,
    boundary_2s,
    prob_difference,
)
from hlhbayes.design.mixture import BetaMixture
from hlhbayes.errors import HlhBayesError

TOL_QUAD = 1e-9
"""tanh-sinh on the quantile scale against adaptive quadrature run at 1e-13 absolute."""


@st.composite
def priors(draw, max_components: int = 3):
    k = draw(st.integers(1, max_components))
    shapes = st.floats(0.5, 60.0, allow_nan=False)
    w = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
    a = draw(st.lists(shapes, min_size=k, max_size=k))
    b = draw(st.lists(shapes, min_size=k, max_size=k))
    return BetaMixture(w / w.sum(), np.array(a), np.array(b))


def _quad_reference(post_t: BetaMixture, post_c: BetaMixture, delta: float) -> float:
    """P(p_t - p_c > delta) = int f_c(x) S_t(x + delta) dx by adaptive quadrature."""
    lo, hi = max(0.0, -delta), min(1.0, 1.0 - delta)
    points = [float(m) for m in post_c.component_means if lo < m < hi]

    def f(x: float) -> float:
        return float(post_c.pdf(x) * post_t.sf(x + delta))

    value = integrate.quad(f, lo, hi, points=points or None, epsabs=1e-13, epsrel=1e-12, limit=500)
    below = (
        float(post_c.cdf(-delta)) if delta < 0 else 0.0
    )  # p_c < -delta: always p_t > p_c + delta
    return value[0] + below


@pytest.mark.parametrize("delta", [0.0, 0.1, -0.15, 0.3])
def test_probability_of_a_difference_against_adaptive_quadrature(delta):
    rng = np.random.default_rng(7)
    prior_t = BetaMixture.beta(0.5, 1)
    prior_c = BetaMixture.from_components([(0.5, 19.2, 57.8), (0.3, 3.5, 9.4), (0.2, 1, 1)])
    for _ in range(12):
        n_t, n_c = rng.integers(1, 60, size=2)
        post_t = prior_t.posterior(int(rng.integers(0, n_t + 1)), int(n_t))
        post_c = prior_c.posterior(int(rng.integers(0, n_c + 1)), int(n_c))
        ours = prob_difference(post_t, post_c, delta)
        assert ours == pytest.approx(_quad_reference(post_t, post_c, delta), abs=TOL_QUAD)
        lower = prob_difference(post_t, post_c, delta, lower_tail=True)
        assert ours + lower == pytest.approx(1.0, abs=TOL_QUAD)


def test_symmetry_of_the_difference():
    x = BetaMixture.from_components([(0.3, 2, 8), (0.7, 12, 5)])
    y = BetaMixture.beta(6, 6)
    # P(X - Y > d) = P(Y - X < -d) = 1 - P(Y - X >= -d)
    assert prob_difference(x, y, 0.1) == pytest.approx(
        prob_difference(y, x, -0.1, lower_tail=True), abs=1e-10
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    priors(),
    st.integers(1, 80),
    st.floats(0.02, 0.98),
    st.floats(0.5, 0.995),
    st.booleans(),
)
def test_single_arm_boundary_flips_exactly_there(prior, n, p0, c, lower):
    rule = Rule1S(p0, c, lower)
    b = boundary_1s(prior, n, rule)
    decisions = np.array([rule(prior.posterior(y, n)) for y in range(n + 1)])
    if b is None:
        assert not decisions.any()
        return
    if lower:
        assert decisions[b] and (b == n or not decisions[b + 1])
        assert decisions[: b + 1].all() and not decisions[b + 1 :].any()
    else:
        assert decisions[b] and (b == 0 or not decisions[b - 1])
        assert decisions[b:].all() and not decisions[:b].any()


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    priors(2),
    priors(2),
    st.integers(1, 14),
    st.integers(1, 10),
    st.sampled_from([0.0, 0.1, -0.1]),
    st.floats(0.6, 0.99),
    st.booleans(),
)
def test_two_arm_boundary_equals_brute_force(prior_t, prior_c, n_t, n_c, delta, c, lower):
    rule = Rule2S(c, delta, lower)
    bound = boundary_2s(prior_t, prior_c, n_t, n_c, rule)
    posts_t = [prior_t.posterior(y, n_t) for y in range(n_t + 1)]
    for y_c in range(n_c + 1):
        post_c = prior_c.posterior(y_c, n_c)
        ok = np.array([rule(p, post_c) for p in posts_t])
        y = np.arange(n_t + 1)
        expected = y <= bound[y_c] if lower else y >= bound[y_c]
        assert np.array_equal(ok, expected), (y_c, bound[y_c], ok)


def test_rules_validate_and_describe():
    assert Rule1S(0.3, 0.9).describe() == "P(p > 0.3 | data) > 0.9"
    assert Rule1S(0.3, 0.9, lower_tail=True).describe() == "P(p <= 0.3 | data) > 0.9"
    assert Rule2S(0.95).describe() == "P(p_t - p_c > 0 | data) > 0.95"
    for bad in (lambda: Rule1S(1.5, 0.9), lambda: Rule1S(0.3, 1.0), lambda: Rule2S(0.9, 1.0)):
        with pytest.raises(HlhBayesError):
            bad()
