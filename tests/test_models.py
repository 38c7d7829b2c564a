"""The model registry: models carry their own knowledge, and a new model needs no edits elsewhere.

A third model, defined here (one pooled rate, no study effect), is registered and fitted end to
end through the pipeline and the run folder, and checked against its posterior by quadrature.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

from hlhbayes import pipeline, runs
from hlhbayes.errors import HlhBayesError
from hlhbayes.models import MODELS, ModelDefinition, get_model, register, select_cells
from hlhbayes.models.base import ModelText, OneCell
from hlhbayes.models.spec import load_spec
from hlhbayes.models.table import units_by_study
from hlhbayes.priors import Prior

AS_CSV = (
    "study,r,n\nS1,23,107\nS2,12,44\nS3,19,51\nS4,9,39\nS5,39,139\nS6,6,20\nS7,9,78\nS8,10,35\n"
)
SPEC = """\
model: common-rate
priors:
  mu: {family: normal, mu: 0, sigma: 1.5}
sampler:
  chains: 2
  draws: 500
  tune: 300
  target_accept: 0.9
"""


class CommonRate:
    """One rate for every study: r_i ~ Binomial(n_i, logit⁻¹(mu)), mu ~ N(m, s)."""

    name = "common-rate"
    default_priors: Mapping[str, Prior] = {"mu": Prior("normal", {"mu": 0.0, "sigma": 2.0})}
    default_options: Mapping[str, Any] = {}
    hyperparameters = ("mu",)
    observed: Mapping[str, str] = {"y_stratum": "stratum"}
    has_cells = False
    one_count_per_study = True
    location_prior = "mu"
    exact = None
    borrowing = OneCell("mu")
    text = ModelText(
        title="``common-rate``: one rate for every study (no heterogeneity).",
        equations="r_i ~ Binomial(n_i, p),  logit p = μ",
        parameters={"mu": "logit of the common rate"},
        note="No between-study heterogeneity: a new study has the common rate.",
        study_estimate="logit⁻¹(μ), the common rate",
    )

    def units(self, base, filters):
        return units_by_study(base, filters)

    def build(self, units, priors, options, include=None):
        import pymc as pm

        with pm.Model(coords={"stratum": list(units.agg_ids)}) as model:
            mu = priors["mu"].to_pymc("mu")
            pm.Binomial(
                "y_stratum",
                n=units.agg_total,
                logit_p=mu,
                observed=units.agg_events,
                dims="stratum",
            )
        return model

    def quantities(self, posterior, rng):
        rate = xr.apply_ufunc(expit, posterior["mu"])
        return xr.Dataset({"rate_typical": rate, "rate_new": rate})

    def unit_probabilities(self, posterior, units):
        p = expit(posterior["mu"].values)[..., None]
        return {"y_stratum": np.broadcast_to(p, (*p.shape[:2], len(units.agg_ids)))}

    def new_study_posterior(self, posterior, units, rng, options, reference):
        return posterior[["mu"]]


@pytest.fixture
def common_rate(tmp_path, monkeypatch) -> Path:
    """The third model registered, its spec file in the spec folder; the table it is fitted to."""
    model = register(CommonRate())
    specs = tmp_path / "models"
    specs.mkdir()
    (specs / "common-rate.yaml").write_text(SPEC)
    monkeypatch.setenv("HLHBAYES_MODELS", str(specs))
    table = tmp_path / "as.csv"
    table.write_text(AS_CSV)
    yield table
    MODELS.pop(model.name)


def test_every_model_satisfies_the_interface_and_writes_its_math_once():
    assert list(MODELS)[:2] == ["etiology-line", "random-effects"]
    for name, model in MODELS.items():
        assert isinstance(model, ModelDefinition), name
        assert get_model(name) is model
        docstring = inspect.getmodule(model).__doc__
        assert model.text.equations.splitlines()[0] in docstring  # one source of the math
        assert set(model.hyperparameters) <= set(model.text.parameters)
        assert model.location_prior in model.default_priors


def test_what_callers_ask_the_models():
    el, re = get_model("etiology-line"), get_model("random-effects")
    assert (el.location_prior, re.location_prior) == ("alpha", "mu")
    assert (el.has_cells, re.has_cells) == (True, False)
    assert (el.exact, re.exact is not None) == (None, True)
    assert select_cells(re) == [(None, None)]
    assert select_cells(el, ("infection",), ("later",)) == [("infection", "later")]
    assert len(select_cells(el)) == 10
    with pytest.raises(HlhBayesError, match="random-effects has no etiology or line"):
        select_cells(re, ("infection",))


def test_an_incomplete_model_is_refused():
    class Half:
        name = "half"

    with pytest.raises(TypeError, match="lacks default_priors"):
        register(Half())
    assert "half" not in MODELS


@pytest.mark.sampling
def test_a_third_model_needs_one_module_and_one_spec_file(common_rate, tmp_path):
    spec = load_spec("common-rate")
    assert spec.source == str(tmp_path / "models" / "common-rate.yaml")
    prepared = pipeline.prepare(pipeline.FitRequest(spec=spec, data=common_rate))
    result = pipeline.run_fit(prepared)
    out = runs.write_run(result, tmp_path / "run")
    run = runs.read_run(out)
    assert run.model == "common-rate" and run.has_draws
    assert set(run.tree().children) >= {"posterior", "log_likelihood", "posterior_predictive"}

    # the posterior by quadrature over mu: N(0, 1.5) prior times the binomial likelihood
    r = np.array([23, 12, 19, 9, 39, 6, 9, 10])
    n = np.array([107, 44, 51, 39, 139, 20, 78, 35])
    mu = np.linspace(-6, 6, 24001)
    log_post = -0.5 * (mu / 1.5) ** 2 + (r.sum() * mu - n.sum() * np.logaddexp(0, mu))
    weights = np.exp(log_post - log_post.max())
    weights /= weights.sum()
    exact = {"mu": float(weights @ mu), "rate_typical": float(weights @ expit(mu))}
    records = {rec["quantity"]: rec for rec in run.summary["summary"]}
    assert list(records) == ["mu", "rate_typical", "rate_new"]
    for quantity, value in exact.items():
        assert abs(records[quantity]["mean"] - value) < 4 * records[quantity]["mcse_mean"]


@pytest.mark.sampling
def test_the_third_model_is_fitted_and_reported_from_the_command_line(common_rate, tmp_path):
    from click.testing import CliRunner

    from hlhbayes.cli import main

    out = tmp_path / "run"
    fitted = CliRunner().invoke(
        main,
        [
            "fit",
            "--model",
            "common-rate",
            "--data",
            str(common_rate),
            "--no-sensitivity",
            "--out",
            str(out),
            "-q",
        ],
    )
    assert fitted.exit_code in (0, 3), fitted.output
    assert fitted.stdout.splitlines()[0].split()[:3] == ["etiology", "line", "quantity"]
    assert "hyperparameters: mu " in fitted.stdout
    reported = CliRunner().invoke(
        main, ["report", str(out), "--out-dir", str(tmp_path / "reports"), "--format", "md", "-q"]
    )
    assert reported.exit_code == 0, reported.output
    text = (tmp_path / "reports" / "run" / "report.md").read_text(encoding="utf-8")
    assert "common-rate meta-analysis" in text
    assert "r_i ~ Binomial(n_i, p),  logit p = μ" in text  # the model's own equations
    assert "logit of the common rate" in text  # and the meaning of its parameter
    unknown = CliRunner().invoke(main, ["fit", "--model", "no-such-model"])
    assert unknown.exit_code == 2 and "'no-such-model' is not one of" in unknown.stderr
