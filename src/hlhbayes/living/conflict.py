r"""Prior-data conflict: how surprising a new series is under the previous fit's prediction.

For each posterior draw :math:`s` of the previous fit, the new study gets a fresh study effect
:math:`u_\text{new}^{(s)} = \tau^{(s)} z^{(s)}`, :math:`z^{(s)} \sim N(0, 1)` (seeded), and each
of its units the success probability the model gives it (the model module's own
``unit_probabilities``, fed a posterior-like dataset: no formula is re-derived here). A unit's
etiology or line composition that its paper does not give is drawn from the model's prior for it
(Dirichlet / Beta with their mode at the pooled mix of the analysis's units). The predictive
distribution of the observed count is the mixture over draws of

- ``Binomial(n_j, p_j)`` for a stratum, and
- the Poisson-binomial of the study's patient rows (their responders, or deaths, added up: one
  shared study effect per draw),

computed exactly per draw and averaged (no simulation noise beyond the draws themselves). With
:math:`P_<` and :math:`P_=` the predictive probabilities of fewer than and exactly the observed
count, the **two-sided mid-p value** is
:math:`2 \min(P_< + P_=/2,\ 1 - P_< - P_=/2)` (capped at 1); a unit is **flagged** as in
conflict with the previous fit when it is below :data:`CONFLICT_LEVEL`. The mid-p value is less
conservative than the ordinary tail probability for small discrete counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.models import get_model
from hlhbayes.models.units import Units
from hlhbayes.special import binomial_logpmf

CONFLICT_LEVEL = 0.05
"""Two-sided mid-p below which a new unit is flagged as conflicting with the previous fit."""


def new_study_posterior(
    model: str,
    posterior: xr.Dataset,
    units: Units,
    rng: np.random.Generator,
    options: dict[str, Any] | None = None,
    reference: Units | None = None,
) -> xr.Dataset:
    """A posterior-like dataset for ``unit_probabilities`` on units of new studies.

    Every study of ``units`` gets an independent new study effect per draw; unknown
    compositions are drawn from their prior, with its mode at the pooled mix of ``reference`` (the
    analysis's units; by default ``units`` themselves). The model says how
    (:meth:`~hlhbayes.models.base.ModelDefinition.new_study_posterior`).
    """
    return get_model(model).new_study_posterior(
        posterior, units, rng, options or {}, reference if reference is not None else units
    )


def binomial_mixture(n: int, p: np.ndarray) -> np.ndarray:
    """Predictive pmf over 0..n: ``Binomial(n, p)`` averaged over the draws ``p``."""
    k = np.arange(n + 1)
    return np.exp(binomial_logpmf(k[None, :], n, np.ravel(p)[:, None])).mean(axis=0)


def poisson_binomial_mixture(p: np.ndarray) -> np.ndarray:
    """Predictive pmf of a sum of Bernoulli(p_i), averaged over draws.

    ``p`` is ``(draws, members)``; within a draw the members are independent given their
    probabilities (the shared study effect is already in them).
    """
    p = np.asarray(p, dtype=float)
    draws, members = p.shape
    pmf = np.zeros((draws, members + 1))
    pmf[:, 0] = 1.0
    for i in range(members):
        pi = p[:, i : i + 1]
        shifted = np.zeros_like(pmf)
        shifted[:, 1:] = pmf[:, :-1]
        pmf = pmf * (1 - pi) + shifted * pi
    return pmf.mean(axis=0)


def tail(pmf: np.ndarray, observed: int) -> dict[str, Any]:
    """Predictive mean, 95% interval, mid-p tails and the two-sided mid-p of ``observed``."""
    pmf = np.asarray(pmf, dtype=float)
    pmf = pmf / pmf.sum()
    cdf = np.cumsum(pmf)
    below = float(cdf[observed - 1]) if observed > 0 else 0.0
    equal = float(pmf[observed])
    lower = below + 0.5 * equal  # mid-P(Y <= observed)
    upper = 1.0 - below - 0.5 * equal  # mid-P(Y >= observed)
    k = np.arange(len(pmf))
    return {
        "predicted_mean": float((k * pmf).sum()),
        "predicted_q2.5": int(np.searchsorted(cdf, 0.025 - 1e-12)),
        "predicted_q97.5": int(np.searchsorted(cdf, 0.975 - 1e-12)),
        "p_lower": lower,
        "p_upper": upper,
        "p_value": float(min(1.0, 2 * min(lower, upper))),
    }


def prior_data_conflict(
    model: str,
    posterior: xr.Dataset,
    units: Units,
    seed: int,
    options: dict[str, Any] | None = None,
    reference: Units | None = None,
    level: float = CONFLICT_LEVEL,
) -> list[dict[str, Any]]:
    """One row per stratum of the new studies and per new study's patient rows.

    ``units`` holds only the new studies' units (see
    :func:`hlhbayes.living.subset.units_of_studies`); ``posterior`` is the previous fit's;
    ``reference``: the analysis's units (see :func:`new_study_posterior`).
    """
    definition = get_model(model)
    rng = np.random.default_rng([seed, 7])
    fake = new_study_posterior(model, posterior, units, rng, options, reference)
    probs = definition.unit_probabilities(fake, units)
    rows: list[dict[str, Any]] = []
    for s, sid in enumerate(units.studies):
        members = np.flatnonzero(units.pat_study == s)
        if len(members):
            p = probs["y_patient"][..., members].reshape(-1, len(members))
            observed = int(units.pat_y[members].sum())
            rows.append(
                _row(sid, "patient rows", f"patient rows ({len(members)})", observed, len(members))
                | _judge(tail(poisson_binomial_mixture(p), observed), level)
            )
        for j in np.flatnonzero(units.agg_study == s):
            observed, total = int(units.agg_events[j]), int(units.agg_total[j])
            if definition.one_count_per_study:  # all of a study's units added up
                kind, name = "study total", "study total"
            else:
                kind, name = "stratum", units.agg_ids[j].split("/", 1)[-1]
            rows.append(
                _row(sid, kind, name, observed, total)
                | _judge(tail(binomial_mixture(total, probs["y_stratum"][..., j]), observed), level)
            )
    return rows


def _row(study: str, kind: str, unit: str, observed: int, total: int) -> dict[str, Any]:
    return {"study": study, "kind": kind, "unit": unit, "observed": observed, "total": total}


def _judge(result: dict[str, Any], level: float) -> dict[str, Any]:
    result["direction"] = "fewer" if result["p_lower"] < result["p_upper"] else "more"
    result["conflict"] = result["p_value"] < level
    return result
