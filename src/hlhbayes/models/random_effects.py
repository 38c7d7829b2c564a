"""``random-effects``: the binomial-logit-normal meta-analysis of ``study, events, total``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from scipy.special import expit

from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import EvidenceBase
from hlhbayes.models.base import ModelText, OneCell
from hlhbayes.models.include import add_inclusion_weights
from hlhbayes.models.numerics import use_strict_numerics
from hlhbayes.models.table import units_by_study
from hlhbayes.models.units import Filters, Units
from hlhbayes.priors import Prior

TEXT = ModelText(
    title=(
        "``random-effects``: the binomial-logit-normal meta-analysis of any table of "
        "``study, events, total``."
    ),
    equations="""\
Study i with r_i events out of n_i:

  r_i ~ Binomial(n_i, p_i),  logit p_i = θ_i = μ + τ·z_i,  z_i ~ N(0, 1)   (non-centred)
  a study whose own data pin θ_i (logit standard error below 0.1) is sampled
  centred, θ_i ~ N(μ, τ): the same model, a geometry the sampler can follow

Reported:
  rate_typical = logit⁻¹(μ)                                 a typical study
  rate_new     = logit⁻¹(μ + τ·z_new),  z_new ~ N(0, 1)     a new study: the MAP prior
  study estimate (forest plot) = logit⁻¹(θ_i)""",
    parameters={
        "mu": "logit rate of a typical study",
        "tau": "between-study heterogeneity, SD of the study effects (logit scale)",
    },
    note=(
        "The classic binomial-logit-normal meta-analysis (RBesT gMAP; brms "
        "r | trials(n) ~ 1 + (1 | study)). Fitted to the evidence base it uses one count per "
        "study: its patients and strata added up."
    ),
    study_estimate="logit⁻¹(θ_i), the study's rate shrunk toward the pooled mean",
)

__doc__ = f"""{TEXT.docstring()}
The same posterior is available without MCMC by quadrature (``--method exact``,
:mod:`hlhbayes.exact`). Defaults: ``models/random-effects.yaml``.
"""

CENTRED_SE = 0.1
"""A study whose own logit standard error ``1 / sqrt(I_i)`` is below this is sampled centred.

