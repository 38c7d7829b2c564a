r"""Power-scaling prior sensitivity of the hyperparameters (arviz-stats ``psense_summary``).

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

import logging
from collections.abc import Mapping
from typing import Any

import xarray as xr

from hlhbayes.priors import Prior
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
    """``psense_summary`` of the hyperparameters ``names``: one record each.

    ``{"quantity", "prior", "likelihood", "diagnosis"}``; the tree needs ``posterior``,
    ``log_prior`` and ``log_likelihood`` groups. The diagnosis is arviz-stats' own, at its
    threshold :data:`~hlhbayes.support.words.PSENSE_THRESHOLD` (``"✓"``: neither).
    """
    import arviz_stats as azs

    # psense_summary logs a warning with a link whenever it diagnoses something; the
    # diagnosis itself is reported, so the warning would only clutter stderr
    logger = logging.getLogger(azs.psense_summary.__module__)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        frame = azs.psense_summary(tree, var_names=list(names), threshold=PSENSE_THRESHOLD)
    finally:
        logger.setLevel(level)
    return [
        {
            "quantity": str(name),
            "prior": float(row["prior"]),
            "likelihood": float(row["likelihood"]),
            "diagnosis": str(row["diagnosis"]),
        }
        for name, row in frame.iterrows()
    ]
