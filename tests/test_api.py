"""The Python API: ``import hlhbayes`` is cheap; fit, summary, save, report and design from it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import hlhbayes
from conftest import SHORT_SAMPLER
from hlhbayes.errors import HlhBayesError
from hlhbayes.runs import SUMMARY_COLUMNS


def test_import_hlhbayes_loads_no_sampler_and_no_arviz():
    heavy = ("pymc", "pytensor", "jax", "arviz", "arviz_stats", "xarray", "scipy", "numpy")
    code = (
        "import sys, hlhbayes\n"
        "hlhbayes.fit, hlhbayes.Fit, hlhbayes.load_evidence, hlhbayes.INTERVAL\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_api_names_are_on_the_package():
    import hlhbayes.api
    import hlhbayes.design

    assert hlhbayes.fit is hlhbayes.api.fit
    assert hlhbayes.Fit is hlhbayes.api.Fit
    assert hlhbayes.design is sys.modules["hlhbayes.design"]
    assert {"fit", "Fit", "load_evidence", "design", "__version__"} <= set(dir(hlhbayes))
    assert hlhbayes.INTERVAL == 0.95
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        hlhbayes.nothing  # noqa: B018


def test_load_evidence_is_the_validated_base(shipped):
    base = hlhbayes.load_evidence()
    assert base.content_hash == shipped.content_hash


def test_bad_input_fails_before_sampling():
    with pytest.raises(HlhBayesError, match="unknown prior family"):
        hlhbayes.fit(priors={"tau": "lognormal:1"})
    with pytest.raises(HlhBayesError, match="tau"):
        hlhbayes.fit(priors={"nonsense": "normal:0,1"})
    with pytest.raises(HlhBayesError, match="etiology"):
        hlhbayes.fit(etiology="infectious")


def test_fit_summary_is_the_95_percent_interval_of_the_draws(short_fit):
    frame = short_fit.summary()
    assert frame.attrs == {"interval": 0.95, "converged": False}
    assert list(frame.columns) == SUMMARY_COLUMNS  # those of summary.json's records
    assert {"q2.5", "q50", "q97.5"} <= set(frame.columns)
    rates = frame[frame["quantity"].isin(["rate_typical", "rate_new"])]
    assert len(rates) == 2 * 5 * 2  # no cell asked for: every etiology x line
    row = rates[
        (rates["quantity"] == "rate_new")
        & (rates["etiology"] == "infection")
        & (rates["line"] == "first")
    ].iloc[0]
    draws = short_fit.draws("rate_new", "infection", "first")
    assert draws.shape == (SHORT_SAMPLER["chains"] * SHORT_SAMPLER["draws"],)
    lo, mid, hi = np.quantile(draws, [0.025, 0.5, 0.975])  # 95 %, not ArviZ's 89 %
    assert (row["q2.5"], row["q50"], row["q97.5"]) == pytest.approx((lo, mid, hi))
    probs = short_fit.probabilities()
    p = probs[
        (probs["quantity"] == "rate_new")
        & (probs["etiology"] == "infection")
        & (probs["line"] == "first")
        & (probs["threshold"] == 0.75)  # the spec's second threshold
    ]["probability"].item()
    assert p == pytest.approx(float((draws > 0.75).mean()))


def test_a_fit_that_failed_the_gate_says_so(short_fit):
    assert short_fit.converged is False
    assert short_fit.diagnostics.problems()
    assert "NOT CONVERGED" in repr(short_fit)
    asked = ", ".join(f"{key}={value}" for key, value in SHORT_SAMPLER.items())
    assert short_fit.provenance["command"] == [f"hlhbayes.fit(seed=1, {asked})"]
    with pytest.raises(HlhBayesError, match="give line= one of first, later"):
        short_fit.draws("rate_new", "infection")


def test_fit_records_what_it_was_asked():
    # the quadrature posterior of random-effects: no sampling, the same path otherwise
    fit = hlhbayes.fit(
        priors={"tau": "halfnormal:0.5"}, seed=3, model="random-effects", method="exact"
    )
    assert fit.converged
    spec = fit.provenance["model_spec"]
    assert spec["priors"]["tau"] == {"family": "halfnormal", "sigma": 0.5}
    assert fit.provenance["seed"] == 3
    assert fit.provenance["method"] == "exact"
    assert set(fit.summary()["quantity"]) >= {"mu", "tau", "rate_typical", "rate_new"}
    with pytest.raises(HlhBayesError, match="has no draws"):
        fit.idata  # noqa: B018
    with pytest.raises(HlhBayesError, match="save the fit first"):
        fit.report()
    with pytest.raises(HlhBayesError, match="has no etiology or line"):
        hlhbayes.fit(etiology="infection", model="random-effects", method="exact")


def test_az_loo_works_on_the_fit_as_it_is(short_fit):
    import arviz as az

    with pytest.warns(UserWarning, match="Pareto"):  # 2 x 100 draws: some k are high
        loo = az.loo(short_fit.idata)
    assert loo.n_data_points == short_fit.idata["log_likelihood"]["y"].sizes["unit"]


def test_save_writes_a_run_folder_that_report_reads(short_fit, tmp_path):
    folder = short_fit.save(tmp_path / "run")
    assert folder == tmp_path / "run"
    saved = json.loads((folder / "summary.json").read_text())
    assert saved == json.loads(json.dumps(short_fit.result.summary_json()))
    with pytest.raises(HlhBayesError, match="exists and is not empty"):
        short_fit.save(folder)
    short_fit.save(folder, force=True)
    files = short_fit.report(out_dir=tmp_path / "reports", fmt="md", etiology="infection")
    assert files == [tmp_path / "reports" / "run" / "report.md"]
    text = files[0].read_text()
    assert "convergence: **NOT CONVERGED**" in text
    # the report is hlhbayes report's own function; test_reporting runs the command itself on
    # the session's short_run, a folder written by Fit.save


def test_a_map_prior_from_the_fit_with_the_design_library(short_fit):
    draws = short_fit.draws("rate_new", "infection", "first")
    prior = hlhbayes.design.map_prior(draws, components=1)
    assert prior.mixture.mean() == pytest.approx(float(np.mean(draws)), abs=0.01)
    assert hlhbayes.design.ess(prior.mixture)["elir"] > 0
