"""The rank plots' uniformity flags and the convergence gate never contradict each other silently.

Synthetic chains whose behaviour is known: well mixed (nothing flagged), one chain that never
visits the lowest values of a parameter while R-hat and ESS stay within the gate (flagged, and
the note must name the parameter and say why the gate passes), and chains that have not mixed
(flagged, and the gate fails too).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hlhbayes.reporting.ranks import RANK_LEVEL, RankCheck, RankTest, rank_check, rank_note
from hlhbayes.summary import MAX_R_HAT, MIN_ESS_BULK

NAMES = ["alpha", "sigma_eta", "tau", "gamma"]
CHAINS, DRAWS = 4, 1000


def posterior(seed: int, **replace: np.ndarray) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    data = {n: rng.normal(size=(CHAINS, DRAWS)) for n in NAMES}
    data.update(replace)
    return xr.Dataset({n: (("chain", "draw"), v) for n, v in data.items()})


def gate_values(ds: xr.Dataset) -> dict[str, dict[str, float]]:
    import arviz_stats

    rhat = arviz_stats.rhat(ds)
    ess = arviz_stats.ess(ds, method="bulk")
    return {n: {"r_hat": float(rhat[n]), "ess_bulk": float(ess[n])} for n in NAMES}


def avoids_the_lowest_values(seed: int) -> np.ndarray:
    """iid N(0, 1) chains, except that chain 0 never goes below its 4th percentile."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(CHAINS, DRAWS))
    floor = np.quantile(values, 0.04)
    low = values[0] < floor
    values[0, low] = rng.uniform(floor, 0.0, low.sum())
    return values


def test_well_mixed_chains_flag_nothing_and_agree_with_the_gate():
    ds = posterior(1)
    check = rank_check(ds, NAMES)
    assert check.level == RANK_LEVEL and [t.name for t in check.tests] == NAMES
    assert check.flagged == []
    note = rank_note(check, True, gate_values(ds))
    assert "No parameter is flagged, in agreement with the convergence gate" in note
    assert f"level α = {RANK_LEVEL:g}" in note and "0.04 false flags are expected" in note


def test_a_local_flag_with_a_passing_gate_is_named_and_explained():
    ds = posterior(2, tau=avoids_the_lowest_values(3))
    values = gate_values(ds)
    assert values["tau"]["r_hat"] <= MAX_R_HAT and values["tau"]["ess_bulk"] >= MIN_ESS_BULK
    check = rank_check(ds, NAMES)
    assert [t.name for t in check.flagged] == ["tau"]
    (tau,) = check.flagged
    assert tau.region is not None and tau.region[0] < np.quantile(ds["tau"].values, 0.1)
    note = rank_note(check, True, values)
    assert "Flagged: tau (p " in note
    assert "The convergence gate still passes" in note
    assert f"tau: R-hat {values['tau']['r_hat']:.3f}, bulk ESS" in note
    assert f"4 tests, {4 * RANK_LEVEL:.2g} false flags are expected by chance" in note
    assert f"Bonferroni level α/k = {RANK_LEVEL / 4:.2g}" in note


def test_chains_that_have_not_mixed_are_flagged_and_fail_the_gate():
    rng = np.random.default_rng(4)
    shifted = rng.normal(size=(CHAINS, DRAWS)) + np.array([0, 0, 0, 1.5])[:, None]
    ds = posterior(5, alpha=shifted)
    assert gate_values(ds)["alpha"]["r_hat"] > MAX_R_HAT
    check = rank_check(ds, NAMES)
    assert "alpha" in [t.name for t in check.flagged]
    note = rank_note(check, False, gate_values(ds))
    assert "Flagged: alpha" in note and "The convergence gate fails as well" in note


@pytest.mark.parametrize(
    ("p", "words"),
    [
        (0.006, "compatible with a chance flag among 4 tests"),
        (0.0004, "chance alone is an unlikely explanation"),
    ],
)
def test_the_note_tells_a_chance_flag_from_one_beyond_the_bonferroni_level(p, words):
    tests = [RankTest(n, 0.5, RANK_LEVEL, None) for n in NAMES[:3]]
    check = RankCheck(RANK_LEVEL, [*tests, RankTest("gamma", p, RANK_LEVEL, (0.1, 0.2))])
    note = rank_note(check, True, {"gamma": {"r_hat": 1.001, "ess_bulk": 2000.0}})
    assert words in note
    assert "gamma lies between 0.1 and 0.2" in note


def test_no_flag_with_a_failing_gate_says_the_gate_decides():
    check = RankCheck(RANK_LEVEL, [RankTest(n, 0.5, RANK_LEVEL, None) for n in NAMES])
    note = rank_note(check, False, {})
    assert "but the convergence gate fails" in note and "the gate decides" in note


@pytest.mark.sampling
def test_the_report_s_note_names_every_parameter_the_figure_flags(short_run):
    """On a real run, p-values recomputed here with ArviZ: the note names each flagged one."""
    import arviz_stats  # noqa: F401

    from hlhbayes.reporting.context import rank_verdict
    from hlhbayes.reporting.loading import open_run

    run = open_run(short_run)
    check, note = rank_verdict(run)
    ds = run.idata["posterior"].to_dataset()[list(run.model.hyperparameters)]
    ranks = ds.azstats.compute_ranks(dim=["chain", "draw"], relative=True)
    p_values, _, _ = ranks.azstats.mchain_uniformity_test(dim=["chain", "draw"])
    for name in run.model.hyperparameters:
        assert check.tests[list(run.model.hyperparameters).index(name)].p_value == pytest.approx(
            float(p_values[name])
        )
        if float(p_values[name]) < RANK_LEVEL:
            assert f"{name} (p " in note
    assert not run.converged  # the short run fails its gate: the note must not say it passes
    assert "still passes" not in note
