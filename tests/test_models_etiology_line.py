"""How close is the mean-probability binomial to the exact likelihood of a mixed stratum?

A stratum of n1 patients with response probability p1 and n2 with p2 has an exact count
distribution that is the convolution Binomial(n1, p1) * Binomial(n2, p2). The models use
Binomial(n1 + n2, (n1 p1 + n2 p2) / (n1 + n2)) instead: same mean, variance larger by
n1 n2 / (n1 + n2) * (p1 - p2)^2. Measured on the cases below (the difference grows with
|p1 - p2|); the log-likelihood difference is the largest over counts k with exact probability
of at least 0.01 (far tails differ more, but carry no data):

| n1, n2 | p1, p2     | total variation distance | max log-likelihood difference |
|--------|------------|--------------------------|-------------------------------|
| 3, 4   | 0.9, 0.3   | 0.123                    | 0.49                          |
| 3, 4   | 0.8, 0.6   | 0.013                    | 0.10                          |
| 6, 6   | 0.95, 0.75 | 0.021                    | 0.21                          |

For etiology differences of 0.2 or less in probability the approximation moves the count
distribution by about 0.02 in total variation, small next to the posterior uncertainty of these
strata; for extreme contrasts (0.9 vs 0.3) it is a visible approximation (0.12).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

CASES = [
    # n1, n2, p1, p2, TV bound (measured value rounded up), max |dlogL| bound
    (3, 4, 0.9, 0.3, 0.125, 0.49),
    (3, 4, 0.8, 0.6, 0.014, 0.11),
    (6, 6, 0.95, 0.75, 0.022, 0.22),
]


def exact_convolution(n1: int, n2: int, p1: float, p2: float) -> np.ndarray:
    return np.convolve(
        stats.binom.pmf(np.arange(n1 + 1), n1, p1), stats.binom.pmf(np.arange(n2 + 1), n2, p2)
    )


def mean_probability(n1: int, n2: int, p1: float, p2: float) -> np.ndarray:
    n = n1 + n2
    return stats.binom.pmf(np.arange(n + 1), n, (n1 * p1 + n2 * p2) / n)


@pytest.mark.parametrize(("n1", "n2", "p1", "p2", "tv_bound", "dlog_bound"), CASES)
def test_mean_probability_binomial_is_close_to_the_convolution(
    n1, n2, p1, p2, tv_bound, dlog_bound
):
    exact = exact_convolution(n1, n2, p1, p2)
    approx = mean_probability(n1, n2, p1, p2)
    k = np.arange(n1 + n2 + 1)
    assert exact.sum() == pytest.approx(1.0)
    assert (k * exact).sum() == pytest.approx((k * approx).sum())  # same mean
    var_exact = (k**2 * exact).sum() - (k * exact).sum() ** 2
    var_approx = (k**2 * approx).sum() - (k * approx).sum() ** 2
    extra = n1 * n2 / (n1 + n2) * (p1 - p2) ** 2
    assert var_approx - var_exact == pytest.approx(extra)
    tv = 0.5 * np.abs(exact - approx).sum()
    assert tv < tv_bound
    central = exact >= 0.01
    assert np.max(np.abs(np.log(exact[central]) - np.log(approx[central]))) < dlog_bound


def test_identical_groups_are_exact():
    assert np.allclose(exact_convolution(5, 7, 0.4, 0.4), mean_probability(5, 7, 0.4, 0.4))


def test_the_model_uses_the_mean_probability(shipped):
    """The etiology-line likelihood equals the sum of Binomial(n, mean p) terms at a point.

    The mean probabilities are those of ``unit_probabilities`` (the numpy formulas behind the
    pointwise log-likelihood, the predictive draws and the observed data of every run).
    """
    from hlhbayes.models.etiology_line import MODEL as etiology_line
    from hlhbayes.models.spec import load_spec
    from hlhbayes.models.units import Filters, build_units

    units = build_units(shipped, Filters())
    spec = load_spec("etiology-line")
    model = etiology_line.build(units, spec.priors, spec.options)
    point = model.initial_point()
    point["alpha"] = np.array(0.7)
    point["z_eta"] = np.array([1.0, -0.5, 0.3, 0.0, -1.0])
    point["gamma"] = np.array(-0.4)
    point["z_study"] = np.linspace(-1, 1, len(units.studies))
    latent = [n for n in ("mix_latent", "later_latent") if n in model.named_vars]
    terms = {p.name: p for p in model.potentials}
    # Potentials and deterministics are graphs of random variables: evaluate them at the value
    # variables.
    outputs = model.replace_rvs_by_values(
        [
            terms["likelihood_patient"],
            terms["likelihood_stratum"],
            model["eta"],
            model["gamma"],
            model["u"],
            *(model[n] for n in latent),
        ]
    )
    fn = model.compile_fn(
        outputs, inputs=model.value_vars, on_unused_input="ignore", point_fn=False
    )
    patients, strata, eta, gamma, u, *latent_values = fn(*[point[v.name] for v in model.value_vars])
    import xarray as xr

    posterior = xr.Dataset(
        {
            "eta": (("chain", "draw", "etiology"), eta[None, None]),
            "gamma": (("chain", "draw"), np.array([[gamma]])),
            "u": (("chain", "draw", "study"), u[None, None]),
        }
    )
    dims = {
        "mix_latent": ("stratum_unknown_mix", "etiology"),
        "later_latent": ("stratum_unknown_line",),
    }
    for name, value in zip(latent, latent_values, strict=True):
        posterior[name] = (("chain", "draw", *dims[name]), value[None, None])
    probs = etiology_line.unit_probabilities(posterior, units)
    expected_strata = stats.binom.logpmf(
        units.agg_events, units.agg_total, probs["y_stratum"][0, 0]
    ).sum()
    expected_patients = stats.binom.logpmf(units.pat_y, 1, probs["y_patient"][0, 0]).sum()
    assert strata == pytest.approx(expected_strata, rel=1e-10)
    assert patients == pytest.approx(expected_patients, rel=1e-10)
