"""The engine's numpy diagnostics against ArviZ (``arviz_stats``), the reference.

Random draws of several shapes, including chains with shifted means (R-hat far above 1), heavy
autocorrelation, ties, an odd number of draws, a constant variable and a NaN draw.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hlhbayes.engine import diagnostics

TOLERANCE = 1e-10


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float) -> np.ndarray:
    """AR(1) chains along axis 1 of ``shape`` = (chain, draw, ...)."""
    noise = rng.standard_normal(shape)
    out = np.empty(shape)
    out[:, 0] = noise[:, 0]
    for t in range(1, shape[1]):
        out[:, t] = phi * out[:, t - 1] + noise[:, t]
    return out


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261202)
    shifted = rng.standard_normal((4, 500, 3))
    shifted[1] += 0.8
    shifted[3] -= 2.0
    ties = rng.integers(0, 4, size=(4, 200)).astype(float)
    return {
        "independent": rng.standard_normal((4, 1000)),
        "vector": rng.standard_normal((4, 300, 5)),
        "matrix": rng.gamma(2.0, size=(2, 400, 2, 3)),
        "shifted_means": shifted,
        "autocorrelated": _ar1(rng, (4, 800, 2), 0.95),
        "odd_draws": rng.standard_normal((3, 101)),
        "one_chain": rng.standard_normal((1, 500)),
        "ties": ties,
        "constant": np.full((4, 100), 2.5),
    }


def _reference(values: np.ndarray) -> dict[str, np.ndarray]:
    import arviz_stats as azs

    dims = ["chain", "draw", *[f"d{i}" for i in range(values.ndim - 2)]]
    ds = xr.Dataset({"x": (dims, values)})
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 R-hat of the constant variable
        return {
            "r_hat": azs.rhat(ds)["x"].values,
            "ess_bulk": azs.ess(ds, method="bulk")["x"].values,
            "ess_mean": azs.ess(ds, method="mean")["x"].values,
            "mcse_mean": azs.mcse(ds, method="mean")["x"].values,
        }


@pytest.mark.parametrize("case", list(_cases()))
def test_diagnostics_equal_arviz(case):
    values = _cases()[case]
    reference = _reference(values)
    ours = {
        "r_hat": diagnostics.rhat(values),
        "ess_bulk": diagnostics.ess_bulk(values),
        "ess_mean": diagnostics.ess_mean(values),
        "mcse_mean": diagnostics.mcse_mean(values),
    }
    for key, expected in reference.items():
        got = ours[key]
        assert got.shape == np.shape(expected), key
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=key)
        finite = ~np.isnan(expected)
        scale = np.maximum(1.0, np.abs(expected[finite]))
        assert np.all(np.abs(got[finite] - expected[finite]) <= TOLERANCE * scale), (
            key,
            got,
            expected,
        )


def test_joint_rhat_and_bulk_ess_equal_the_separate_functions():
    values = _cases()["shifted_means"]
    r_hat, ess = diagnostics.rhat_and_ess_bulk(values)
    np.testing.assert_array_equal(ess, diagnostics.ess_bulk(values))
    assert np.all(r_hat > 1.1)


def test_shifted_chains_fail_and_independent_chains_pass():
    cases = _cases()
    assert np.all(diagnostics.rhat(cases["shifted_means"]) > 1.1)
    assert np.all(diagnostics.rhat(cases["independent"]) < 1.01)


def test_nan_draw_gives_nan():
    values = np.random.default_rng(1).standard_normal((4, 100, 2))
    values[2, 50, 1] = np.nan
    assert np.isnan(diagnostics.rhat(values)[1]) and not np.isnan(diagnostics.rhat(values)[0])
    assert np.isnan(diagnostics.ess_bulk(values)[1])


def test_next_fast_len_equals_scipy():
    from scipy.fftpack import next_fast_len

    for n in [1, 2, 3, 7, 97, 200, 1000, 1999, 2000, 4001, 12345]:
        assert diagnostics._next_fast_len(n) == next_fast_len(n), n


def test_diagnose_dataset_keeps_dims_and_coords():
    rng = np.random.default_rng(3)
    ds = xr.Dataset(
        {"a": (("chain", "draw", "study"), rng.standard_normal((4, 200, 3)))},
        coords={"study": ["s1", "s2", "s3"]},
    )
    out = diagnostics.diagnose(ds)
    assert set(out) == {"r_hat", "ess_bulk", "mcse_mean"}
    assert out["ess_bulk"]["a"].dims == ("study",)
    assert list(out["ess_bulk"]["study"].values) == ["s1", "s2", "s3"]


def test_diagnose_dataset_equals_the_diagnostics_of_each_variable():
    rng = np.random.default_rng(4)
    shifted = rng.standard_normal((4, 300, 2))
    shifted[0] += 1.5
    with_nan = rng.standard_normal((4, 300))
    with_nan[1, 7] = np.nan
    ds = xr.Dataset(
        {
            "scalar": (("chain", "draw"), _ar1(rng, (4, 300), 0.9)),
            "matrix": (("chain", "draw", "a", "b"), rng.gamma(2.0, size=(4, 300, 2, 3))),
            "shifted": (("chain", "draw", "c"), shifted),
            "with_nan": (("chain", "draw"), with_nan),
        }
    )
    out = diagnostics.diagnose(ds)
    for name, da in ds.data_vars.items():
        values = da.values
        expected = {
            "r_hat": diagnostics.rhat(values),
            "ess_bulk": diagnostics.ess_bulk(values),
            "mcse_mean": diagnostics.mcse_mean(values),
        }
        for key, value in expected.items():
            np.testing.assert_array_equal(out[key][name].values, value, err_msg=f"{key} {name}")
    assert np.all(out["r_hat"]["shifted"].values > 1.1)
    assert np.isnan(out["ess_bulk"]["with_nan"].values)
