r"""Probability of success (assurance) of a planned trial (RBesT ``pos1S`` / ``pos2S``).

The power of a design depends on the true rate; the probability of success averages it over a
*design prior* for that rate (typically the MAP prior: what the evidence says the rate of a new
trial will be):

.. math::

    \mathrm{PoS} = \int \Pr(\text{success} \mid p)\, \pi_d(p)\, dp
                 = \sum_{y \in S} m_d(y), \qquad
    m_d(y) = \sum_k w_k \binom{n}{y} \frac{B(a_k + y, b_k + n - y)}{B(a_k, b_k)},

with :math:`S` the success region of the design (from its boundary) and :math:`m_d` the
beta-binomial prior predictive of the design prior: exact, no integration or simulation. For
two arms with independent design priors,

.. math::

    \mathrm{PoS} = \sum_{y_c} m_{d,c}(y_c) \sum_{y_t \ge b(y_c)} m_{d,t}(y_t) .

A design prior may also be a fixed rate (a point mass); with both arms fixed this is the
ordinary power.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from hlhbayes.design.mixture import BetaMixture, FloatArray
from hlhbayes.design.oc import Design1S, Design2S, check_rates

DesignPrior = BetaMixture | float
"""A distribution for the true rate: a beta mixture, or a fixed rate."""


def outcome_pmf(design_prior: DesignPrior, n: int) -> FloatArray:
    """:math:`P(Y = y)`, :math:`y = 0..n`: beta-binomial mixture, or binomial for a fixed rate."""
    if isinstance(design_prior, BetaMixture):
        return design_prior.predictive_pmf(n)
    p = float(check_rates([design_prior], "design rate")[0])
    return stats.binom.pmf(np.arange(n + 1), n, p)


def pos_1s(design: Design1S, design_prior: DesignPrior | None = None) -> float:
    """Probability of success of a single-arm design (default design prior: its own prior)."""
    prior = design.prior if design_prior is None else design_prior
    pmf = outcome_pmf(prior, design.n)
    return float(np.clip(np.sum(pmf[design.success(np.arange(design.n + 1))]), 0.0, 1.0))


def pos_2s(
    design: Design2S,
    design_t: DesignPrior | None = None,
    design_c: DesignPrior | None = None,
) -> float:
    """Probability of success of a two-arm design (default design priors: the analysis priors)."""
    pmf_t = outcome_pmf(design.prior_t if design_t is None else design_t, design.n_t)
    pmf_c = outcome_pmf(design.prior_c if design_c is None else design_c, design.n_c)
    b = design.boundary
    if design.rule.lower_tail:
        at_most = np.concatenate([[0.0], np.cumsum(pmf_t)])  # P(Y_t <= k) at index k + 1
        given_c = at_most[b + 1]
    else:
        at_least = np.concatenate([np.cumsum(pmf_t[::-1])[::-1], [0.0]])  # P(Y_t >= k) at k
        given_c = at_least[b]
    return float(np.clip(np.sum(pmf_c * np.clip(given_c, 0.0, 1.0)), 0.0, 1.0))
