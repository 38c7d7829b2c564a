"""The DataTree of a fit: chain/draw coordinates in every group, one pointwise log-likelihood."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from conftest import SHORT_SAMPLER
from hlhbayes.datatree import LOG_LIKELIHOOD, OBSERVED, UNIT, conform, observed_log_likelihood
from hlhbayes.runs import read_run


def loo(tree, var_name=None):
    import arviz as az

    with warnings.catch_warnings():  # Pareto k warnings of a short fit are not under test
        warnings.simplefilter("ignore", UserWarning)
        return az.loo(tree, var_name=var_name, pointwise=True)


def split_tree() -> xr.DataTree:
    """A tree as the sampler leaves it: no chain/draw labels, one variable per observed variable."""
    rng = np.random.default_rng(0)
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"mu": (("chain", "draw"), rng.normal(size=(2, 50)))}),
            "log_likelihood": xr.Dataset(
                {
                    "y_patient": xr.DataArray(
                        -rng.gamma(2.0, size=(2, 50, 3)),
                        dims=("chain", "draw", "patient"),
                        coords={"patient": ["A#1", "A#2", "B#1"]},
                    ),
                    "y_stratum": xr.DataArray(
                        -rng.gamma(2.0, size=(2, 50, 2)), dims=("chain", "draw", "stratum")
                    ),
                }
            ),
            "observed_data": xr.Dataset({"y_patient": ("patient", [1, 0, 1])}),
        }
    )


def test_conform_labels_draws_and_combines_the_log_likelihood():
    tree = split_tree()
    before = tree["log_likelihood"].to_dataset()
    conform(tree)
    for name, node in tree.children.items():
        ds = node.to_dataset()
        for dim in ("chain", "draw"):
            if dim in ds.dims:
                np.testing.assert_array_equal(ds[dim].values, np.arange(ds.sizes[dim]), name)
    ll = tree["log_likelihood"].to_dataset()
    assert list(ll.data_vars) == [LOG_LIKELIHOOD]
    assert ll[LOG_LIKELIHOOD].dims == ("chain", "draw", UNIT)
    assert list(ll[UNIT].values) == ["A#1", "A#2", "B#1", "0", "1"]
    assert list(ll[OBSERVED].values) == ["y_patient"] * 3 + ["y_stratum"] * 2
    for name in ("y_patient", "y_stratum"):
        np.testing.assert_array_equal(observed_log_likelihood(ll, name).values, before[name].values)
        # the layout written before the combined variable reads the same
        np.testing.assert_array_equal(
            observed_log_likelihood(before, name).values, before[name].values
        )
    assert observed_log_likelihood(ll, "y_other") is None
    assert "chain" not in tree["observed_data"].to_dataset().coords
    again = conform(tree)  # already conformed: unchanged
    xr.testing.assert_identical(again["log_likelihood"].to_dataset(), ll)


@pytest.fixture(scope="module")
def run_tree(short_run) -> xr.DataTree:
    return read_run(short_run).tree()  # a real fit (short settings), read back from fit.nc


def test_every_group_of_a_real_fit_has_chain_and_draw_coordinates(run_tree):
    with_draws = [name for name, node in run_tree.children.items() if "draw" in node.dims]
    assert set(with_draws) >= {
        "posterior",
        "sample_stats",
        "prior",
        "prior_predictive",
        "posterior_predictive",
        "log_likelihood",
    }
    for name in with_draws:
        ds = run_tree[name].to_dataset()
        for dim in ("chain", "draw"):
            assert dim in ds.coords, (name, dim)
            np.testing.assert_array_equal(ds[dim].values, np.arange(ds.sizes[dim]))
    posterior = run_tree["posterior"].to_dataset()
    assert dict(posterior.sizes)["chain"] == SHORT_SAMPLER["chains"]
    assert dict(posterior.sizes)["draw"] == SHORT_SAMPLER["draws"]


def test_az_loo_of_a_real_fit_needs_no_var_name_and_adds_up_per_observed_variable(run_tree):
    combined = loo(run_tree)  # no var_name: the log_likelihood group holds one variable
    ll = run_tree["log_likelihood"].to_dataset()
    observed = run_tree["observed_data"].to_dataset()
    assert combined.n_data_points == sum(observed[name].size for name in observed.data_vars)
    # PSIS-LOO is pointwise: the combined elpd is the sum of each observed variable's
    parts = []
    for name in observed.data_vars:
        single = run_tree.copy()
        single["log_likelihood"] = xr.DataTree(
            xr.Dataset({name: observed_log_likelihood(ll, name)})
        )
        parts.append(loo(single, name))
        assert observed_log_likelihood(ll, name).sizes[UNIT] == observed[name].size
    assert combined.elpd == pytest.approx(sum(p.elpd for p in parts), rel=1e-12)
    np.testing.assert_allclose(
        combined.elpd_i.values, np.concatenate([p.elpd_i.values for p in parts])
    )
