"""Effective sample size: single-beta identities, the mixture information, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from hlhbayes.design.ess import (
    MORITA_S,
    ess,
    ess_elir,
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
    assert list(values) == ["elir", "moment", "morita"]
    with pytest.raises(HlhBayesError, match="a < 1 or b < 1"):
        ess_elir(BetaMixture.beta(0.5, 1))


def test_robustifying_lowers_every_ess():
    mix = BetaMixture.from_components([(0.6, 19.2, 57.8), (0.4, 3.5, 9.4)])
    before, after = ess(mix), ess(mix.robustify(0.2))
    assert all(after[k] < before[k] for k in before)
    assert np.isfinite(list(after.values())).all()
