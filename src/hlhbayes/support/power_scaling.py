r"""Power-scaling prior sensitivity of the hyperparameters (as arviz-stats ``psense_summary``).

The prior of the hyperparameters (and, separately, the likelihood) is raised to a power
:math:`\alpha` near 1; the change of each hyperparameter's posterior, estimated by Pareto-smoothed
importance sampling of the draws already made (no refit), is the sensitivity: the cumulative
Jensen-Shannon distance per unit :math:`\log\alpha` (Kallioinen et al. 2024, Stat Comput 34:57).
arviz-stats calls a value at or above 0.05 sensitive, and diagnoses **"potential prior-data
conflict"** when both the prior and the likelihood sensitivities reach it, **"potential strong
prior / weak likelihood"** when only the prior's does.

It needs a ``log_prior`` group: :func:`log_prior_dataset` computes, for every posterior draw,
the log density of each hyperparameter under its prior (:meth:`hlhbayes.priors.Prior.logpdf`,
on the parameter's own scale, as PyMC's ``logp``). Only the hyperparameters' priors are scaled:
the study and etiology effects have hierarchical priors whose scale is itself a hyperparameter.
The pointwise ``log_likelihood`` group is the fit's own. The log prior is computed from the
posterior draws after sampling, so it is the same whichever sampler drew them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.priors import Prior
from hlhbayes.support import psis
from hlhbayes.support.words import PSENSE_THRESHOLD

LOG_PRIOR = "log_prior"


def log_prior_dataset(
    posterior: xr.Dataset, priors: Mapping[str, Prior], names: tuple[str, ...]
) -> xr.Dataset:
    """Per draw, ``log p(θ)`` of each hyperparameter ``θ`` in ``names`` under its prior."""
    return xr.Dataset(
        {
            name: xr.DataArray(
                priors[name].logpdf(posterior[name].values),
                dims=posterior[name].dims,
                coords=posterior[name].coords,
            )
            for name in names
        }
    )


def with_log_prior(
    tree: xr.DataTree, priors: Mapping[str, Prior], names: tuple[str, ...]
) -> xr.DataTree:
    """``tree`` with a ``log_prior`` group (computed from its posterior if it has none)."""
    if LOG_PRIOR in tree.children:
        return tree
    out = tree.copy()
    out[LOG_PRIOR] = xr.DataTree(log_prior_dataset(tree["posterior"].to_dataset(), priors, names))
    return out


def prior_sensitivity(tree: xr.DataTree, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Power-scaling sensitivity of the hyperparameters ``names``: one record each.

    ``{"quantity", "prior", "likelihood", "diagnosis"}``, as arviz-stats' ``psense_summary``
    gives them (values rounded to 3 decimals; computed by :mod:`hlhbayes.support.psis`, a test
    checks equality). The tree needs ``posterior``, ``log_prior`` and ``log_likelihood``
    groups; the prior scaled is the sum of the ``log_prior`` variables, the likelihood the sum
    of every pointwise log likelihood. The diagnosis uses the threshold
    :data:`~hlhbayes.support.words.PSENSE_THRESHOLD` (``"✓"``: neither).
    """
    components = {
        "prior": _per_draw_total(tree[LOG_PRIOR].to_dataset()),
        "likelihood": _per_draw_total(tree["log_likelihood"].to_dataset()),
    }
    posterior = tree["posterior"]
    records = []
    for name in names:
        draws = posterior[name].transpose("chain", "draw").values
        values = {
            part: round(psis.power_scale_sensitivity(draws, log_component), 3)
            for part, log_component in components.items()
        }
        records.append({"quantity": str(name), **values, "diagnosis": diagnosis(**values)})
    return records


def diagnosis(prior: float, likelihood: float) -> str:
    """arviz-stats' reading of a prior and a likelihood sensitivity."""
    if prior >= PSENSE_THRESHOLD and likelihood >= PSENSE_THRESHOLD:
        return "potential prior-data conflict"
    if prior > PSENSE_THRESHOLD > likelihood:
        return "potential strong prior / weak likelihood"
    return "✓"


def _per_draw_total(dataset: xr.Dataset) -> np.ndarray:
    """``(chain, draw)``: the sum over every variable and every other dimension."""
    total = np.zeros((dataset.sizes["chain"], dataset.sizes["draw"]))
    for da in dataset.data_vars.values():
        other = [d for d in da.dims if d not in ("chain", "draw")]
        total += da.sum(other).transpose("chain", "draw").values
    return total
