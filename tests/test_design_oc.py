"""Exact operating characteristics, sample size and probability of success.

The analytic figures are checked against brute-force simulation that never uses the boundary:
each simulated outcome is decided by the rule itself. Agreement is required within Z Monte Carlo
standard errors, sqrt(P (1 - P) / M) (floored at 1/M so that P = 0 or 1 is not a zero band).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlhbayes.design.decision import Rule1S, Rule2S
from hlhbayes.design.mixture import BetaMixture
from hlhbayes.design.oc import (
    DEFAULT_RATES,
    Design1S,
    Design2S,
    find_delta,
    oc_1s,
    oc_2s,
    sample_size_1s,
    sample_size_2s,
)
from hlhbayes.design.pos import pos_1s, pos_2s

M = 20_000
Z = 4.5  # many comparisons; P(|N(0,1)| > 4.5) ~ 7e-6 each

MAP = BetaMixture.from_components(
    [(0.6167463, 19.1916387, 57.7779318), (0.3832537, 3.5278745, 9.373598)]
)


def _mc_band(p: float, m: int = M) -> float:
    return Z * math.sqrt(max(p * (1 - p), 1 / m) / m)


@st.composite
def priors(draw):
    k = draw(st.integers(1, 3))
    w = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
    a = draw(st.lists(st.floats(0.5, 50.0), min_size=k, max_size=k))
    b = draw(st.lists(st.floats(0.5, 50.0), min_size=k, max_size=k))
    return BetaMixture(w / w.sum(), np.array(a), np.array(b))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    priors(),
    st.integers(1, 60),
    st.floats(0.05, 0.95),
    st.floats(0.5, 0.99),
    st.booleans(),
    st.floats(0.0, 1.0),
)
def test_single_arm_oc_equals_simulation(prior, n, p0, c, lower, rate):
    rule = Rule1S(p0, c, lower)
    analytic = float(oc_1s(prior, n, rule, [rate]).probability[0])
    rng = np.random.default_rng(11)
    y = rng.binomial(n, rate, size=M)
    decided = {k: rule(prior.posterior(int(k), n)) for k in np.unique(y)}
    simulated = float(np.mean([decided[k] for k in y]))
    assert abs(analytic - simulated) <= _mc_band(analytic)


@pytest.mark.parametrize(
    ("n_t", "n_c", "delta", "lower", "p_t", "p_c"),
    [
        (24, 6, 0.0, False, 0.55, 0.26),
        (12, 10, 0.1, False, 0.6, 0.3),
        (15, 15, 0.0, True, 0.2, 0.4),
        (10, 8, -0.05, False, 0.3, 0.3),
    ],
)
def test_two_arm_oc_equals_simulation(n_t, n_c, delta, lower, p_t, p_c):
    rule = Rule2S(0.9, delta, lower)
    prior_t, prior_c = BetaMixture.beta(0.5, 1), MAP.robustify(0.2)
    design = Design2S(prior_t, prior_c, n_t, n_c, rule)
    analytic = float(design.probability_success([p_t], [p_c])[0])
    rng = np.random.default_rng(12)
    y_t, y_c = rng.binomial(n_t, p_t, size=M), rng.binomial(n_c, p_c, size=M)
    cache: dict[tuple[int, int], bool] = {}
    for pair in set(zip(y_t.tolist(), y_c.tolist(), strict=True)):
        cache[pair] = rule(prior_t.posterior(pair[0], n_t), prior_c.posterior(pair[1], n_c))
    simulated = float(np.mean([cache[p] for p in zip(y_t.tolist(), y_c.tolist(), strict=True)]))
    assert abs(analytic - simulated) <= _mc_band(analytic)


def test_oc_records_and_type_i_error():
    rule = Rule1S(0.2, 0.9)
    oc = oc_1s(MAP, 30, rule)
    assert np.array_equal(oc.rates, DEFAULT_RATES) and oc.rates.size == 101
    assert oc.design.boundary == 9
    assert oc.type_i_error == pytest.approx(float(oc_1s(MAP, 30, rule, [0.2]).probability[0]))
    probs = [r["probability_success"] for r in oc.records()]
    assert probs[0] == 0.0 and probs[-1] == 1.0 and np.all(np.diff(probs) >= -1e-15)
    assert oc_1s(MAP, 5, Rule1S(0.99, 0.99)).design.boundary is None


def test_single_arm_sample_size_is_minimal():
    rule = Rule1S(0.2, 0.9)
    size = sample_size_1s(MAP, rule, 0.4, 0.8, n_max=60)
    powers = {row["n"]: row["power"] for row in size.scan}
    assert powers[size.n] >= 0.8 > max(powers[n] for n in range(1, size.n))
    assert size.n_stable >= size.n
    assert all(powers[n] >= 0.8 for n in range(size.n_stable, 61))
    assert powers[size.n_stable - 1] < 0.8 or size.n_stable == size.n
    assert sample_size_1s(MAP, rule, 0.21, 0.99, n_max=20).n is None


def test_two_arm_sample_size_is_minimal():
    rule = Rule2S(0.95)
    prior = BetaMixture.beta(1, 1)
    size = sample_size_2s(prior, prior, rule, 0.6, 0.26, 0.8, ratio=1.0, n_max=60)
    assert size.scan[-1]["power"] >= 0.8
    assert all(row["power"] < 0.8 for row in size.scan[:-1])
    n = size.n
    assert size.scan[-1]["n_control"] == n and size.scan[-1]["n_treatment"] == n
    fixed = sample_size_2s(BetaMixture.beta(0.5, 1), MAP, rule, 0.6, 0.26, 0.8, n_control=6)
    assert fixed.scan[-1]["n_control"] == 6 and fixed.scan[-1]["n_treatment"] == fixed.n


def test_two_arm_scan_all_finds_the_same_first_n_and_where_power_stays_above():
    rule = Rule2S(0.95)
    prior = BetaMixture.beta(1, 1)
    quick = sample_size_2s(prior, prior, rule, 0.6, 0.26, 0.8, n_max=60)
    full = sample_size_2s(prior, prior, rule, 0.6, 0.26, 0.8, n_max=60, scan_all=True)
    assert full.n == quick.n and full.power == quick.power
    assert quick.n_stable is None and len(full.scan) == 60
    powers = {row["n_control"]: row["power"] for row in full.scan}
    assert full.n_stable is not None and full.n_stable >= full.n
    assert all(powers[n] >= 0.8 for n in range(full.n_stable, 61))
    assert full.n_stable == full.n or powers[full.n_stable - 1] < 0.8
    never = sample_size_2s(prior, prior, rule, 0.3, 0.26, 0.8, n_max=15, scan_all=True)
    assert never.n is None and never.n_stable is None and len(never.scan) == 15


def test_find_delta_is_a_root_and_monotone_power():
    design = Design2S(BetaMixture.beta(0.5, 1), MAP, 24, 6, Rule2S(0.95))
    pc = MAP.mean()
    d = find_delta(design, pc, 0.8)
    assert design.probability_success([pc + d], [pc])[0] == pytest.approx(0.8, abs=1e-8)
    grid = np.linspace(0, 1 - pc, 50)
    power = design.probability_success(pc + grid, np.full(50, pc))
    assert np.all(np.diff(power) >= -1e-12)
    assert find_delta(design, 0.95, 0.8) is None  # even p_t = 1 cannot beat p_c = 0.95 often
    records = oc_2s(design, [0.5, 0.6], 0.3)
    assert [set(r) for r in records] == [
        {"rate_treatment", "rate_control", "probability_success"}
    ] * 2


def test_probability_of_success():
    rule = Rule1S(0.2, 0.9)
    design = Design1S(MAP, 30, rule)
    # a fixed rate gives the power
    assert pos_1s(design, 0.35) == pytest.approx(
        float(design.probability_success([0.35])[0]), abs=1e-12
    )
    # averaged over the design prior: the Monte Carlo mean of the power
    rates = MAP.sample(200_000, rng=13)
    mc = design.probability_success(rates)
    assert pos_1s(design) == pytest.approx(float(mc.mean()), abs=Z * mc.std() / math.sqrt(mc.size))

    d2 = Design2S(BetaMixture.beta(0.5, 1), MAP.robustify(0.2), 24, 6, Rule2S(0.95))
    assert pos_2s(d2, 0.6, 0.26) == pytest.approx(
        float(d2.probability_success([0.6], [0.26])[0]), abs=1e-12
    )
    treat = BetaMixture.beta(60, 40)
    pt, pc = treat.sample(100_000, rng=14), MAP.sample(100_000, rng=15)
    mc2 = d2.probability_success(pt, pc)
    assert pos_2s(d2, treat, MAP) == pytest.approx(
        float(mc2.mean()), abs=Z * mc2.std() / math.sqrt(mc2.size)
    )
    lower = Design2S(BetaMixture.beta(1, 1), BetaMixture.beta(1, 1), 10, 10, Rule2S(0.8, 0.0, True))
    mc3 = lower.probability_success(np.full(1, 0.2), np.full(1, 0.5))
    assert pos_2s(lower, 0.2, 0.5) == pytest.approx(float(mc3[0]), abs=1e-12)
