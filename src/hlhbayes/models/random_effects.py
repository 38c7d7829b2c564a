r"""``random-effects``: the binomial-logit-normal meta-analysis of ``study, events, total``.

.. math::

    r_i \sim \text{Binomial}(n_i, p_i),\quad \operatorname{logit} p_i = \mu + \tau z_i,\quad
    z_i \sim N(0, 1)

    \mu \sim N(0, 1.5),\quad \tau \sim HN(1) \qquad\text{(defaults; models/random-effects.yaml)}

The classic model of RBesT ``gMAP`` and brms ``r | trials(n) ~ 1 + (1 | study)``, non-centred.
Reported quantities: :math:`\mu`, :math:`\tau`, ``rate_typical`` :math:`=\operatorname{logit}^{-1}
(\mu)` and ``rate_new`` :math:`=\operatorname{logit}^{-1}(\mu + \tau z_\text{new})`: the response
rate of a new study, i.e. the meta-analytic-predictive (MAP) prior. The same posterior is available
without MCMC by quadrature (``--method exact``, :mod:`hlhbayes.exact`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy.special import expit

from hlhbayes.models.include import add_inclusion_weights
from hlhbayes.models.numerics import use_strict_numerics
from hlhbayes.models.units import Units
from hlhbayes.priors import Prior

NAME = "random-effects"
DEFAULT_PRIORS: dict[str, Prior] = {
    "mu": Prior("normal", {"mu": 0.0, "sigma": 1.5}),
    "tau": Prior("halfnormal", {"sigma": 1.0}),
}
DEFAULT_OPTIONS: dict[str, Any] = {}
HYPERPARAMETERS = ("mu", "tau")
OBSERVED = {"y_stratum": "stratum"}


def build(
    units: Units,
    priors: dict[str, Prior],
    options: dict[str, Any],
    include: np.ndarray | None = None,
):
    """Build the PyMC model: one binomial count per study (``units.agg_*``).

    ``include`` (optional): one likelihood weight per unit; see :mod:`hlhbayes.models.include`.
    ``None`` (the default) leaves the model as it is.
    """
    import pymc as pm

    use_strict_numerics()
    coords = {"study": list(units.studies), "stratum": list(units.agg_ids)}
    with pm.Model(coords=coords) as model:
        mu = priors["mu"].to_pymc("mu")
        tau = priors["tau"].to_pymc("tau")
        z = pm.Normal("z_study", 0.0, 1.0, dims="study")
        theta = pm.Deterministic("theta", mu + tau * z, dims="study")
        pm.Binomial(
            "y_stratum",
            n=units.agg_total,
            logit_p=theta[units.agg_study],
            observed=units.agg_events,
            dims="stratum",
        )
    if include is not None:
        add_inclusion_weights(model, units, include)
    return model


def quantities(posterior: xr.Dataset, rng: np.random.Generator) -> xr.Dataset:
    """``rate_typical`` = logistic(mu) and ``rate_new`` = logistic(mu + tau z), z ~ N(0, 1)."""
    mu, tau = posterior["mu"], posterior["tau"]
    z = xr.DataArray(rng.standard_normal(tau.shape), dims=tau.dims)
    return xr.Dataset(
        {"rate_typical": xr.apply_ufunc(expit, mu), "rate_new": xr.apply_ufunc(expit, mu + tau * z)}
    )


def unit_probabilities(posterior: xr.Dataset, units: Units) -> dict[str, np.ndarray]:
    """Per-draw success probability of every study, ``(chain, draw, study)``."""
    theta = posterior["theta"].values[..., units.agg_study]
    return {"y_stratum": expit(theta)}
