r"""Likelihood-inclusion weights: one compiled model, fitted to any subset of its units.

With weights :math:`\omega_j \in [0, 1]` (one per evidence unit, patients first, then strata)
the model's log-density becomes

.. math::

    \log p(\theta) + \textstyle\sum_j \log p(y_j \mid \theta)
        - \textstyle\sum_j (1 - \omega_j) \log p(y_j \mid \theta)
    = \log p(\theta) + \textstyle\sum_j \omega_j \log p(y_j \mid \theta)

so a unit with weight 0 contributes nothing and a unit with weight 1 contributes fully (values in
between are likelihood powers, as in a power prior). The observed variables are kept as they are
(so the model's predictive and log-likelihood machinery is unchanged) and a ``Potential`` named
``excluded`` subtracts what the left-out units would add. The weights are ``pm.Data``
(``include_patient``, ``include_stratum``), so :func:`pymc.set_data` changes the subset without
rebuilding or recompiling the model: this is what ``hlhbayes cumulative`` relies on.
"""

from __future__ import annotations

import numpy as np

from hlhbayes.models.units import Units

WEIGHTS = {"y_patient": ("include_patient", "patient"), "y_stratum": ("include_stratum", "stratum")}
"""Observed variable -> (name of its weight data, its dimension)."""


def split_weights(units: Units, include: np.ndarray) -> dict[str, np.ndarray]:
    """Weights by data name: ``include_patient`` (patients) and ``include_stratum`` (strata).

    Raises ``ValueError`` unless ``include`` has one value in [0, 1] per unit.
    """
    weights = np.asarray(include, dtype=float)
    if weights.shape != (units.n_units,):
        raise ValueError(
            f"include must have one weight per unit ({units.n_units}: patients, then strata); "
            f"got shape {weights.shape}"
        )
    if np.any(~np.isfinite(weights)) or np.any((weights < 0) | (weights > 1)):
        raise ValueError("include weights must lie in [0, 1]")
    n_pat = len(units.pat_ids)
    out = {}
    if n_pat:
        out["include_patient"] = weights[:n_pat]
    if len(units.agg_ids):
        out["include_stratum"] = weights[n_pat:]
    return out


def add_inclusion_weights(model, units: Units, include: np.ndarray) -> None:
    """Add the ``include_*`` data and the ``excluded`` potential to a built model."""
    import pymc as pm
    import pytensor.tensor as pt

    weights = split_weights(units, include)
    terms = []
    with model:
        for observed, (data_name, dim) in WEIGHTS.items():
            if observed not in model.named_vars:
                continue
            rv = model[observed]
            w = pm.Data(data_name, weights[data_name], dims=dim)
            observed_values = model.rvs_to_values[rv]
            terms.append(pt.sum((1.0 - w) * pm.logp(rv, observed_values)))
        pm.Potential("excluded", -pt.add(*terms) if len(terms) > 1 else -terms[0])
