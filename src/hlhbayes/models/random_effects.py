"""``random-effects``: the binomial-logit-normal meta-analysis of ``study, events, total``."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import EvidenceBase
from hlhbayes.models.base import BuiltFromData, ModelText, OneCell
from hlhbayes.models.include import unit_weights
from hlhbayes.models.numerics import use_strict_numerics
from hlhbayes.models.study_effects import centred_studies, study_effects
from hlhbayes.models.table import units_by_study
from hlhbayes.models.units import Filters, Units
from hlhbayes.priors import FAMILIES, Prior, prior_data, prior_families, pymc_variable
from hlhbayes.special import expit

TEXT = ModelText(
    title=(
        "``random-effects``: the binomial-logit-normal meta-analysis of any table of "
        "``study, events, total``."
    ),
    equations="""\
Study i with r_i events out of n_i:

  r_i ~ Binomial(n_i, p_i),  logit p_i = θ_i = μ + u_i,  u_i ~ N(0, τ)
  u_i non-centred (u_i = τ·z_i, z_i ~ N(0, 1)), centred for a study whose data dominate
  (models/study_effects.py); each study's log-likelihood weighted by ω_i (1 in an ordinary fit)

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

DATA_DIMS: dict[str, tuple[str, ...]] = {
    "agg_study": ("stratum",),
    "agg_events": ("stratum",),
    "agg_total": ("stratum",),
    "include_stratum": ("stratum",),
    "study_centred": ("study",),
}
"""The model's data; the prior parameters (``prior_<parameter>_<name>``) are scalars."""
DATA_FILL: dict[str, Any] = {
    "agg_study": 0,
    "agg_events": 0,
    "agg_total": 1,
    "include_stratum": 0.0,
    "study_centred": 0.0,
}
"""A padded study: one patient, no event, weight 0."""
PRIORS = ("mu", "tau")

EXACT_TAU_FAMILIES = {"halfnormal": "sigma", "halfcauchy": "beta"}
"""Priors on tau that the quadrature integrates, and the name of their scale parameter."""


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


class RandomEffects(BuiltFromData):
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
    data_dims: Mapping[str, tuple[str, ...]] = DATA_DIMS
    data_fill: Mapping[str, Any] = DATA_FILL

    def units(self, base: EvidenceBase, filters: Filters) -> Units:
        """One count per study of ``base``: its patients and strata that pass ``filters``."""
        return units_by_study(base, filters)

    @cached_property
    def source(self) -> str:
        """Fingerprint of this module and the code its graph is built from."""
        from hlhbayes import priors
        from hlhbayes.engine import source_fingerprint
        from hlhbayes.models import study_effects

        return source_fingerprint([sys.modules[__name__], study_effects, priors])

    def dim_sizes(self, units: Units) -> dict[str, int]:
        """Studies (one count each)."""
        return {"stratum": len(units.agg_ids), "study": len(units.studies)}

    def coords(self, units: Units) -> dict[str, list[Any]]:
        """Study ids (a study's one count is its stratum)."""
        return {"study": list(units.studies), "stratum": list(units.agg_ids)}

    def structure(
        self, units: Units, priors: Mapping[str, Prior], options: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The prior families."""
        return {"model": self.name, "priors": prior_families(priors)}

    def data(
        self,
        units: Units,
        priors: Mapping[str, Prior],
        options: Mapping[str, Any],
        include: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Counts, weights, study parameterisation (on the weighted units) and priors."""
        weights = unit_weights(units, include)
        return {
            "agg_study": units.agg_study,
            "agg_events": units.agg_events,
            "agg_total": units.agg_total,
            "include_stratum": weights,
            "study_centred": centred_studies(units, weights, priors["tau"]),
            **prior_data({n: priors[n] for n in PRIORS}),
        }

    def model_from_data(
        self,
        structure: Mapping[str, Any],
        data: Mapping[str, np.ndarray],
        coords: Mapping[str, list[Any]],
    ):
        """The graph of the module docstring, every input a ``pm.Data``.

        The likelihood is a potential: the weighted sum of the studies' binomial
        log-likelihood terms.
        """
        import pymc as pm
        import pytensor.tensor as pt

        use_strict_numerics()  # for PyMC's own samplers (the compiled engine compiles with XLA)
        families = structure["priors"]
        with pm.Model(coords=coords) as model:
            d = {n: pm.Data(n, value, dims=DATA_DIMS.get(n, ())) for n, value in data.items()}
            mu, tau = (
                pymc_variable(
                    n, families[n], {k: d[f"prior_{n}_{k}"] for k in FAMILIES[families[n]]}
                )
                for n in PRIORS
            )
            u = study_effects(tau, d["study_centred"])
            theta = pm.Deterministic("theta", mu + u, dims="study")
            counts = pm.logp(
                pm.Binomial.dist(n=d["agg_total"], logit_p=theta[d["agg_study"]]), d["agg_events"]
            )
            pm.Potential("likelihood_stratum", pt.sum(d["include_stratum"] * counts))
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
