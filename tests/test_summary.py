"""Posterior summaries in the summary.json contract, the convergence gate, P(rate > t).

Checked on draws made here, whose summaries are known: independent normal draws (R-hat near 1,
bulk ESS near the number of draws) and chains pulled apart on purpose (R-hat far above 1.01).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hlhbayes.summary import (
    MAX_R_HAT,
    MIN_ESS_BULK,
    Diagnostics,
    diagnose,
    summarise,
    threshold_probabilities,
)

CHAINS, DRAWS = 4, 1000
CELLS = {"etiology": ["infection", "malignancy"], "line": ["first", "later"]}


def posterior(rng: np.random.Generator, shift: float = 0.0) -> xr.Dataset:
    """``tau`` and both rates per cell; ``shift`` moves each chain of ``tau`` apart."""
    tau = np.abs(rng.normal(0.5, 0.2, (CHAINS, DRAWS))) + shift * np.arange(CHAINS)[:, None]
    rates = rng.beta(8, 2, (CHAINS, DRAWS, 2, 2))
    dims = ("chain", "draw", "etiology", "line")
    return xr.Dataset(
        {
            "tau": (("chain", "draw"), tau),
            "rate_typical": (dims, rates),
            "rate_new": (dims, rates * 0.9),
        },
        coords=CELLS,
    )


def stats(divergences: int = 0) -> xr.Dataset:
    diverging = np.zeros((CHAINS, DRAWS), dtype=bool)
    diverging.flat[:divergences] = True
    return xr.Dataset({"diverging": (("chain", "draw"), diverging)})


@pytest.fixture(scope="module")
def iid() -> xr.Dataset:
    return posterior(np.random.default_rng(1))


def test_records_follow_the_contract(iid):
    records = summarise(iid, ("tau",))
    assert [(r["quantity"], r["etiology"], r["line"]) for r in records] == [
        ("tau", None, None),
        *[("rate_typical", e, ln) for e in CELLS["etiology"] for ln in CELLS["line"]],
        *[("rate_new", e, ln) for e in CELLS["etiology"] for ln in CELLS["line"]],
    ]
    keys = ["quantity", "etiology", "line", "mean", "sd", "q2.5", "q50", "q97.5"]
    assert list(records[0]) == [*keys, "mcse_mean", "ess_bulk", "r_hat"]
    draws = iid["rate_typical"].sel(etiology="malignancy", line="later").values.ravel()
    cell = records[4]
    assert (cell["etiology"], cell["line"]) == ("malignancy", "later")
    assert cell["mean"] == pytest.approx(draws.mean())
    assert cell["sd"] == pytest.approx(draws.std(ddof=1))
    lo, mid, hi = np.quantile(draws, [0.025, 0.5, 0.975])
    assert (cell["q2.5"], cell["q50"], cell["q97.5"]) == pytest.approx((lo, mid, hi))
    # independent draws: R-hat near 1, bulk ESS near the number of draws, MCSE near sd / sqrt(n)
    assert cell["r_hat"] == pytest.approx(1.0, abs=0.01)
    assert 0.7 * CHAINS * DRAWS < cell["ess_bulk"] < 1.3 * CHAINS * DRAWS
    assert cell["mcse_mean"] == pytest.approx(cell["sd"] / np.sqrt(CHAINS * DRAWS), rel=0.2)


def test_the_gate_passes_independent_draws(iid):
    d = diagnose(iid, stats(), summarise(iid, ("tau",)))
    assert d.converged and d.divergences == 0 and d.problems() == []
    assert d.max_r_hat <= MAX_R_HAT and d.min_ess_bulk >= MIN_ESS_BULK
    assert set(d.as_dict()) == {"max_r_hat", "min_ess_bulk", "divergences", "converged"}


def test_the_gate_fails_chains_apart_and_divergences_with_remedies():
    apart = posterior(np.random.default_rng(2), shift=0.5)
    d = diagnose(apart, stats(divergences=3), summarise(apart, ("tau",)))
    assert not d.converged
    assert d.max_r_hat > 1.5 and d.divergences == 3
    problems = d.problems()
    assert problems[0].startswith("3 divergent transitions: raise --target-accept")
    assert any(p.startswith(f"max R-hat {d.max_r_hat:.3f} > {MAX_R_HAT}") for p in problems)
    assert "run more --draws" in problems[-1]  # the chains apart also have a small bulk ESS


def test_exact_results_have_no_mcmc_diagnostics():
    exact = Diagnostics(None, None, 0, True)
    assert exact.problems() == []
    assert exact.as_dict() == {
        "max_r_hat": None,
        "min_ess_bulk": None,
        "divergences": 0,
        "converged": True,
    }


def test_threshold_probabilities_are_shares_of_draws(iid):
    rows = threshold_probabilities(iid, (0.7, 0.9))
    assert len(rows) == 2 * 4 * 2  # two rates, four cells, two thresholds
    first = rows[0]
    draws = iid["rate_typical"].sel(etiology="infection", line="first").values
    assert (first["quantity"], first["etiology"], first["line"], first["threshold"]) == (
        "rate_typical",
        "infection",
        "first",
        0.7,
    )
    assert first["probability"] == pytest.approx((draws > 0.7).mean())
    assert rows[1]["probability"] == pytest.approx((draws > 0.9).mean())


def test_record_diagnostics_equal_arviz_stats():
    """The summaries use the engine's numpy diagnostics; ArviZ stays the reference."""
    import arviz_stats as azs

    draws = posterior(np.random.default_rng(3), shift=0.05)
    records = {(r["quantity"], r["etiology"], r["line"]): r for r in summarise(draws, ("tau",))}
    reference = {
        "r_hat": azs.rhat(draws),
        "ess_bulk": azs.ess(draws, method="bulk"),
        "mcse_mean": azs.mcse(draws, method="mean"),
    }
    for (quantity, etiology, line), record in records.items():
        for key, values in reference.items():
            da = values[quantity]
            expected = float(da.sel(etiology=etiology, line=line) if etiology else da)
            assert record[key] == pytest.approx(expected, rel=1e-10), (quantity, key)
