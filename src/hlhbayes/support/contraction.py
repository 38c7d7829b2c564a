r"""How far the data moved an estimate from its prior, and how much of it is borrowed.

Both measures are ratios of variances of draws, which a reviewer can recompute from ``fit.nc``.

**Contraction** of a quantity :math:`\theta` (a cell's logit :math:`\eta_e + \gamma [l]`, or a
hyperparameter):

.. math:: c = 1 - \operatorname{Var}_\text{post}(\theta) / \operatorname{Var}_\text{prior}(\theta),

the variances of its draws in the ``posterior`` and the ``prior`` groups. A cell's prior is the
hierarchical prior of its logit under the model (the prior group's draws of
:math:`\alpha + \sigma_\eta z_e + \gamma [l]`), so its contraction counts everything the data
say about it, its own data and what is borrowed. In a normal model :math:`c` is the share of the
posterior precision that comes from the data: below 1/2 the prior carries more than the data.

**Borrowed share** of a cell (models whose cells borrow from each other):

.. math:: b = \min\{1,\ \operatorname{Var}_\text{post}(\eta_e + \gamma [l]) /
          \operatorname{Var}_\text{post}(\alpha + \sigma_\eta z + \gamma [l])\},

with a fresh :math:`z \sim N(0, 1)` per draw: the reference is the logit of a trigger with no
direct data (:meth:`~hlhbayes.models.base.Borrowing.borrowed_logit`). A trigger without data has
:math:`b = 1` exactly (its :math:`z_e` keeps its prior), whatever the other triggers say. In the
normal hierarchical model with known :math:`\alpha, \sigma_\eta`, :math:`b` equals the weight
that the posterior mean of :math:`\eta_e` gives the pooled mean :math:`\alpha` (the shrinkage
factor :math:`s_e^2 / (s_e^2 + \sigma_\eta^2)`): 1 is wholly borrowed, 0 the trigger's own data
alone.

A variance exists only when the draws' tails are light enough: when the Pareto :math:`\hat k`
of either set of draws is at least :data:`~hlhbayes.support.words.KHAT_FINITE_VARIANCE`, the
measure is not computed (``None``) and the reason is given (a half-Cauchy prior has no
variance). Monte Carlo error: the prior group has 1000 independent draws (a variance to about
±5 %), the posterior's bulk ESS is at least 400 after the convergence gate.
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

from hlhbayes.support import psis
from hlhbayes.support.words import KHAT_FINITE_VARIANCE

SAMPLE_DIMS = ("chain", "draw")


@dataclass(frozen=True)
class Ratio:
    """A measure's value, or ``None`` with the reason it could not be computed."""

    value: float | None
    reason: str | None = None


def tail_khat(draws: xr.DataArray) -> float:
    """Pareto k-hat of both tails of one quantity's draws (:func:`hlhbayes.support.psis.pareto_khat`).

    The draws are taken as independent (``r_eff = 1``): enough to tell whether a variance
    exists, and it spares an ESS computation per call.
    """
    return psis.pareto_khat(draws.transpose(*_sample_dims(draws)).values, r_eff=1.0)


def variance_ratio(
    numerator: xr.DataArray, denominator: xr.DataArray, names: tuple[str, str]
) -> Ratio:
    """``Var(numerator) / Var(denominator)`` of one quantity's draws.

    ``None`` when either set (named by ``names``) has no finite variance by its Pareto k-hat.
    """
    for name, draws in zip(names, (numerator, denominator), strict=True):
        khat = tail_khat(draws)
        if not khat < KHAT_FINITE_VARIANCE:
            return Ratio(
                None,
                f"the {name} draws have no finite variance (Pareto k-hat {khat:.2f} >= "
                f"{KHAT_FINITE_VARIANCE:g})",
            )
    return Ratio(_variance(numerator) / _variance(denominator))


def contraction(posterior: xr.DataArray, prior: xr.DataArray) -> Ratio:
    """``1 - Var_post / Var_prior`` of one quantity."""
    ratio = variance_ratio(posterior, prior, ("posterior", "prior"))
    return ratio if ratio.value is None else Ratio(1.0 - ratio.value)


def borrowed_share(posterior: xr.DataArray, reference: xr.DataArray) -> Ratio:
    """``min(1, Var_post(cell) / Var_post(reference))`` of one cell."""
    ratio = variance_ratio(posterior, reference, ("posterior", "borrowing reference"))
    return ratio if ratio.value is None else Ratio(min(1.0, ratio.value))


def _sample_dims(draws: xr.DataArray) -> list[str]:
    return [d for d in SAMPLE_DIMS if d in draws.dims]


def _variance(draws: xr.DataArray) -> float:
    return float(draws.var(dim=_sample_dims(draws), ddof=1))
