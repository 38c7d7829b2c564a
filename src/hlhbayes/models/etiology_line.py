r"""``etiology-line``: response (or death) by trigger and line of therapy, patients and strata.

Evidence unit :math:`j` (a patient, or an aggregate stratum) belongs to study :math:`s(j)`.

.. math::

    \eta_e = \alpha + \sigma_\eta z_e,\quad z_e \sim N(0, 1)
        \qquad\text{(etiologies partially pooled)}

    u_s = \tau z_s,\quad z_s \sim N(0, 1)
        \qquad\text{(between-study heterogeneity, non-centred)}

    \alpha \sim N(0, 1.5),\ \sigma_\eta \sim HN(1),\ \tau \sim HN(1),\ \gamma \sim N(0, 1)
        \qquad\text{(defaults; see models/etiology-line.yaml)}

A **patient** with etiology weights :math:`w_{je}` (1 on its trigger; 1/2 on each of two
triggers) and later-line indicator :math:`v_j`:

.. math::

    y_j \sim \text{Bernoulli}(p_j),\quad
    \operatorname{logit} p_j = \textstyle\sum_e w_{je}\,\eta_e + \gamma v_j + u_{s(j)}

A **stratum** of :math:`n_j` patients with etiology fractions :math:`w_{je}` and later-line
fraction :math:`v_j` is fitted with the mean probability of its members:

.. math::

    r_j \sim \text{Binomial}(n_j, \bar p_j),\quad
    \bar p_j = \textstyle\sum_e w_{je}\,[(1 - v_j)\,\operatorname{logit}^{-1}(\eta_e + u_{s(j)})
        + v_j\,\operatorname{logit}^{-1}(\eta_e + \gamma + u_{s(j)})]

The exact likelihood of a mixed stratum is the convolution of one binomial per sub-group; the
single binomial with the mean probability has the same mean and a slightly larger variance
(the size of the difference is measured in ``tests/test_mixture_approximation.py``).
Where a stratum's etiology mix is unknown, :math:`w_j` is **latent**,
:math:`w_j \sim \text{Dirichlet}(1 + c\,\bar w)` with :math:`\bar w` the pooled mix of the units
whose mix is known and :math:`c` the concentration; an unknown line fraction is
:math:`v_j \sim \text{Beta}(1 + c\,\bar v, 1 + c\,(1-\bar v))`. The added 1 keeps every
Dirichlet / Beta parameter at least 1, so the prior has no spikes at the edges of the simplex
(which would force tiny NUTS step sizes). Nothing is imputed.

Estimands, for every etiology :math:`e` and line :math:`l` (:math:`[l]` = 1 for later line):
:math:`\text{rate\_typical}_{el} = \operatorname{logit}^{-1}(\eta_e + \gamma[l])` and
:math:`\text{rate\_new}_{el} = \operatorname{logit}^{-1}(\eta_e + \gamma[l] + u_\text{new})`,
:math:`u_\text{new} \sim N(0, \tau)`: the rate in a new study (the MAP prior).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.models.include import add_inclusion_weights
from hlhbayes.models.numerics import use_strict_numerics
from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES, Units
from hlhbayes.priors import Prior

NAME = "etiology-line"
DEFAULT_PRIORS: dict[str, Prior] = {
    "alpha": Prior("normal", {"mu": 0.0, "sigma": 1.5}),
    "sigma_eta": Prior("halfnormal", {"sigma": 1.0}),
    "tau": Prior("halfnormal", {"sigma": 1.0}),
    "gamma": Prior("normal", {"mu": 0.0, "sigma": 1.0}),
}
DEFAULT_OPTIONS: dict[str, Any] = {"composition_concentration": 5.0}
HYPERPARAMETERS = ("alpha", "sigma_eta", "tau", "gamma")
OBSERVED = {"y_patient": "patient", "y_stratum": "stratum"}


def build(
    units: Units,
    priors: dict[str, Prior],
    options: dict[str, Any],
    include: np.ndarray | None = None,
):
    """Build the PyMC model (non-centred) for ``units``.

    ``include`` (optional): one likelihood weight per unit (patients, then strata); see
    :mod:`hlhbayes.models.include`. ``None`` (the default) leaves the model as it is.
    """
    import pymc as pm
    import pytensor.tensor as pt

    use_strict_numerics()
    concentration = float(options.get("composition_concentration", 5.0))
    unknown_w = np.flatnonzero(np.isnan(units.agg_w).any(axis=1))
    unknown_v = np.flatnonzero(np.isnan(units.agg_v))
    coords = {
        "etiology": list(MODEL_ETIOLOGIES),
        "line": list(MODEL_LINES),
        "study": list(units.studies),
        "patient": list(units.pat_ids),
        "stratum": list(units.agg_ids),
        "stratum_unknown_mix": [units.agg_ids[i] for i in unknown_w],
        "stratum_unknown_line": [units.agg_ids[i] for i in unknown_v],
    }
    with pm.Model(coords=coords) as model:
        alpha = priors["alpha"].to_pymc("alpha")
        sigma_eta = priors["sigma_eta"].to_pymc("sigma_eta")
        tau = priors["tau"].to_pymc("tau")
        gamma = priors["gamma"].to_pymc("gamma")
        z_eta = pm.Normal("z_eta", 0.0, 1.0, dims="etiology")
        eta = pm.Deterministic("eta", alpha + sigma_eta * z_eta, dims="etiology")
        z_study = pm.Normal("z_study", 0.0, 1.0, dims="study")
        u = pm.Deterministic("u", tau * z_study, dims="study")

        if len(units.pat_ids):
            logit_p = pt.dot(units.pat_w, eta) + gamma * units.pat_later + u[units.pat_study]
            pm.Bernoulli("y_patient", logit_p=logit_p, observed=units.pat_y, dims="patient")

        if len(units.agg_ids):
            w = pt.as_tensor_variable(np.nan_to_num(units.agg_w))
            if len(unknown_w):
                mix = units.pooled_mix()
                # Dirichlet(a) built as normalised Gamma(a_e, 1) draws: the same distribution,
                # with a far smaller gradient graph than the simplex transform (faster to
                # compile and to evaluate).
                gammas = pm.Gamma(
                    "mix_gamma",
                    alpha=np.tile(1.0 + concentration * mix, (len(unknown_w), 1)),
                    beta=1.0,
                    dims=("stratum_unknown_mix", "etiology"),
                )
                w_latent = pm.Deterministic(
                    "mix_latent",
                    gammas / gammas.sum(axis=1, keepdims=True),
                    dims=("stratum_unknown_mix", "etiology"),
                )
                w = pt.set_subtensor(w[unknown_w], w_latent)
            v = pt.as_tensor_variable(np.nan_to_num(units.agg_v))
            if len(unknown_v):
                later = float(np.clip(units.pooled_later(), 0.05, 0.95))
                v_latent = pm.Beta(
                    "later_latent",
                    alpha=1.0 + concentration * later,
                    beta=1.0 + concentration * (1 - later),
                    dims="stratum_unknown_line",
                )
                v = pt.set_subtensor(v[unknown_v], v_latent)
            base = eta[None, :] + u[units.agg_study][:, None]
            q = (1 - v)[:, None] * pm.math.sigmoid(base) + v[:, None] * pm.math.sigmoid(
                base + gamma
            )
            p = pt.clip(pt.sum(w * q, axis=1), 1e-12, 1 - 1e-12)
            pm.Binomial(
                "y_stratum", n=units.agg_total, p=p, observed=units.agg_events, dims="stratum"
            )
    if include is not None:
        add_inclusion_weights(model, units, include)
    return model


def quantities(posterior: xr.Dataset, rng: np.random.Generator) -> xr.Dataset:
    """``rate_typical`` and ``rate_new`` per etiology x line from the hyperparameter draws.

    One new-study effect per draw (``u_new = tau * z``, ``z`` from ``rng``) is shared by all
    cells: a new study has one study effect.
    """
    eta = posterior["eta"]
    later = xr.DataArray([0.0, 1.0], dims="line", coords={"line": list(MODEL_LINES)})
    logit_typical = eta + posterior["gamma"] * later
    z = xr.DataArray(rng.standard_normal(posterior["tau"].shape), dims=posterior["tau"].dims)
    logit_new = logit_typical + posterior["tau"] * z
    return xr.Dataset(
        {
            "rate_typical": _expit(logit_typical).transpose("chain", "draw", "etiology", "line"),
            "rate_new": _expit(logit_new).transpose("chain", "draw", "etiology", "line"),
        }
    )


def unit_probabilities(posterior: xr.Dataset, units: Units) -> dict[str, np.ndarray]:
    """Per-draw success probabilities of every unit, ``(chain, draw, unit)`` arrays.

    The same formulas as :func:`build`, in numpy, for the pointwise log-likelihood and the
    posterior predictive (a test checks they agree with the PyMC model's log-density).
    """
    eta = posterior["eta"].values  # (c, d, k)
    gamma = posterior["gamma"].values[..., None]
    u = posterior["u"].values  # (c, d, s)
    out: dict[str, np.ndarray] = {}
    if len(units.pat_ids):
        logit = eta @ units.pat_w.T + gamma * units.pat_later + u[..., units.pat_study]
        out["y_patient"] = _expit_np(logit)
    if len(units.agg_ids):
        c, d = eta.shape[:2]
        w = np.broadcast_to(np.nan_to_num(units.agg_w), (c, d, *units.agg_w.shape)).copy()
        unknown_w = np.flatnonzero(np.isnan(units.agg_w).any(axis=1))
        if len(unknown_w):
            w[:, :, unknown_w, :] = posterior["mix_latent"].values
        v = np.broadcast_to(np.nan_to_num(units.agg_v), (c, d, len(units.agg_v))).copy()
        unknown_v = np.flatnonzero(np.isnan(units.agg_v))
        if len(unknown_v):
            v[:, :, unknown_v] = posterior["later_latent"].values
        base = eta[:, :, None, :] + u[..., units.agg_study][..., None]
        q = (1 - v)[..., None] * _expit_np(base) + v[..., None] * _expit_np(base + gamma[..., None])
        out["y_stratum"] = np.clip((w * q).sum(axis=-1), 1e-12, 1 - 1e-12)
    return out


def _expit(x: xr.DataArray) -> xr.DataArray:
    return xr.apply_ufunc(_expit_np, x)


def _expit_np(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit  # no overflow warning for extreme prior draws

    return expit(x)
