"""Likelihood-inclusion weights (``include``) in the model builders: structural, no sampling.

With every weight 1 the model's log-density is the ordinary model's; with some weights 0 the
likelihood of the weighted model equals the likelihood of the model built on the subset of
units with weight 1 (the same parameter values, matched by study and stratum name).
"""

from __future__ import annotations

import numpy as np
import pytest

from hlhbayes.errors import HlhBayesError
from hlhbayes.living.subset import include_weights, subset_units, units_of_studies
from hlhbayes.models.include import split_weights
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


def _likelihood(model):
    """The compiled likelihood terms (observed variables and the ``excluded`` potential)."""
    terms = [model[n] for n in ("y_patient", "y_stratum", "excluded") if n in model.named_vars]
    return model.compile_logp(vars=terms, mode=FAST)


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


def test_no_include_leaves_the_model_unchanged(setup):
    module, units, spec, built = setup
    plain = built.model
    none = module.build(units, spec.priors, spec.options, include=None)
    assert "excluded" not in none.named_vars
    assert not [n for n in none.named_vars if n.startswith("include_")]
    assert [v.name for v in none.value_vars] == [v.name for v in plain.value_vars]
    point = _point(plain, 1)
    assert none.compile_logp(mode=FAST)(point) == built.logp(point)


def test_all_ones_is_the_ordinary_model(setup):
    module, units, spec, built = setup
    plain = built.model
    weighted = module.build(units, spec.priors, spec.options, include=np.ones(units.n_units))
    assert "excluded" in weighted.named_vars
    logp_weighted, logp_plain = weighted.compile_logp(mode=FAST), built.logp
    for seed in (1, 2):
        point = _point(plain, seed)
        assert logp_weighted(point) == pytest.approx(logp_plain(point))


def test_zeros_give_the_likelihood_of_the_subset(setup):
    module, units, spec, built = setup
    keep = units.studies[::2]  # every other study
    weights = include_weights(units, keep)
    assert 0 < weights.sum() < units.n_units
    weighted = module.build(units, spec.priors, spec.options, include=weights)
    sub_units = units_of_studies(units, keep)
    subset = module.build(sub_units, spec.priors, spec.options)
    lik_weighted, lik_subset = map(_likelihood, (weighted, subset))
    lik_plain, logp_plain = built.likelihood, built.logp
    logp_weighted = weighted.compile_logp(mode=FAST)
    for seed in (3, 4):
        point = _point(weighted, seed)
        expected = lik_subset(_restrict(weighted, subset, point))
        assert lik_weighted(point) == pytest.approx(expected, rel=1e-9)
        # and the full weighted log-density differs from the ordinary one by exactly that
        dropped = lik_plain(point) - expected
        assert logp_weighted(point) == pytest.approx(logp_plain(point) - dropped, rel=1e-9)


def test_weights_are_data_changed_without_rebuilding(setup):
    import pymc as pm

    module, units, spec, _ = setup
    weighted = module.build(units, spec.priors, spec.options, include=np.ones(units.n_units))
    logp = weighted.compile_logp(mode=FAST)
    point = _point(weighted, 5)
    full = logp(point)
    keep = units.studies[:2]
    with weighted:
        pm.set_data(split_weights(units, include_weights(units, keep)))
    sub = units_of_studies(units, keep)
    subset = module.build(sub, spec.priors, spec.options)
    # the function compiled before set_data sees the new weights
    expected = _likelihood(subset)(_restrict(weighted, subset, point))
    assert _likelihood(weighted)(point) == pytest.approx(expected)
    assert logp(point) != pytest.approx(full)


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
