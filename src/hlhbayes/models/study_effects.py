r"""Study effects, centred for studies whose data dominate and non-centred for the others.

Both models give every study s an effect :math:`u_s \sim N(0, \tau)`. How NUTS moves through
:math:`(u, \tau)` depends on how it is written:

* **non-centred**, :math:`u_s = \tau z_s`, :math:`z_s \sim N(0, 1)`: right when the data say
  little about :math:`u_s` (its posterior is close to its prior); with a large study it leaves
  a funnel between :math:`z_s` and :math:`\tau` (divergences, too-narrow intervals);
* **centred**, :math:`u_s \sim N(0, \tau)` sampled directly: right when the data pin
  :math:`u_s` down far more tightly than :math:`\tau` spreads it; with a small study it leaves
  the funnel instead.

A per-study mask :math:`c_s \in \{0, 1\}` chooses one or the other, and is data, so one
compiled program serves every choice:

.. math::

    z_s \sim N\big(0,\ c_s \tau + (1 - c_s)\big), \qquad
    u_s = z_s \big(c_s + (1 - c_s) \tau\big)

(:math:`c_s = 1`: :math:`u_s = z_s \sim N(0, \tau)`; :math:`c_s = 0`: :math:`u_s = \tau z_s`,
:math:`z_s \sim N(0, 1)`). The distribution of :math:`u` is the same either way.

**The rule.** Study s is centred when its Fisher information about its logit effect,
:math:`I_s = \sum_j \omega_j n_j \hat p_s (1 - \hat p_s)` (over its units j with likelihood weight
:math:`\omega_j`, :math:`n_j` patients each, :math:`\hat p_s = (r_s + 1/2) / (n_s + 1)` its
smoothed event rate), is at least :math:`1 / \tau_{0.1}^2`, with :math:`\tau_{0.1}` the 10 %
quantile of the prior on :math:`\tau`: its data alone fix its effect (standard error
:math:`1/\sqrt{I_s}`) more tightly than all but the smallest tenth of the heterogeneity the prior
allows. With ``tau ~ HalfNormal(1)`` (:math:`\tau_{0.1} = 0.126`) that takes
:math:`I_s \geq 63`, about 250 patients at a rate of 0.5; every study of the shipped evidence
base is non-centred, as the models always were.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hlhbayes.models.units import Units
from hlhbayes.priors import Prior

CENTRE_QUANTILE = 0.1
"""The quantile of the tau prior that a study's standard error must beat to be centred."""


def study_information(units: Units, include: np.ndarray) -> np.ndarray:
    """:math:`I_s` of the module docstring for every study of ``units`` (weights ``include``)."""
    weights = np.asarray(include, dtype=float)
    n_pat = len(units.pat_ids)
    w_pat, w_agg = weights[:n_pat], weights[n_pat:]
    k = len(units.studies)

    def per_study(index: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=values, minlength=k).astype(float)

    patients = per_study(units.pat_study, w_pat) + per_study(
        units.agg_study, w_agg * units.agg_total
    )
    events = per_study(units.pat_study, w_pat * units.pat_y) + per_study(
        units.agg_study, w_agg * units.agg_events
    )
    rate = (events + 0.5) / (patients + 1.0)
    return patients * rate * (1.0 - rate)


def centred_studies(units: Units, include: np.ndarray, tau_prior: Prior) -> np.ndarray:
    """The mask :math:`c_s` (1.0: centred) by the rule of the module docstring."""
    threshold = 1.0 / tau_prior.quantile(CENTRE_QUANTILE) ** 2
    return (study_information(units, include) >= threshold).astype(float)


def study_effects(tau: Any, centred: Any) -> Any:
    """The study effects :math:`u` (a tensor over ``study``) with free variable ``z_study``.

    ``centred``: the mask :math:`c_s` (a ``pm.Data`` over ``study``). Call inside a model.
    """
    import pymc as pm

    z = pm.Normal("z_study", 0.0, centred * tau + (1.0 - centred), dims="study")
    return z * (centred + (1.0 - centred) * tau)
