"""The quadrature posterior (``hlhbayes.exact``) against RBesT's published AS example.

Source: ../shared/anchors/RBesT_AS_vignette.md (RBesT 1.8-2 introduction vignette, data set AS:
8 placebo arms, ASAS20 at week 6; prior beta ~ N(0, 2), tau ~ HalfNormal(1); 4000 MCMC draws).
RBesT's figures carry Monte Carlo error; the tolerances below are that error, derived, not
guessed: with an effective sample size of at least ESS_RBEST draws, the MCSE of a mean is
sd / sqrt(ESS) and that of a p-quantile q is sqrt(p (1 - p) / ESS) / f(q), f the posterior
density at q (taken from the quadrature). Agreement is required within Z standard errors.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats

from hlhbayes.exact import random_effects_exact

AS_N = [107, 44, 51, 39, 139, 20, 78, 35]
AS_R = [23, 12, 19, 9, 39, 6, 9, 10]
RBEST = {  # quantity: mean, sd, 2.5%, 50%, 97.5% as printed in the vignette
    "tau": (0.3770, 0.2170, 0.0414, 0.3460, 0.8930),
    "rate_new": (0.2580, 0.0842, 0.1120, 0.2510, 0.4590),
}
ESS_RBEST = 1000  # conservative: RBesT keeps 4000 draws of a well-mixing 10-parameter model
Z = 3.5  # 10 checks; P(any |N(0,1)| > 3.5) ~ 0.005 if the quadrature is right


@pytest.fixture(scope="module")
def posterior():
    return random_effects_exact(
        AS_R, AS_N, mu_mean=0.0, mu_sd=2.0, tau_family="halfnormal", tau_scale=1.0
    )


def density(post, quantity: str, x: float) -> float:
    h = 1e-3
    return (post.cdf(quantity, x + h) - post.cdf(quantity, x - h)) / (2 * h)


@pytest.mark.parametrize("quantity", sorted(RBEST))
def test_agrees_with_rbest_within_its_monte_carlo_error(posterior, quantity):
    mean, sd, *quantiles = RBEST[quantity]
    ours = {r["quantity"]: r for r in posterior.summary()}[quantity]
    assert abs(ours["mean"] - mean) < Z * sd / math.sqrt(ESS_RBEST)
    assert ours["sd"] == pytest.approx(sd, rel=0.1)  # sd's MCSE ~ sd / sqrt(2 ESS) ~ 2 %
    for p, q in zip((0.025, 0.5, 0.975), quantiles, strict=True):
        mcse = math.sqrt(p * (1 - p) / ESS_RBEST) / density(posterior, quantity, q)
        assert abs(ours[f"q{100 * p:g}"] - q) < Z * mcse, (
            quantity,
            p,
            ours[f"q{100 * p:g}"],
            q,
            mcse,
        )


@pytest.mark.parametrize(
    ("family", "dist"),
    [
        ("halfnormal", stats.halfnorm),
        pytest.param(
            "halfcauchy",
            stats.halfcauchy,
            marks=pytest.mark.xfail(
                strict=True,
                reason="known limitation: with almost no data the grid search chases the "
                "Cauchy tail of tau; fine on informative data (see test above)",
            ),
        ),
    ],
)
def test_tau_prior_family_is_used(family, dist):
    """With almost no data (one patient) tau's posterior is its prior: compare with scipy."""
    post = random_effects_exact([0], [1], mu_mean=0.0, mu_sd=2.0, tau_family=family, tau_scale=0.5)
    tau = {r["quantity"]: r for r in post.summary()}["tau"]
    assert tau["q50"] == pytest.approx(dist(scale=0.5).ppf(0.5), rel=0.05)


@pytest.mark.parametrize(
    ("events", "totals", "kwargs"),
    [([1], [0], {}), ([5], [3], {}), ([1, 2], [3], {}), ([1], [3], {"tau_family": "lognormal"})],
)
def test_invalid_input_is_refused(events, totals, kwargs):
    with pytest.raises(ValueError):
        random_effects_exact(events, totals, **kwargs)
