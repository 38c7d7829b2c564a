"""Likelihood weights in the model builders: structural, no sampling.

With every weight 1 the model's log-density is the ordinary model's; with some weights 0 the
likelihood of the weighted model equals the likelihood of the model built on the subset of
units with weight 1 (the same parameter values, matched by study and stratum name); a weight
of one half halves a unit's log-likelihood term.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import likelihood_of
from hlhbayes.errors import HlhBayesError
from hlhbayes.living.subset import subset_units, units_of_studies
from hlhbayes.models.units import Filters, build_units

# logp graphs are evaluated, not sampled: skip the slow optimising compile
FAST = "FAST_COMPILE"
MODELS = ("etiology-line", "random-effects")


@pytest.fixture(scope="module", params=MODELS)
def setup(request, built_models):
    """The model's definition, units and spec, and the plain model (built once per session)."""
    built = built_models[request.param]
    return built.definition, built.units, built.spec, built


def _point(model, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    point = model.initial_point()
    return {k: v + rng.uniform(-0.8, 0.8, size=np.shape(v)) for k, v in point.items()}


def _restrict(full, sub, point) -> dict[str, np.ndarray]:
    """The point of ``full`` restricted to the coordinates that ``sub`` has."""
    rvs = {value.name: rv for rv, value in full.rvs_to_values.items()}
    out = {}
    for value in sub.value_vars:
        rv = rvs[value.name]
        dims = full.named_vars_to_dims.get(rv.name, ())
        arr = point[value.name]
        for axis, dim in enumerate(dims):
            labels = list(full.coords[dim])
            wanted = [labels.index(c) for c in sub.coords[dim]]
            arr = np.take(arr, wanted, axis=axis)
        out[value.name] = arr
    return out


def _weights(units, studies, value=0.0) -> np.ndarray:
    """Weight 1 for every unit, ``value`` for the units of ``studies``."""
    index = np.array([s in studies for s in units.studies])
    return np.where(np.concatenate([index[units.pat_study], index[units.agg_study]]), value, 1.0)


def test_all_ones_is_the_ordinary_model(setup):
    module, units, spec, built = setup
    weighted = module.build(units, spec.priors, spec.options, include=np.ones(units.n_units))
    assert [v.name for v in weighted.value_vars] == [v.name for v in built.model.value_vars]
    logp_weighted = weighted.compile_logp(mode=FAST)
    for seed in (1, 2):
        point = _point(built.model, seed)
        assert logp_weighted(point) == built.logp(point)


def test_zeros_give_the_likelihood_of_the_subset(setup):
    module, units, spec, _ = setup
    keep = units.studies[::2]  # every other study
    dropped = [s for s in units.studies if s not in keep]
    weights = _weights(units, dropped)
    assert 0 < weights.sum() < units.n_units
    weighted = module.build(units, spec.priors, spec.options, include=weights)
    subset = module.build(units_of_studies(units, keep), spec.priors, spec.options)
    lik_weighted, lik_subset = likelihood_of(weighted), likelihood_of(subset)
    for seed in (3, 4):
        point = _point(weighted, seed)
        expected = lik_subset(_restrict(weighted, subset, point))
        assert lik_weighted(point) == pytest.approx(expected, rel=1e-9)
    # what the priors take from the data comes from the subset too: the centres of the latent
    # compositions, the parameterisation of the study effects
    for name in ("mix_alpha", "later_alpha", "later_beta"):
        if name in weighted.named_vars:
            np.testing.assert_array_equal(weighted[name].get_value(), subset[name].get_value())
    centred_w = weighted["study_centred"].get_value()
    centred_s = dict(zip(subset.coords["study"], subset["study_centred"].get_value(), strict=True))
    for study, value in zip(weighted.coords["study"], centred_w, strict=True):
        assert value == centred_s.get(study, 0.0)


def test_a_weight_of_one_half_halves_a_units_term(setup):
    module, units, spec, built = setup
    study = units.studies[-1]
    half = module.build(units, spec.priors, spec.options, include=_weights(units, [study], 0.5))
    none = module.build(units, spec.priors, spec.options, include=_weights(units, [study], 0.0))
    point = _point(built.model, 5)
    full, without = built.likelihood(point), likelihood_of(none)(point)
    assert likelihood_of(half)(point) == pytest.approx(without + 0.5 * (full - without))


def test_bad_weights_are_refused(setup):
    module, units, spec, _ = setup
    with pytest.raises(ValueError, match="one weight per unit"):
        module.build(units, spec.priors, spec.options, include=np.ones(units.n_units + 1))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        module.build(units, spec.priors, spec.options, include=np.full(units.n_units, 2.0))


def test_subset_units_reindexes_studies(shipped):
    units = build_units(shipped, Filters())
    sub = subset_units(units, np.zeros(len(units.pat_ids), bool), units.agg_events > 5)
    assert sub.studies == tuple(
        sorted({units.agg_ids[i].split("/")[0] for i in np.flatnonzero(units.agg_events > 5)})
    )
    assert [sub.studies[i] for i in sub.agg_study] == [a.split("/")[0] for a in sub.agg_ids]
    assert sub.pat_ids == () and sub.pat_w.shape == (0, 5)
    assert sub.excluded["Baverez2022"] == "not in this subset"
    with pytest.raises(HlhBayesError, match="no evidence unit"):
        units_of_studies(units, ["Nobody2020"])
