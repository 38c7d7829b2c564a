"""``etiology-line``: response (or death) by trigger and line of therapy, patients and strata."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.evidence import EvidenceBase
from hlhbayes.models.base import BuiltFromData, ModelText
from hlhbayes.models.include import unit_weights
from hlhbayes.models.numerics import use_strict_numerics
from hlhbayes.models.study_effects import centred_studies, study_effects
from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES, Filters, Units, build_units
from hlhbayes.priors import FAMILIES, Prior, prior_data, prior_families, pymc_variable
from hlhbayes.special import expit

TEXT = ModelText(
    title=(
        "``etiology-line``: response (or death) by trigger and line of therapy, fitted to "
        "patients and aggregate strata together."
    ),
    equations="""\
Evidence unit j (a patient, or an aggregate stratum of n_j patients) in study s(j):

  patient:  y_j ~ Bernoulli(p_j),
            logit p_j = Σ_e w_je·η_e + γ·v_j + u_s(j)
  stratum:  r_j ~ Binomial(n_j, p̄_j),
            p̄_j = Σ_e w_je·[(1 − v_j)·logit⁻¹(η_e + u_s(j)) + v_j·logit⁻¹(η_e + γ + u_s(j))]

  η_e = α + σ_η·z_e,  z_e ~ N(0, 1)        etiologies partially pooled (non-centred)
  u_s ~ N(0, τ)                            between-study heterogeneity: non-centred
                                           (u_s = τ·z_s), centred for a study whose data
                                           dominate (models/study_effects.py)

  w_je: etiology weights of unit j (1 on a patient's trigger, 1/2 on each of two triggers;
        a stratum's reported fractions); v_j: its later-line fraction (0/1 for a patient).
  Unknown mixes are latent, never guessed:  w_j ~ Dirichlet(1 + c·w̄),
        v_j ~ Beta(1 + c·v̄, 1 + c·(1 − v̄)), w̄, v̄ the pooled mix of the known units
        (v̄ clipped to [0.05, 0.95]), c the composition concentration. The MODE of each
        prior is the pooled mix (w̄, v̄); its MEAN, (1 + c·w̄_e)/(K + c) and (1 + c·v̄)/(2 + c)
        with K = 5 etiologies, lies between the pooled mix and the uniform mix (for c = 5:
        halfway for the etiologies, 5/7 of the way to v̄ for the line).
  Each unit's log-likelihood enters with its weight ω_j (1 in an ordinary fit; 0 leaves the
  unit out, as in cumulative and sensitivity analyses).

