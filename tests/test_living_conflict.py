"""Prior-data conflict: predictive distributions and mid-p values, checked by hand (no MCMC).

With tau = 0 the new study's effect is 0, so with constant eta / gamma / mu draws the predictive
distribution of a count is a plain binomial (a stratum) or Poisson-binomial (patient rows) whose
probabilities are written out here from the model equations.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import stats
from scipy.special import expit

from conftest import copy_base
from hlhbayes.evidence import load_evidence
from hlhbayes.evidence.add import apply_addition, plan_addition
from hlhbayes.living.conflict import (
    binomial_mixture,
    new_study_posterior,
    poisson_binomial_mixture,
    prior_data_conflict,
    tail,
)
from hlhbayes.living.subset import units_of_studies
from hlhbayes.models.table import units_by_study
from hlhbayes.models.units import Filters, build_units

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ETA = np.array([1.2, 0.4, 1.5, 0.9, 0.7])  # infection, malignancy, rheumatic, other, unknown
GAMMA = -0.6


def _posterior(draws: int = 50, tau: float = 0.0) -> xr.Dataset:
    shape = (2, draws)
    return xr.Dataset(
        {
            "eta": (("chain", "draw", "etiology"), np.broadcast_to(ETA, (*shape, 5)).copy()),
            "gamma": (("chain", "draw"), np.full(shape, GAMMA)),
            "tau": (("chain", "draw"), np.full(shape, tau)),
            "mu": (("chain", "draw"), np.full(shape, 1.1)),
        }
    )


@pytest.fixture(scope="module")
def with_example(tmp_path_factory) -> Path:
    """The shipped base plus the README's two example studies."""
    root = copy_base(tmp_path_factory.mktemp("base") / "data")
    apply_addition(
        plan_addition(root, FIXTURES / "example_study.yaml", FIXTURES / "example_patients.csv")
    )
    apply_addition(plan_addition(root, FIXTURES / "example_aggregate_study.yaml"))
    return root


def test_tail_is_the_two_sided_mid_p():
    pmf = stats.binom.pmf(np.arange(6), 5, 0.5)
    low = tail(pmf, 0)
    assert low["p_lower"] == pytest.approx(0.5 / 32)
    assert low["p_upper"] == pytest.approx(1 - 0.5 / 32)
    assert low["p_value"] == pytest.approx(1 / 32)
    mid = tail(pmf, 2)
    assert mid["p_lower"] == pytest.approx((1 + 5 + 10 / 2) / 32)
    assert mid["p_value"] == pytest.approx(2 * (1 + 5 + 5) / 32)
    assert tail(pmf, 5)["p_value"] == pytest.approx(1 / 32)
    assert mid["predicted_mean"] == pytest.approx(2.5)
    assert (mid["predicted_q2.5"], mid["predicted_q97.5"]) == (0, 5)
    assert tail(stats.binom.pmf(np.arange(21), 20, 0.5), 10)["p_value"] == pytest.approx(1.0)


def test_mixtures_by_brute_force():
    p = np.array([[0.2, 0.7, 0.9, 0.5], [0.6, 0.1, 0.3, 0.8]])
    brute = np.zeros(5)
    for row in p:
        for outcome in itertools.product([0, 1], repeat=4):
            prob = np.prod([q if y else 1 - q for q, y in zip(row, outcome, strict=True)])
            brute[sum(outcome)] += prob / len(p)
    assert poisson_binomial_mixture(p) == pytest.approx(brute)
    draws = np.array([0.3, 0.8])
    assert binomial_mixture(6, draws) == pytest.approx(
        (stats.binom.pmf(np.arange(7), 6, 0.3) + stats.binom.pmf(np.arange(7), 6, 0.8)) / 2
    )
    # certain draws (p = 0 or 1) and an empty unit, as scipy has them
    for n, draws in [(5, np.array([0.0, 1.0, 0.4])), (0, np.array([0.0, 0.5])), (1, np.ones(3))]:
        expected = stats.binom.pmf(np.arange(n + 1)[None, :], n, draws[:, None]).mean(axis=0)
        assert binomial_mixture(n, draws) == pytest.approx(expected, abs=1e-15)


