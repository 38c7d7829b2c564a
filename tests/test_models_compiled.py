"""The project's models through the compiled engine: the data contract, padding, prior draws.

The models declare their data (models/base.py, ``CompiledForm``); every varying input is a
``pm.Data`` container, so the engine pads it and passes it as arguments of one program. The
structural tests check the declaration and that padding changes nothing; the slow tests compare
the engine's prior draws with PyMC's, and the posteriors with PyMC's NUTS (here) and with
quadrature (tests/test_models_random_effects.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import engine_fixtures as fx
from conftest import likelihood_of
from hlhbayes import engine
from hlhbayes.models import MODELS
from hlhbayes.models.base import supports_compiled
from hlhbayes.models.compiled import compiled_inputs, padded_sizes

KS_MIN_P = 1e-4
"""Per-scalar two-sample KS p-value below which prior draws count as different (~40 scalars
per test: a chance failure ~ 4e-3; a wrong distribution gives p far below 1e-10 at 4000 draws)."""


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> engine.CompiledFitCache:
    return fx.program_cache(tmp_path_factory.mktemp("engine-models-cache"))


@pytest.mark.parametrize("name", ["etiology-line", "random-effects"])
def test_the_data_contract_is_declared_once(name, built_models):
    built = built_models[name]
    model, units, spec = built.definition, built.units, built.spec
    assert supports_compiled(model)
    data = model.data(units, spec.priors, spec.options)
    pm_data = {v.name for v in built.model.data_vars}
    assert set(data) == pm_data  # every pm.Data of the graph, nothing else
    sizes = model.dim_sizes(units)
    for key, value in data.items():
        dims = model.data_dims.get(key, ())
        assert np.ndim(value) == len(dims), key
        if not key.startswith("prior_"):
            assert key in model.data_dims, key
        if any(d in sizes for d in dims):
            assert key in model.data_fill, key  # padded arrays have a fill value
        for axis, dim in enumerate(dims):
            assert np.shape(value)[axis] == len(model.coords(units)[dim]), (key, dim)


@pytest.mark.parametrize("name", ["etiology-line", "random-effects"])
def test_padding_changes_nothing(name, built_models):
    from hlhbayes.living.subset import units_of_studies

    built = built_models[name]
    model, spec = built.definition, built.spec
    units = units_of_studies(built.units, built.units.studies[:5])  # five studies: padded to 8
    plain = model.build(units, spec.priors, spec.options)
    inputs = compiled_inputs(model, units, spec.priors, spec.options)
    sizes = padded_sizes(model.dim_sizes(units))
    assert inputs.model.structure["sizes"] == sizes
    assert sizes["study"] == 8 > len(units.studies)
    padded = inputs.model.build()
    point = plain.initial_point()
    rng = np.random.default_rng(1)
    point = {k: v + rng.uniform(-0.8, 0.8, np.shape(v)) for k, v in point.items()}
    # the padded model's point: the real entries first, padded entries anywhere
    padded_point = {}
    for value in padded.value_vars:
        full = np.asarray(padded.initial_point()[value.name], dtype=float)
        real = point[value.name]
        index = tuple(slice(0, n) for n in np.shape(real))
        full[index] = real
        padded_point[value.name] = full + 0.0
    assert likelihood_of(padded)(padded_point) == pytest.approx(
        likelihood_of(plain)(point), rel=1e-12
    )


def test_a_model_without_the_contract_is_sampled_by_pymc():
    from test_models import CommonRate

    assert not supports_compiled(CommonRate())
    assert all(supports_compiled(m) for m in MODELS.values())


def _ks_disagreements(ours, theirs, names: list[str]) -> list[str]:
    out = []
    for name in names:
        a = ours[name].values.reshape(ours[name].shape[0] * ours[name].shape[1], -1)
        b = theirs[name].values.reshape(theirs[name].shape[0] * theirs[name].shape[1], -1)
        for j in range(a.shape[1]):
            p = stats.ks_2samp(a[:, j], b[:, j], method="asymp").pvalue
            if p < KS_MIN_P:
                out.append(f"{name}[{j}] KS p = {p:.2g}")
    return out


@pytest.mark.slow
def test_prior_draws_equal_pymc_prior(cache, built_models):
    import pymc as pm

    built = built_models["etiology-line"]
    model, units, spec = built.definition, built.units, built.spec
    inputs = compiled_inputs(model, units, spec.priors, spec.options)
    draws = 4000
    ours = engine.sample_prior(
        inputs.model, inputs.data, draws=draws, seed=5, coords=inputs.coords, cache=cache
    )
    with built.model, warnings.catch_warnings():
        # the model's Potentials are its weighted likelihood, which prior draws leave out
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        theirs = pm.sample_prior_predictive(
            draws=draws, random_seed=6, compile_kwargs={"mode": "FAST_COMPILE"}
        )
    prior = theirs["prior"].to_dataset()
    assert set(ours.prior.data_vars) == set(prior.data_vars)
    for name in ours.prior.data_vars:
        assert ours.prior[name].dims == prior[name].dims
        assert ours.prior[name].shape == prior[name].shape
    problems = _ks_disagreements(ours.prior, prior, list(prior.data_vars))
    assert not problems, problems


@pytest.mark.slow
def test_prior_families_of_the_spec_files_equal_pymc(cache):
    """Every prior family the spec files allow, drawn by the engine and by PyMC."""
    import pymc as pm

    def build():
        with pm.Model(coords={"unit": list(range(4))}) as model:
            scale = pm.Data("scale", 1.5)
            pm.Normal("normal", pm.Data("loc", 0.3), scale)
            pm.HalfNormal("halfnormal", scale)
            pm.HalfCauchy("halfcauchy", scale)
            pm.HalfStudentT("halfstudentt", nu=pm.Data("nu", 3.0), sigma=scale)
            rate = pm.Exponential("exponential", pm.Data("lam", 2.0))
            share = pm.Beta("beta", 2.0, pm.Data("b", 3.0))
            weights = pm.Gamma(
                "gamma", alpha=pm.Data("a", np.array([1.0, 2.0, 3.0, 0.5])), beta=1.0, dims="unit"
            )
            total = pm.Data("total", np.array([3, 10, 25, 1]), dims="unit")
            pm.Binomial("count", n=total, p=share, observed=np.zeros(4, int), dims="unit")
            pm.Bernoulli("flag", p=rate / (1 + rate), observed=np.zeros(4, int), dims="unit")
            pm.Deterministic("share_of_first", weights[0] / weights.sum())
        return model

    definition = engine.CompiledModel("test-prior-families", build, {}, fx.SOURCE)
    data = {
        "scale": np.float64(1.5),
        "loc": np.float64(0.3),
        "nu": np.float64(3.0),
        "lam": np.float64(2.0),
        "b": np.float64(3.0),
        "a": np.array([1.0, 2.0, 3.0, 0.5]),
        "total": np.array([3, 10, 25, 1]),
    }
    ours = engine.sample_prior(definition, data, draws=4000, seed=7, cache=cache)
    with build():
        theirs = pm.sample_prior_predictive(
            draws=4000, random_seed=8, compile_kwargs={"mode": "FAST_COMPILE"}
        )
    prior, predictive = theirs["prior"].to_dataset(), theirs["prior_predictive"].to_dataset()
    problems = _ks_disagreements(ours.prior, prior, list(prior.data_vars))
    problems += _ks_disagreements(ours.prior_predictive, predictive, list(predictive.data_vars))
    assert not problems, problems


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["response", "death"])
def test_the_default_sampler_equals_pymc_nuts_on_the_shipped_base(outcome, shipped):
    """``fit``'s default (the compiled engine) and PyMC's own NUTS: the same posterior of
    etiology-line on the shipped base, means and 5/50/95 % quantiles within Monte Carlo error."""
    from engine_checks import mcmc_disagreements, pymc_nuts
    from hlhbayes.inference import sample_posterior
    from hlhbayes.models.spec import load_spec

    model = MODELS["etiology-line"]
    spec = load_spec("etiology-line", filter_overrides={"outcome": outcome})
    assert spec.sampler["sampler"] == "compiled"
    units = model.units(shipped, spec.filters)
    ours = sample_posterior(model, units, spec, seed=3)["posterior"].to_dataset()
    # 4 x 500 reference draws: the bound is the joint Monte Carlo error of the draws made
    reference = pymc_nuts(
        model.build(units, spec.priors, spec.options), tune=500, seed=4, draws=500
    )
    names = ["alpha", "sigma_eta", "tau", "gamma", "eta", "mix_latent", "later_latent"]
    names = [n for n in names if n in reference.data_vars]
    assert {"alpha", "tau", "eta"} <= set(names)
    problems = mcmc_disagreements(ours, reference, names)
    assert not problems, problems