Reported, for etiology e and line l ([l] = 1 for the later line):
  rate_typical[e, l] = logit⁻¹(η_e + γ·[l])               a typical study (u = 0)
  rate_new[e, l]     = logit⁻¹(η_e + γ·[l] + u_new),
                       u_new ~ N(0, τ)                    a new study: the MAP prior""",
    parameters={
        "alpha": "logit rate, first line, of an average etiology",
        "sigma_eta": "spread of the etiologies around alpha (logit scale)",
        "tau": "between-study heterogeneity, SD of the study effects (logit scale)",
        "gamma": "later line vs first line (log-odds ratio)",
    },
    note=(
        "A stratum that mixes etiologies or lines is fitted with the mean probability of its "
        "members, an approximation to the exact convolution of binomials (same mean, slightly "
        "larger variance; measured in tests/test_models_etiology_line.py)."
    ),
    study_estimate=(
        "the mean of the fitted probabilities of its patients and strata (weighted by their "
        "size), i.e. its rate shrunk toward the pooled estimates"
    ),
)

__doc__ = f"""{TEXT.docstring()}
The added 1 in the Dirichlet and Beta parameters keeps every one of them at least 1, so the
prior of an unknown mix has no spikes at the edges of the simplex (which would force tiny NUTS
step sizes). The data's ``medication`` trigger is modelled as ``other``. Defaults:
``models/etiology-line.yaml``.
"""


def latent_mix_prior(units: Units, concentration: float) -> np.ndarray:
    """Dirichlet parameters of an unknown etiology mix: ``1 + c·w̄``, ``w̄`` the pooled mix.

    Its mode is ``w̄``; its mean ``(1 + c·w̄) / (K + c)`` lies between ``w̄`` and the uniform
    mix (halfway for c = K = 5).
    """
    return 1.0 + concentration * units.pooled_mix()


def latent_later_prior(units: Units, concentration: float) -> tuple[float, float]:
    """Beta parameters of an unknown later-line fraction: ``1 + c·v̄``, ``1 + c·(1 − v̄)``.

    ``v̄`` is the pooled later-line fraction clipped to [0.05, 0.95] (0.5 when no unit's line
    is known); the mode is ``v̄``, the mean ``(1 + c·v̄) / (2 + c)``.
    """
    later = float(np.clip(units.pooled_later(), 0.05, 0.95))
    return 1.0 + concentration * later, 1.0 + concentration * (1 - later)


def typical_logit(draws: xr.Dataset) -> xr.DataArray:
    """``η_e + γ·[l]`` per etiology and line: the logit of ``rate_typical``."""
    later = xr.DataArray([0.0, 1.0], dims="line", coords={"line": list(MODEL_LINES)})
    return (draws["eta"] + draws["gamma"] * later).transpose("chain", "draw", "etiology", "line")


class EtiologyLineBorrowing:
    """How a cell of ``etiology-line`` borrows: from the other triggers and the other line.

    A trigger without direct data has ``η_e = α + σ_η·z_e`` with ``z_e`` untouched by the data
    (its posterior is its N(0, 1) prior), so its cells' logits are distributed as
    ``α + σ_η·z + γ·[l]`` with a fresh ``z``: :meth:`borrowed_logit`, the reference against
    which the share borrowed by any cell is measured.
    """

    cannot_tell: Mapping[str, str] = {
        "gamma": "first from later line",
        "sigma_eta": "the triggers apart",
        "tau": "how much the studies differ",
    }

    def typical_logit(self, draws: xr.Dataset) -> xr.DataArray:
        """``η_e + γ·[l]`` (see :func:`typical_logit`)."""
        return typical_logit(draws)

    def borrowed_logit(self, posterior: xr.Dataset, rng: np.random.Generator) -> xr.DataArray:
        """``α + σ_η·z + γ·[l]``, ``z ~ N(0, 1)`` per draw (dimensions chain, draw, line)."""
        alpha = posterior["alpha"]
        z = xr.DataArray(rng.standard_normal(alpha.shape), dims=alpha.dims)
        later = xr.DataArray([0.0, 1.0], dims="line", coords={"line": list(MODEL_LINES)})
        eta_new = alpha + posterior["sigma_eta"] * z
        return (eta_new + posterior["gamma"] * later).transpose("chain", "draw", "line")

    def expected_composition(
        self, units: Units, options: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Unknown mixes replaced by the means of their Dirichlet and Beta priors."""
        concentration = float(options.get("composition_concentration", 5.0))
        w, v = units.agg_w.copy(), units.agg_v.copy()
        mix = latent_mix_prior(units, concentration)
        w[np.isnan(w).any(axis=1)] = mix / mix.sum()
        a, b = latent_later_prior(units, concentration)
        v[np.isnan(v)] = a / (a + b)
        return w, v


DATA_DIMS: dict[str, tuple[str, ...]] = {
    "pat_w": ("patient", "etiology"),
    "pat_later": ("patient",),
    "pat_study": ("patient",),
    "pat_y": ("patient",),
    "include_patient": ("patient",),
    "agg_w": ("stratum", "etiology"),
    "agg_mix_unknown": ("stratum",),
    "agg_mix_slot": ("stratum",),
    "agg_v": ("stratum",),
    "agg_line_unknown": ("stratum",),
    "agg_line_slot": ("stratum",),
    "agg_study": ("stratum",),
    "agg_events": ("stratum",),
    "agg_total": ("stratum",),
    "include_stratum": ("stratum",),
    "study_centred": ("study",),
    "mix_alpha": ("etiology",),
    "later_alpha": (),
    "later_beta": (),
}
"""The model's data; the prior parameters (``prior_<parameter>_<name>``) are scalars."""
DATA_FILL: dict[str, Any] = {
    "pat_w": 0.2,
    "pat_later": 0.0,
    "pat_study": 0,
    "pat_y": 0,
    "include_patient": 0.0,
    "agg_w": 0.2,
    "agg_mix_unknown": 0.0,
    "agg_mix_slot": 0,
    "agg_v": 0.0,
    "agg_line_unknown": 0.0,
    "agg_line_slot": 0,
    "agg_study": 0,
    "agg_events": 0,
    "agg_total": 1,
    "include_stratum": 0.0,
    "study_centred": 0.0,
}
"""Padded patients and strata: a valid composition, one patient, weight 0."""
PRIORS = ("alpha", "sigma_eta", "tau", "gamma")


