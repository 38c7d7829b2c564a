"""The numpy Pareto k-hat and power-scaling sensitivity against arviz-stats, the reference."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hlhbayes.support import psis
from hlhbayes.support.power_scaling import prior_sensitivity

azs = pytest.importorskip("arviz_stats")

SHAPE = (4, 1000)


def _draws(kind: str, rng: np.random.Generator, shape=SHAPE) -> np.ndarray:
    make = {
        "normal": lambda: rng.normal(size=shape),
        "cauchy": lambda: rng.standard_cauchy(size=shape),
        "student-t 3": lambda: rng.standard_t(3, size=shape),
        "exponential": lambda: rng.exponential(size=shape),
        "autocorrelated": lambda: (
            np.cumsum(rng.normal(size=shape), axis=-1) * 0.1 + rng.normal(size=shape)
        ),
    }
    return make[kind]()


KINDS = ("normal", "cauchy", "student-t 3", "exponential", "autocorrelated")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_pareto_khat_equals_arviz_stats(kind, seed):
    draws = _draws(kind, np.random.default_rng(seed))
    reference = xr.DataArray(draws, dims=("chain", "draw")).azstats.pareto_khat(
        sample_dims=["chain", "draw"], r_eff=1.0
    )
    assert psis.pareto_khat(draws) == pytest.approx(float(reference), abs=1e-10)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alpha", [0.99, 1.01, 0.5])
def test_power_scaled_weights_equal_arviz_stats(kind, alpha):
    from arviz_stats.base import array_stats

    rng = np.random.default_rng(7)
    log_component = 3 * _draws(kind, rng)
    expected = np.exp(array_stats.power_scale_lw(log_component, alpha=alpha, axis=(-2, -1)))
    expected /= expected.sum()
    got = psis.power_scaled_weights(log_component, alpha)
    assert got.shape == SHAPE and got.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)


def _tree(rng: np.random.Generator) -> xr.DataTree:
    """A posterior whose ``a`` is informed by its likelihood and ``b`` mostly by its prior."""
    dims = ("chain", "draw")
    a = rng.normal(1.0, 0.2, size=SHAPE)
    b = rng.normal(0.0, 1.0, size=SHAPE)
    y = rng.normal(size=(*SHAPE, 6))
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"a": (dims, a), "b": (dims, b)}),
            "log_prior": xr.Dataset({"a": (dims, -0.5 * (a / 3) ** 2), "b": (dims, -0.5 * b**2)}),
            "log_likelihood": xr.Dataset(
                {"y": ((*dims, "unit"), -0.5 * (y - a[..., None]) ** 2 / 0.5 + 0.01 * b[..., None])}
            ),
        }
    )


@pytest.mark.parametrize("seed", [3, 4])
def test_prior_sensitivity_equals_psense_summary(seed):
    tree = _tree(np.random.default_rng(seed))
    expected = azs.psense_summary(tree, var_names=["a", "b"])
    got = {r["quantity"]: r for r in prior_sensitivity(tree, ("a", "b"))}
    for name in ("a", "b"):
        assert got[name]["prior"] == float(expected.loc[name, "prior"])
        assert got[name]["likelihood"] == float(expected.loc[name, "likelihood"])
        assert got[name]["diagnosis"] == expected.loc[name, "diagnosis"]


def test_a_dominating_prior_is_diagnosed():
    """The prior-only quantity reads as strong prior / weak likelihood, the other does not."""
    tree = _tree(np.random.default_rng(5))
    got = {r["quantity"]: r for r in prior_sensitivity(tree, ("a", "b"))}
    assert got["b"]["prior"] > got["a"]["prior"]
    assert got["a"]["likelihood"] > got["b"]["likelihood"]


def test_cjs_distance_is_zero_for_equal_weights_and_grows_with_tilt():
    x = np.random.default_rng(0).normal(size=4000)
    equal = np.full_like(x, 1 / len(x))
    assert psis._cjs_distance(x, equal) == pytest.approx(0.0, abs=1e-6)
    small, large = (np.exp(t * x) / np.exp(t * x).sum() for t in (0.05, 0.5))
    assert 0 < psis._cjs_distance(x, small) < psis._cjs_distance(x, large)