def test_etiology_line_strata_and_patient_rows(with_example):
    base = load_evidence(with_example)
    units = build_units(base, Filters())
    new = units_of_studies(units, ["Example2024", "Example2025"])
    rows = prior_data_conflict("etiology-line", _posterior(), new, seed=1)
    assert [(r["study"], r["kind"], r["unit"], r["observed"], r["total"]) for r in rows] == [
        ("Example2024", "patient rows", "patient rows (3)", 2, 3),
        ("Example2024", "stratum", "response-others", 3, 5),
        ("Example2025", "stratum", "response-overall", 4, 11),
    ]
    # patients: EBV infection first line, lymphoma later line, unknown first line
    p_pat = expit(np.array([ETA[0], ETA[1] + GAMMA, ETA[4]]))
    expected = tail(poisson_binomial_mixture(p_pat[None, :]), 2)
    assert rows[0]["p_value"] == pytest.approx(expected["p_value"])
    assert rows[0]["predicted_mean"] == pytest.approx(p_pat.sum())

    # a stratum: mean probability of its mix (3 infection, 2 malignancy; 2 first, 3 later)
    def stratum_p(w, v):
        return sum(
            we * ((1 - v) * expit(ETA[e]) + v * expit(ETA[e] + GAMMA)) for e, we in w.items()
        )

    p1 = stratum_p({0: 3 / 5, 1: 2 / 5}, 3 / 5)
    assert rows[1]["p_value"] == pytest.approx(tail(stats.binom.pmf(range(6), 5, p1), 3)["p_value"])
    p2 = stratum_p({0: 6 / 11, 1: 5 / 11}, 7 / 11)
    expected = tail(stats.binom.pmf(range(12), 11, p2), 4)
    assert rows[2]["p_value"] == pytest.approx(expected["p_value"])
    assert rows[2]["conflict"] == (expected["p_value"] < 0.05)
    assert rows[2]["direction"] == "fewer"


def test_random_effects_study_total_and_flag(with_example):
    units = units_by_study(load_evidence(with_example), Filters())
    new = units_of_studies(units, ["Example2025"])
    rows = prior_data_conflict("random-effects", _posterior(), new, seed=1)
    assert len(rows) == 1
    row = rows[0]
    assert (row["kind"], row["unit"], row["observed"], row["total"]) == (
        "study total",
        "study total",
        4,
        11,
    )
    expected = tail(stats.binom.pmf(range(12), 11, expit(1.1)), 4)
    assert row["p_value"] == pytest.approx(expected["p_value"])
    assert row["conflict"] is True and row["p_value"] < 0.05  # 4/11 against a rate of 0.75


def test_a_fresh_study_effect_widens_the_prediction(with_example):
    units = units_by_study(load_evidence(with_example), Filters())
    new = units_of_studies(units, ["Example2025"])
    narrow = prior_data_conflict("random-effects", _posterior(2000), new, seed=2)[0]
    wide = prior_data_conflict("random-effects", _posterior(2000, tau=1.5), new, seed=2)[0]
    assert wide["p_value"] > narrow["p_value"]  # a new study may differ: less surprising
    again = prior_data_conflict("random-effects", _posterior(2000, tau=1.5), new, seed=2)[0]
    assert again == wide  # seeded


def test_unknown_compositions_are_drawn_from_their_prior(shipped):
    units = build_units(shipped, Filters())
    new = units_of_studies(units, ["Wohlfarth2019"])  # etiology and line unknown
    rng = np.random.default_rng(0)
    fake = new_study_posterior(
        "etiology-line", _posterior(), new, rng, {"composition_concentration": 5}
    )
    assert fake["mix_latent"].shape == (2, 50, 1, 5)
    assert np.allclose(fake["mix_latent"].sum("etiology"), 1.0)
    assert fake["later_latent"].shape == (2, 50, 1)
    assert fake["u"].shape == (2, 50, 1) and np.all(fake["u"] == 0)
    row = prior_data_conflict("etiology-line", _posterior(), new, seed=1)[0]
    assert (row["observed"], row["total"]) == (6, 8)
    assert 0 < row["p_value"] <= 1
