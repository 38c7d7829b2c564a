"""``living.reviewer``: the reviewer's scenarios of a fit and the table built from their rows."""

from __future__ import annotations

import dataclasses

import pytest

from hlhbayes import pipeline
from hlhbayes.errors import HlhBayesError
from hlhbayes.living import reviewer
from hlhbayes.living.sensitivity import (
    SMALL_SERIES,
    SensitivityResult,
    plan_scenarios,
    series_sizes,
)
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


def _row(scenario, mean, lower, upper, status="ok", reason=None, quantity="rate_new"):
    return {
        "scenario": scenario,
        "group": "heterogeneity prior",
        "description": f"{scenario} change",
        "etiology": "infection",
        "line": "first",
        "quantity": quantity,
        "mean": mean,
        "q2.5": lower,
        "q97.5": upper,
        "status": status,
        "reason": reason,
    }


OWN = [
    {
        "quantity": "rate_new",
        "etiology": "infection",
        "line": "first",
        "mean": 0.6,
        "q2.5": 0.45,
        "q97.5": 0.78,
    }
]


@pytest.fixture
def faked(prepared, monkeypatch):
    """The table of ``prepared`` with the scenario fits replaced by fixed rows."""
    fitted = [
        _row("tau-halfnormal-0.5", 0.61, 0.40, 0.80),
        _row("no-small-series", 0.55, 0.30, 0.75, "not converged", "max R-hat 1.2 > 1.01"),
        _row("downweight-small-extreme", None, None, None, "not run", "no such series"),
    ]
    asked = {}

    def fake_run(baseline, scenarios, cells, log):
        asked["names"] = [s.name for s in scenarios]
        return SensitivityResult("etiology-line", "response", fitted, {})

    monkeypatch.setattr(reviewer, "run_sensitivity", fake_run)
    return asked


def test_table_measures_the_lower_bound_against_the_fits_own(prepared, faked):
    rows = reviewer.reviewer_table(prepared, CELLS, baseline_records=OWN)
    assert "baseline" not in faked["names"]  # the fit itself is not fitted again
    assert [r["scenario"] for r in rows] == [
        "baseline",
        "tau-halfnormal-0.5",
        "no-small-series",
        "downweight-small-extreme",
    ]
    assert all(list(r) == list(reviewer.COLUMNS) for r in rows)
    assert rows[0]["lower_vs_baseline"] == pytest.approx(0.0)
    assert rows[0]["status"] == "ok" and rows[0]["in_words"] == "This analysis, as fitted"
    assert rows[1]["lower_vs_baseline"] == pytest.approx(0.40 - 0.45)
    assert rows[2]["lower_vs_baseline"] == pytest.approx(0.30 - 0.45)
    assert rows[2]["status"] == "not converged"  # shown, with its numbers, and marked
    assert rows[2]["mean"] == 0.55 and rows[2]["reason"] == "max R-hat 1.2 > 1.01"
    assert rows[3]["mean"] is None and rows[3]["lower_vs_baseline"] is None
    assert (rows[3]["status"], rows[3]["reason"]) == ("not run", "no such series")
    assert reviewer.largest_shift(rows) is rows[1]  # the not-converged move does not count


def test_a_fit_that_failed_its_gate_is_a_baseline_marked_not_converged(prepared, faked):
    rows = reviewer.reviewer_table(prepared, CELLS, OWN, baseline_converged=False)
    assert rows[0]["status"] == "not converged"
    assert rows[0]["reason"] == "the fit failed its convergence gate"


def test_the_record_holds_the_rows_scenarios_and_what_reproduces_them(prepared, faked):
    record = reviewer.reviewer_sensitivity(prepared, CELLS, OWN, True, command=["hlhbayes"])
    assert record["columns"] == list(reviewer.COLUMNS)
    assert record["cells"] == [["infection", "first"]]
    assert record["seed"] == 7 and record["sampler"] == prepared.request.spec.sampler
    assert record["units_hash"] == prepared.units.fingerprint()
    assert record["data_hash"] == prepared.data_hash
    assert [s["name"] for s in record["scenarios"]] == [
        s.name for s in reviewer.reviewer_scenarios(prepared)
    ]
    tau = next(s for s in record["scenarios"] if s["name"] == "tau-halfnormal-2")
    assert tau["priors"] == {"tau": {"family": "halfnormal", "sigma": 2.0}}


def test_an_exact_fit_has_no_table(prepared):
    exact = dataclasses.replace(
        prepared, request=dataclasses.replace(prepared.request, method="exact")
    )
    with pytest.raises(HlhBayesError, match="not made for --method exact"):
        reviewer.reviewer_sensitivity(exact, CELLS, OWN, True)


def test_every_scenario_in_words(prepared):
    spec = prepared.request.spec
    words = {
        s.name: reviewer.scenario_words(s, spec) for s in reviewer.reviewer_scenarios(prepared)
    }
    assert words["tau-halfnormal-0.5"] == (
        "Studies assumed more alike (the prior on how much the studies differ half as wide)"
    )
    assert words["sigma_eta-halfnormal-2"] == (
        "Triggers allowed to differ more (the prior on how much the triggers differ twice as wide)"
    )
    assert words["tau-halfcauchy-1"].startswith("Large differences between studies made more")
    small = [s for s, (n, _) in series_sizes(prepared.units).items() if n < SMALL_SERIES]
    assert small and words["no-small-series"] == (
        f"Series of fewer than {SMALL_SERIES} patients left out ({', '.join(small)})"
    )
    assert words["downweight-small-extreme"].startswith("Series of fewer than 10 patients in which")
    for text in words.values():  # no parameter name reaches a clinician
        assert "tau" not in text and "sigma" not in text


def test_a_user_table_leaves_small_series_out_by_weight(tmp_path):
    table = tmp_path / "counts.csv"
    table.write_text("study,events,total\nA,3,4\nB,10,20\nC,12,30\nD,5,5\n")
    spec = load_spec("random-effects")
    prepared = pipeline.prepare(pipeline.FitRequest(spec=spec, data=table))
    by_name = {s.name: s for s in reviewer.reviewer_scenarios(prepared)}
    no_small = by_name["no-small-series"]
    assert no_small.filters == {} and no_small.study_weights == {"A": 0.0}
    assert by_name["downweight-small-extreme"].study_weights == {"D": 0.5}  # 5/5, not 3/4
    assert {s.group for s in by_name.values()} == {"baseline", *reviewer.GROUPS} - {
        "etiology-spread prior"
    }


def test_compact_rows_put_both_rates_side_by_side(prepared, faked):
    own = [*OWN, {**OWN[0], "quantity": "rate_typical", "q2.5": 0.5, "q97.5": 0.7}]
    rows = reviewer.reviewer_table(prepared, CELLS, own)
    compact = reviewer.compact_rows(rows)
    assert [c["scenario"] for c in compact] == [
        "baseline",
        "tau-halfnormal-0.5",
        "no-small-series",
        "downweight-small-extreme",
    ]
    assert compact[0]["typical 95%"] == "[0.500, 0.700]"
    assert compact[0]["new 95%"] == "[0.450, 0.780]"
    assert compact[1]["typical"] is None and compact[1]["new lower vs fit"] == pytest.approx(-0.05)
    assert compact[3]["status"] == "not run" and compact[3]["new"] is None