class EtiologyLine(BuiltFromData):
    """The ``etiology-line`` model (see the module docstring)."""

    name = "etiology-line"
    default_priors: Mapping[str, Prior] = {
        "alpha": Prior("normal", {"mu": 0.0, "sigma": 1.5}),
        "sigma_eta": Prior("halfnormal", {"sigma": 1.0}),
        "tau": Prior("halfnormal", {"sigma": 1.0}),
        "gamma": Prior("normal", {"mu": 0.0, "sigma": 1.0}),
    }
    default_options: Mapping[str, Any] = {"composition_concentration": 5.0}
    hyperparameters = ("alpha", "sigma_eta", "tau", "gamma")
    observed: Mapping[str, str] = {"y_patient": "patient", "y_stratum": "stratum"}
    has_cells = True
    one_count_per_study = False
    location_prior = "alpha"
    exact = None
    text = TEXT
    borrowing = EtiologyLineBorrowing()
    data_dims: Mapping[str, tuple[str, ...]] = DATA_DIMS
    data_fill: Mapping[str, Any] = DATA_FILL

    @cached_property
    def source(self) -> str:
        """Fingerprint of this module and the code its graph is built from."""
        from hlhbayes import priors
        from hlhbayes.engine import source_fingerprint
        from hlhbayes.models import study_effects

        return source_fingerprint([sys.modules[__name__], study_effects, priors])

    def units(self, base: EvidenceBase, filters: Filters) -> Units:
        """Patients and strata of ``base`` that pass ``filters``."""
        return build_units(base, filters)

    def dim_sizes(self, units: Units) -> dict[str, int]:
        """Patients, strata, studies and the strata with an unknown mix or line."""
        return {
            "patient": len(units.pat_ids),
            "stratum": len(units.agg_ids),
            "study": len(units.studies),
            "stratum_unknown_mix": int(np.isnan(units.agg_w).any(axis=1).sum()),
            "stratum_unknown_line": int(np.isnan(units.agg_v).sum()),
        }

    def coords(self, units: Units) -> dict[str, list[Any]]:
        """Etiologies, lines, study and unit ids, and the ids of strata with latent mixes."""
        unknown_w = np.flatnonzero(np.isnan(units.agg_w).any(axis=1))
        unknown_v = np.flatnonzero(np.isnan(units.agg_v))
        return {
            "etiology": list(MODEL_ETIOLOGIES),
            "line": list(MODEL_LINES),
            "study": list(units.studies),
            "patient": list(units.pat_ids),
            "stratum": list(units.agg_ids),
            "stratum_unknown_mix": [units.agg_ids[i] for i in unknown_w],
            "stratum_unknown_line": [units.agg_ids[i] for i in unknown_v],
        }

    def structure(
        self, units: Units, priors: Mapping[str, Prior], options: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The prior families (everything else is data or a dimension's length)."""
        return {"model": self.name, "priors": prior_families(priors)}

    def data(
        self,
        units: Units,
        priors: Mapping[str, Prior],
        options: Mapping[str, Any],
        include: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Evidence, weights, latent-mix slots and centres, study parameterisation, priors.

        The latent compositions are centred on the pooled mix of the units with positive
        weight, and the study parameterisation follows
        :mod:`~hlhbayes.models.study_effects` on the weighted units.
        """
        weights = unit_weights(units, include)
        n_pat = len(units.pat_ids)
        concentration = float(options.get("composition_concentration", 5.0))
        fitted = weights > 0
        later = float(np.clip(units.pooled_later(fitted), 0.05, 0.95))
        unknown_w = np.isnan(units.agg_w).any(axis=1)
        unknown_v = np.isnan(units.agg_v)
        return {
            "pat_w": units.pat_w,
            "pat_later": units.pat_later,
            "pat_study": units.pat_study,
            "pat_y": units.pat_y,
            "include_patient": weights[:n_pat],
            "agg_w": np.nan_to_num(units.agg_w),
            "agg_mix_unknown": unknown_w.astype(float),
            "agg_mix_slot": _slots(unknown_w),
            "agg_v": np.nan_to_num(units.agg_v),
            "agg_line_unknown": unknown_v.astype(float),
            "agg_line_slot": _slots(unknown_v),
            "agg_study": units.agg_study,
            "agg_events": units.agg_events,
            "agg_total": units.agg_total,
            "include_stratum": weights[n_pat:],
            "study_centred": centred_studies(units, weights, priors["tau"]),
            "mix_alpha": 1.0 + concentration * units.pooled_mix(fitted),
            "later_alpha": np.float64(1.0 + concentration * later),
            "later_beta": np.float64(1.0 + concentration * (1.0 - later)),
            **prior_data({n: priors[n] for n in PRIORS}),
        }

    def model_from_data(
        self,
        structure: Mapping[str, Any],
        data: Mapping[str, np.ndarray],
        coords: Mapping[str, list[Any]],
    ):
        """The graph of the module docstring, every input a ``pm.Data``.

        The likelihood is two potentials, each the weighted sum of its units' log-likelihood
        terms (every term evaluated once); the observed data, the pointwise log-likelihood
        and the predictive draws are computed from :meth:`unit_probabilities`.
        """
        import pymc as pm
        import pytensor.tensor as pt

        use_strict_numerics()  # for PyMC's own samplers (the compiled engine compiles with XLA)
        families = structure["priors"]
        with pm.Model(coords=coords) as model:
            d = {n: pm.Data(n, value, dims=DATA_DIMS.get(n, ())) for n, value in data.items()}
            alpha, sigma_eta, tau, gamma = (
                pymc_variable(
                    n, families[n], {k: d[f"prior_{n}_{k}"] for k in FAMILIES[families[n]]}
                )
                for n in PRIORS
            )
            z_eta = pm.Normal("z_eta", 0.0, 1.0, dims="etiology")
            eta = pm.Deterministic("eta", alpha + sigma_eta * z_eta, dims="etiology")
            u = pm.Deterministic("u", study_effects(tau, d["study_centred"]), dims="study")

            logit_p = pt.dot(d["pat_w"], eta) + gamma * d["pat_later"] + u[d["pat_study"]]
            patients = pm.logp(pm.Bernoulli.dist(logit_p=logit_p), d["pat_y"])
            pm.Potential("likelihood_patient", pt.sum(d["include_patient"] * patients))

            w = d["agg_w"]
            if len(coords["stratum_unknown_mix"]):
                # Dirichlet(a) built as normalised Gamma(a_e, 1) draws: the same distribution,
                # with a far smaller gradient graph than the simplex transform.
                gammas = pm.Gamma(
                    "mix_gamma",
                    alpha=pt.tile(d["mix_alpha"][None, :], (len(coords["stratum_unknown_mix"]), 1)),
                    beta=1.0,
                    dims=("stratum_unknown_mix", "etiology"),
                )
                w_latent = pm.Deterministic(
                    "mix_latent",
                    gammas / gammas.sum(axis=1, keepdims=True),
                    dims=("stratum_unknown_mix", "etiology"),
                )
                unknown = d["agg_mix_unknown"][:, None]
                w = (1.0 - unknown) * w + unknown * w_latent[d["agg_mix_slot"]]
            v = d["agg_v"]
            if len(coords["stratum_unknown_line"]):
                v_latent = pm.Beta(
                    "later_latent",
                    alpha=d["later_alpha"],
                    beta=d["later_beta"],
                    dims="stratum_unknown_line",
                )
                unknown = d["agg_line_unknown"]
                v = (1.0 - unknown) * v + unknown * v_latent[d["agg_line_slot"]]
            base = eta[None, :] + u[d["agg_study"]][:, None]
            q = (1 - v)[:, None] * pm.math.sigmoid(base) + v[:, None] * pm.math.sigmoid(
                base + gamma
            )
            p = pt.clip(pt.sum(w * q, axis=1), 1e-12, 1 - 1e-12)
            strata = pm.logp(pm.Binomial.dist(n=d["agg_total"], p=p), d["agg_events"])
            pm.Potential("likelihood_stratum", pt.sum(d["include_stratum"] * strata))
        return model

    def quantities(self, posterior: xr.Dataset, rng: np.random.Generator) -> xr.Dataset:
        """``rate_typical`` and ``rate_new`` per etiology x line from the hyperparameter draws.

        One new-study effect per draw (``u_new = tau * z``, ``z`` from ``rng``) is shared by all
        cells: a new study has one study effect.
        """
        logit_typical = typical_logit(posterior)
        z = xr.DataArray(rng.standard_normal(posterior["tau"].shape), dims=posterior["tau"].dims)
        logit_new = logit_typical + posterior["tau"] * z
        return xr.Dataset(
            {
                "rate_typical": _expit(logit_typical).transpose(
                    "chain", "draw", "etiology", "line"
                ),
                "rate_new": _expit(logit_new).transpose("chain", "draw", "etiology", "line"),
            }
        )

    def unit_probabilities(self, posterior: xr.Dataset, units: Units) -> dict[str, np.ndarray]:
        """Per-draw success probabilities of every unit, ``(chain, draw, unit)`` arrays.

        The same formulas as :meth:`build`, in numpy, for the pointwise log-likelihood and the
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
            q = (1 - v)[..., None] * _expit_np(base) + v[..., None] * _expit_np(
                base + gamma[..., None]
            )
            out["y_stratum"] = np.clip((w * q).sum(axis=-1), 1e-12, 1 - 1e-12)
        return out

    def new_study_posterior(
        self,
        posterior: xr.Dataset,
        units: Units,
        rng: np.random.Generator,
        options: Mapping[str, Any],
        reference: Units,
    ) -> xr.Dataset:
        """``eta``, ``gamma``, a new ``u`` per study and draw, and draws of unknown mixes.

        Unknown compositions are drawn from their prior: concentration
        ``options['composition_concentration']`` around the pooled mix of ``reference``
        (uniform when none of its units has a known composition).
        """
        tau = posterior["tau"].values  # (chain, draw)
        z = rng.standard_normal((*tau.shape, len(units.studies)))
        concentration = float(options.get("composition_concentration", 5.0))
        data = {
            "eta": (("chain", "draw", "etiology"), posterior["eta"].values),
            "gamma": (("chain", "draw"), posterior["gamma"].values),
            "u": (("chain", "draw", "study"), tau[..., None] * z),
        }
        unknown_w = int(np.isnan(units.agg_w).any(axis=1).sum())
        if unknown_w:
            mix = latent_mix_prior(reference, concentration)
            draws = rng.dirichlet(mix, size=(*tau.shape, unknown_w))
            data["mix_latent"] = (("chain", "draw", "stratum_unknown_mix", "etiology"), draws)
        unknown_v = int(np.isnan(units.agg_v).sum())
        if unknown_v:
            a, b = latent_later_prior(reference, concentration)
            draws = rng.beta(a, b, size=(*tau.shape, unknown_v))
            data["later_latent"] = (("chain", "draw", "stratum_unknown_line"), draws)
        return xr.Dataset(data)


def _slots(unknown: np.ndarray) -> np.ndarray:
    """Slot k of the k-th unknown entry (0 where the entry is known: the slot is not used)."""
    return np.where(unknown, np.cumsum(unknown) - 1, 0).astype(np.int64)


def _expit(x: xr.DataArray) -> xr.DataArray:
    return xr.apply_ufunc(_expit_np, x)


def _expit_np(x: np.ndarray) -> np.ndarray:
    return expit(x)  # no overflow warning for extreme prior draws


MODEL = EtiologyLine()