``I_i = n_i p_i (1 - p_i)`` (``p_i = (r_i + 1/2) / (n_i + 1)``) is the Fisher information of
the study's logit. Given mu and tau, theta_i has posterior precision ``I_i + 1 / tau^2``: the
non-centred form samples well when the prior term dominates, the centred form when the data
do (Papaspiliopoulos, Roberts and Sköld 2007). Non-centred, a study of thousands of patients
makes a narrow ridge between ``z_i`` and ``tau`` that NUTS crosses with divergences and too
little of tau's range; centred, its theta_i is pinned by its own data. Below tau = 0.1 the
prior term of such a study still wins, but heterogeneity that small barely moves any
estimate; the sHLH series (tens of patients) all stay non-centred."""

EXACT_TAU_FAMILIES = {"halfnormal": "sigma", "halfcauchy": "beta"}
"""Priors on tau that the quadrature integrates, and the name of their scale parameter."""


def centred_studies(units: Units) -> np.ndarray:
    """Per study: ``True`` where its logit standard error is below :data:`CENTRED_SE`."""
    k = len(units.studies)
    n = np.bincount(units.agg_study, weights=units.agg_total, minlength=k)
    r = np.bincount(units.agg_study, weights=units.agg_events, minlength=k)
    p = (r + 0.5) / (n + 1.0)
    return n * p * (1.0 - p) >= 1.0 / CENTRED_SE**2


class Quadrature:
    """``--method exact``: the posterior by quadrature (:func:`hlhbayes.exact.random_effects_exact`)."""

    def check(self, priors: Mapping[str, Prior]) -> None:
        """Refuse a prior on tau the quadrature does not integrate."""
        family = priors["tau"].family
        if family not in EXACT_TAU_FAMILIES:
            raise HlhBayesError(
                f"--method exact supports tau priors {', '.join(EXACT_TAU_FAMILIES)}; got {family}"
            )

    def summarise(
        self, units: Units, priors: Mapping[str, Prior], thresholds: tuple[float, ...]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        """Summary records, P(rate > threshold) and notes of the exact posterior.

        A moment of tau that is infinite (a half-Cauchy prior on data that do not bound tau) is
        ``None``, with the reason in the notes (:meth:`hlhbayes.exact.ExactPosterior.notes`).
        """
        from hlhbayes.exact import random_effects_exact

        mu, tau = priors["mu"], priors["tau"]
        post = random_effects_exact(
            units.agg_events,
            units.agg_total,
            mu_mean=mu.params["mu"],
            mu_sd=mu.params["sigma"],
            tau_family=tau.family,
            tau_scale=tau.params[EXACT_TAU_FAMILIES[tau.family]],
        )
        records = [
            {
                "quantity": rec["quantity"],
                "etiology": None,
                "line": None,
                **{k: v for k, v in rec.items() if k != "quantity"},
                "mcse_mean": None,
                "ess_bulk": None,
                "r_hat": None,
            }
            for rec in post.summary()
        ]
        probabilities = [
            {
                "quantity": q,
                "etiology": None,
                "line": None,
                "threshold": t,
                "probability": post.prob_above(q, t),
            }
            for q in ("rate_typical", "rate_new")
            for t in thresholds
        ]
        return records, probabilities, post.notes()


class RandomEffects:
    """The ``random-effects`` model (see the module docstring)."""

    name = "random-effects"
    default_priors: Mapping[str, Prior] = {
        "mu": Prior("normal", {"mu": 0.0, "sigma": 1.5}),
        "tau": Prior("halfnormal", {"sigma": 1.0}),
    }
    default_options: Mapping[str, Any] = {}
    hyperparameters = ("mu", "tau")
    observed: Mapping[str, str] = {"y_stratum": "stratum"}
    has_cells = False
    one_count_per_study = True
    location_prior = "mu"
    exact = Quadrature()
    text = TEXT
    borrowing = OneCell("mu", {"tau": "how much the studies differ"})

    def units(self, base: EvidenceBase, filters: Filters) -> Units:
        """One count per study of ``base``: its patients and strata that pass ``filters``."""
        return units_by_study(base, filters)

    def build(
        self,
        units: Units,
        priors: Mapping[str, Prior],
        options: Mapping[str, Any],
        include: np.ndarray | None = None,
    ):
        """Build the PyMC model: one binomial count per study (``units.agg_*``).

        ``include`` (optional): one likelihood weight per unit; see
        :mod:`hlhbayes.models.include`. ``None`` (the default) leaves the model as it is.
        """
        import pymc as pm
        import pytensor.tensor as pt

        use_strict_numerics()
        coords = {"study": list(units.studies), "stratum": list(units.agg_ids)}
        centred = centred_studies(units)
        with pm.Model(coords=coords) as model:
            mu = priors["mu"].to_pymc("mu")
            tau = priors["tau"].to_pymc("tau")
            if centred.any():  # theta_i itself where centred, z_i elsewhere
                raw = pm.Normal(
                    "theta_raw",
                    pt.where(centred, mu, 0.0),
                    pt.where(centred, tau, 1.0),
                    dims="study",
                )
                theta = pm.Deterministic(
                    "theta", pt.where(centred, raw, mu + tau * raw), dims="study"
                )
            else:
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

    def quantities(self, posterior: xr.Dataset, rng: np.random.Generator) -> xr.Dataset:
        """``rate_typical`` = logistic(mu) and ``rate_new`` = logistic(mu + tau z), z ~ N(0, 1)."""
        mu, tau = posterior["mu"], posterior["tau"]
        z = xr.DataArray(rng.standard_normal(tau.shape), dims=tau.dims)
        return xr.Dataset(
            {
                "rate_typical": xr.apply_ufunc(expit, mu),
                "rate_new": xr.apply_ufunc(expit, mu + tau * z),
            }
        )

    def unit_probabilities(self, posterior: xr.Dataset, units: Units) -> dict[str, np.ndarray]:
        """Per-draw success probability of every study, ``(chain, draw, study)``."""
        theta = posterior["theta"].values[..., units.agg_study]
        return {"y_stratum": expit(theta)}

    def new_study_posterior(
        self,
        posterior: xr.Dataset,
        units: Units,
        rng: np.random.Generator,
        options: Mapping[str, Any],
        reference: Units,
    ) -> xr.Dataset:
        """``theta = mu + tau z`` per new study and draw, ``z ~ N(0, 1)``."""
        tau = posterior["tau"].values  # (chain, draw)
        z = rng.standard_normal((*tau.shape, len(units.studies)))
        theta = posterior["mu"].values[..., None] + tau[..., None] * z
        return xr.Dataset({"theta": (("chain", "draw", "study"), theta)})


MODEL = RandomEffects()
