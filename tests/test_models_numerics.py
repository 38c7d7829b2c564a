"""Numerics: strict compiled arithmetic (hlhbayes.models.numerics) and the binomial log-pmf."""

from __future__ import annotations

import pytensor

from hlhbayes.evidence import load_evidence
from hlhbayes.models import MODELS
from hlhbayes.models.spec import load_spec


def test_every_model_builds_with_fast_math_off(monkeypatch):
    base = load_evidence()
    for name, module in MODELS.items():
        monkeypatch.setattr(pytensor.config, "numba__fastmath", True)
        spec = load_spec(name)
        units = module.units(base, spec.filters)
        module.build(units, spec.priors, spec.options)
        assert pytensor.config.numba__fastmath is False, name


def test_binomial_logpmf_matches_scipy_stats_including_the_edges():
    import numpy as np
    from scipy import stats

    from hlhbayes.inference import binomial_logpmf

    rng = np.random.default_rng(7)
    n = rng.integers(1, 60, size=200)
    y = rng.integers(0, n + 1)
    p = rng.uniform(0, 1, size=200)
    np.testing.assert_allclose(binomial_logpmf(y, n, p), stats.binom.logpmf(y, n, p), rtol=1e-12)
    # p at 0 or 1: certain outcomes have log-probability 0, impossible ones -inf
    edges_y, edges_n, edges_p = (
        np.array([0, 5, 0, 5]),
        np.array([5, 5, 5, 5]),
        np.array([0, 1, 1, 0]),
    )
    expected = stats.binom.logpmf(edges_y, edges_n, edges_p)
    np.testing.assert_array_equal(binomial_logpmf(edges_y, edges_n, edges_p), expected)
    assert list(expected) == [0.0, 0.0, -np.inf, -np.inf]
