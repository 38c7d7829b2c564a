"""Effective sample size: single-beta identities, the mixture information, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from hlhbayes.design.ess import (
    MORITA_S,
    elir_credit,
    ess,
    ess_elir,
    ess_elir_logit,
    ess_moment,
    ess_morita,
    information,
)
from hlhbayes.design.mixture import BetaMixture
from hlhbayes.errors import HlhBayesError

shapes = st.floats(1.05, 1000.0, allow_nan=False)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(shapes, shapes)
def test_ess_of_one_beta_is_a_plus_b(a, b):
    mix = BetaMixture.beta(a, b)
    assert ess_elir(mix) == pytest.approx(a + b, rel=1e-12)
    assert ess_moment(mix) == pytest.approx(a + b, rel=1e-9)
    # Morita (RBesT form) subtracts the information of the flattened prior Beta(m/s, (1-m)/s),
    # so it is a + b up to a term of order 1/s; exactly (a + b)(1 - 1/(s q)) with
    # q = a (b - 1)/(a - 1) + b (a - 1)/(b - 1) >= 2 sqrt(a b) > 2: below a + b by < (a + b)/(2 s)
    q = a * (b - 1) / (a - 1) + b * (a - 1) / (b - 1)
    morita = ess_morita(mix)
    assert morita == pytest.approx((a + b) * (1 - 1 / (MORITA_S * q)), rel=1e-9)
    assert 0 <= (a + b) - morita < (a + b) / (2 * MORITA_S)


def test_information_is_minus_the_second_derivative_of_the_log_density():
    mix = BetaMixture.from_components([(0.6, 19.2, 57.8), (0.4, 3.5, 9.4)])
    h = 1e-4
    for p in (0.1, 0.25, 0.4, 0.7):
        numeric = -(mix.logpdf(p + h) - 2 * mix.logpdf(p) + mix.logpdf(p - h)) / h**2
        assert float(information(mix, p)) == pytest.approx(float(numeric), rel=1e-5)


def test_elir_equals_the_direct_integral():
    mix = BetaMixture.from_components([(0.5, 19.2, 57.8), (0.3, 3.5, 9.4), (0.2, 2.0, 1.5)])

    def f(p: float) -> float:
        return float(mix.pdf(p) * information(mix, p) * p * (1 - p))

    direct = integrate.quad(f, 0, 1, points=[0.25, 0.5], limit=400, epsabs=1e-12)[0]
    assert ess_elir(mix) == pytest.approx(direct, abs=1e-8)


def test_undefined_methods_give_none():
    values = ess(BetaMixture.beta(0.5, 1))
    assert values["elir"] is None and values["morita"] is None
    assert values["moment"] == pytest.approx(1.5)
    assert values["elir_logit"] == pytest.approx(1.5, rel=1e-12)
    assert list(values) == ["elir", "moment", "morita", "elir_logit"]
    with pytest.raises(HlhBayesError, match="a < 1 or b < 1"):
        ess_elir(BetaMixture.beta(0.5, 1))


def test_robustifying_lowers_every_ess():
    mix = BetaMixture.from_components([(0.6, 19.2, 57.8), (0.4, 3.5, 9.4)])
    before, after = ess(mix), ess(mix.robustify(0.2))
    assert all(after[k] < before[k] for k in before)
    assert np.isfinite(list(after.values())).all()


# ---------------------------------------------------------------------- shapes at and below 1
def test_elir_jumps_at_a_shape_of_one():
    """Beta(a, 1) has no curvature towards p = 1: ELIR credits it with 1, not a + 1."""
    assert ess_elir(BetaMixture.beta(12, 1)) == 1.0
    assert ess_elir(BetaMixture.beta(1, 7)) == 1.0
    assert ess_elir(BetaMixture.beta(1, 1)) == 0.0
    assert ess_elir(BetaMixture.beta(12, 1 + 1e-9)) == pytest.approx(13.0)
    assert list(elir_credit(BetaMixture.from_components([(0.5, 12, 1), (0.5, 3, 4)]))) == [1, 7]
    # the logit-scale ELIR has no jump
    for a, b in ((12, 1), (1, 7), (1, 1)):
        assert ess_elir_logit(BetaMixture.beta(a, b)) == a + b


def _elir_logit_direct(mix: BetaMixture) -> float:
    """The ELIR on the logit scale by direct quadrature over theta = logit(p).

    The prior density of theta is sum_k w_k p^a_k (1 - p)^b_k / B(a_k, b_k); its negative second
    derivative, with responsibilities r_k and scores g_k = a_k (1 - p) - b_k p, is
    sum_k r_k (a_k + b_k) p (1 - p) - Var_r[g]; one patient's information is p (1 - p). The
    variance is summed over pairs, (1/2) sum_jk r_j r_k (g_j - g_k)^2 with the differences
    formed from the shapes, so that it keeps its precision in the tails.
    """
    da = mix.a[:, None] - mix.a[None, :]
    db = mix.b[:, None] - mix.b[None, :]

    def integrand(t: float) -> float:
        p, q = special.expit(t), special.expit(-t)
        log_terms = (
            np.log(mix.weights)
            + mix.a * np.log(p)
            + mix.b * np.log(q)
            - special.betaln(mix.a, mix.b)
        )
        density = np.exp(special.logsumexp(log_terms))
        r = np.exp(log_terms - special.logsumexp(log_terms))
        var_over_pq = 0.5 * np.sum(r[:, None] * r[None, :] * (da * q - db * p) ** 2) / (p * q)
        return float(density * (np.sum(r * (mix.a + mix.b)) - var_over_pq))

    return integrate.quad(integrand, -80, 80, points=[-20, -5, 0, 5, 20], limit=500)[0]


@pytest.mark.parametrize(
    "components",
    [
        [(0.6167463, 19.1916387, 57.7779318), (0.3832537, 3.5278745, 9.3735980)],
        [(0.2, 45.5, 1.0), (0.8, 1.0, 1.0)],
        [(0.5093, 1.0, 44.62), (0.1704, 1.0, 6.258), (0.3203, 1.0, 1.0)],
        [(0.5, 0.5, 5.0), (0.5, 3.0, 0.7)],
        [(1.0, 0.5, 1.0)],
    ],
)
def test_logit_elir_equals_the_direct_integral(components):
    mix = BetaMixture.from_components(components)
    assert ess_elir_logit(mix) == pytest.approx(_elir_logit_direct(mix), abs=1e-6)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.floats(0.05, 500.0), st.floats(0.05, 500.0))
def test_logit_elir_of_one_beta_is_a_plus_b_for_every_shape(a, b):
    assert ess_elir_logit(BetaMixture.beta(a, b)) == pytest.approx(a + b, rel=1e-12)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.floats(0.05, 1), shapes, shapes), min_size=2, max_size=3))
def test_logit_elir_equals_elir_when_every_shape_exceeds_one(rows):
    total = sum(r[0] for r in rows)
    mix = BetaMixture.from_components([(w / total, a, b) for w, a, b in rows])
    assert ess_elir_logit(mix) == pytest.approx(ess_elir(mix), rel=1e-12, abs=1e-12)


def test_logit_elir_undefined_for_two_shapes_at_most_one_at_one_edge():
    mix = BetaMixture.from_components([(0.5, 0.5, 5.0), (0.5, 0.8, 5.0)])
    with pytest.raises(HlhBayesError, match="components 1 and 2 have different values of a"):
        ess_elir_logit(mix)
    assert ess(mix)["elir_logit"] is None
    # the same shape below 1 twice is fine (the pair's scores differ by a bounded term)
    same = BetaMixture.from_components([(0.5, 0.5, 5.0), (0.5, 0.5, 9.0)])
    assert ess_elir_logit(same) == pytest.approx(_elir_logit_direct(same), abs=1e-6)


# RBesT tests/testthat/test-utils.R, "ESS elir is predictively consistent for beta mixtures":
# bmix <- mixbeta(rob = c(0.2, 1, 1), inf = c(0.8, 10, 2)) and m = 100 forward patients; RBesT
# simulates 1000 outcomes and checks that mean(posterior ELIR) - m is within 0.75 of the prior's
# ELIR. The predictive is finite, so here the expectation is a sum: exact.
RBEST_CONSISTENCY = [(0.2, 1.0, 1.0), (0.8, 10.0, 2.0)]
FORWARD = 100


@pytest.mark.parametrize("method", [ess_elir, ess_elir_logit])
def test_elir_is_predictively_consistent(method):
    mix = BetaMixture.from_components(RBEST_CONSISTENCY)
    pmf = mix.predictive_pmf(FORWARD)
    expected = sum(p * method(mix.posterior(y, FORWARD)) for y, p in enumerate(pmf))
    assert expected - FORWARD == pytest.approx(method(mix), abs=1e-6)


@pytest.mark.parametrize(
    "components",
    [
        # RBesT test-utils.R "ess elir for beta mixtures gives a warning for a<1 & b<1 densities"
        [(0.48, 1, 11), (0.34, 6.9, 173), (0.18, 1.0, 1.13)],
        # RBesT test-utils.R "ess elir for problematic beta mixtures gives correct result 1"
        [
            (0.06429517, 437.32302999, 10.71709277),
            (0.03301215, 64.04211307, 2.14157953),
            (0.00269268, 5.92543558, 1.00000001),
            (0.9, 1.0, 1.0),
        ],
    ],
)
def test_rbest_problem_mixtures_have_a_finite_non_negative_elir(components):
    value = ess_elir(BetaMixture.from_components(components))
    assert np.isfinite(value) and value >= 0


@pytest.mark.parametrize("weight", [0.05, 0.95])
def test_rbest_problem_mixture_2_robustified(weight):
    # RBesT test-utils.R "ess elir for problematic beta mixtures gives correct result 2"
    mix = BetaMixture.from_components(
        [
            (0.7237396, 53.3721902, 1.4301638),
            (0.1665037, 44.3894573, 4.3842200),
            (0.1097567, 9.8097062, 1.8492197),
        ]
    ).robustify(weight, 0.5)
    value = ess_elir(mix)
    assert np.isfinite(value) and value >= 0


@pytest.mark.parametrize(
    "components", [[(0.95, 10, 5), (0.05, 0.9, 2)], [(0.95, 10, 5), (0.05, 2, 0.9)]]
)
def test_rbest_refused_mixtures_have_no_elir(components):
    # RBesT test-utils.R: "At least one parameter of the beta mixtures is less than 1"
    values = ess(BetaMixture.from_components(components))
    assert values["elir"] is None and np.isfinite(values["elir_logit"])
