r"""Likelihood weights: one model, fitted to any subset of its units or with some down-weighted.

Every model's likelihood is a weighted sum over its evidence units, with weights
:math:`\omega_j \in [0, 1]` (one per unit, patients first, then strata):

.. math::

    \log p(\theta) + \textstyle\sum_j \omega_j \log p(y_j \mid \theta)

A unit with weight 0 contributes nothing and a unit with weight 1 contributes fully (values in
between are likelihood powers, as in a power prior: a down-weighted unit counts as that share of
its patients). The weights are ``pm.Data`` (``include_patient``, ``include_stratum``), so the
compiled engine fits every subset of the same units with one program: this is what
``cumulative``, ``sensitivity`` and ``update`` rely on.
"""

from __future__ import annotations

import numpy as np

from hlhbayes.models.units import Units


def unit_weights(units: Units, include: np.ndarray | None) -> np.ndarray:
    """``include`` checked (one value in [0, 1] per unit), or all ones when ``None``.

    Raises ``ValueError`` for a wrong length or a value outside [0, 1].
    """
    if include is None:
        return np.ones(units.n_units)
    weights = np.asarray(include, dtype=float)
    if weights.shape != (units.n_units,):
        raise ValueError(
            f"include must have one weight per unit ({units.n_units}: patients, then strata); "
            f"got shape {weights.shape}"
        )
    if np.any(~np.isfinite(weights)) or np.any((weights < 0) | (weights > 1)):
        raise ValueError("include weights must lie in [0, 1]")
    return weights
