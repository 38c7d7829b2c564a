"""``living.reviewer``: the reviewer's scenarios of a fit and the table built from their rows."""

from __future__ import annotations

import pytest

from hlhbayes import pipeline
from hlhbayes.living import reviewer
from hlhbayes.living.sensitivity import SensitivityResult, plan_scenarios
from hlhbayes.models.spec import load_spec

CELLS = [("infection", "first")]


@pytest.fixture(scope="module")
def prepared():
    spec = load_spec("etiology-line", sampler_overrides={"draws": 50, "tune": 60})
    return pipeline.prepare(pipeline.FitRequest(spec=spec, seed=7))


def test_scenarios_are_the_prior_and_small_study_groups(prepared):
    scenarios = reviewer.reviewer_scenarios(prepared)
    assert scenarios[0].name == "baseline"
    assert {s.group for s in scenarios[1:]} == set(reviewer.GROUPS)
    names = {s.name for s in scenarios}
    assert {"no-small-series", "downweight-small-extreme"} <= names
    assert any(n.startswith("tau-") for n in names)
    assert any(n.startswith("sigma_eta-") for n in names)


def test_every_scenario_keeps_the_fits_sampler_seed_and_data(prepared):
    plans = plan_scenarios(reviewer.reviewer_scenarios(prepared), CELLS, prepared)
    fitted = [p for p in plans if p.prepared is not None]
    assert fitted
    for plan in fitted:
        request = plan.prepared.request
        assert request.spec.sampler == prepared.request.spec.sampler
        assert request.seed == prepared.request.seed
        assert request.data == prepared.request.data
        for name, prior in plan.scenario.priors.items():
            assert request.spec.priors[name] == prior


def _row(scenario, mean, lower, upper, status="ok", reason=None):
    return {
        "scenario": scenario,
        "description": f"{scenario} change",
        "etiology": "infection",
        "line": "first",
        "quantity": "rate_typical",
        "mean": mean,
        "q2.5": lower,
        "q97.5": upper,
        "status": status,
        "reason": reason,
    }


def test_table_measures_the_lower_bound_against_the_fits_own(prepared, monkeypatch):
    fitted = [
        _row("tau-halfnormal-0.5", 0.61, 0.40, 0.80),
        _row("no-small-series", 0.55, 0.30, 0.75, "not converged"),
        _row("downweight-small-extreme", None, None, None, "not run", "no such series"),
    ]
    asked = {}

    def fake_run(baseline, scenarios, cells, log):
        asked["names"] = [s.name for s in scenarios]
        return SensitivityResult("etiology-line", "response", fitted, {})

    monkeypatch.setattr(reviewer, "run_sensitivity", fake_run)
    own = [
        {
            "quantity": "rate_typical",
            "etiology": "infection",
            "line": "first",
            "mean": 0.6,
            "q2.5": 0.45,
            "q97.5": 0.78,
        }
    ]
    rows = reviewer.reviewer_table(prepared, CELLS, baseline_records=own)
    assert "baseline" not in asked["names"]  # the fit itself is not fitted again
    assert [r["scenario"] for r in rows] == [
        "baseline",
        "tau-halfnormal-0.5",
        "no-small-series",
        "downweight-small-extreme",
    ]
    assert all(set(r) == set(reviewer.COLUMNS) for r in rows)
    assert rows[0]["lower_vs_baseline"] == pytest.approx(0.0)
    assert rows[1]["lower_vs_baseline"] == pytest.approx(0.40 - 0.45)
    assert rows[2]["lower_vs_baseline"] == pytest.approx(0.30 - 0.45)
    assert rows[2]["status"] == "not converged"
    assert rows[3]["mean"] is None and rows[3]["lower_vs_baseline"] is None
    assert rows[3]["status"] == "not run: no such series"
    lines = reviewer.table_lines(rows)
    assert len(lines) == 1 + len(rows)
    assert "-0.050" in lines[2] and "not converged" in lines[3]
