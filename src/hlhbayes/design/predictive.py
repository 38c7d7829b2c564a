r"""The predictive distribution of the number of responders in a future sample (RBesT ``preddist``).

For a beta-mixture distribution :math:`\pi` of the response rate (a prior, or a posterior from
:meth:`~hlhbayes.design.mixture.BetaMixture.posterior`) and a future sample of :math:`n`
patients, the number of responders :math:`Y` has the beta-binomial mixture

.. math::

    P(Y = y) = \sum_k w_k \binom{n}{y} \frac{B(a_k + y, b_k + n - y)}{B(a_k, b_k)},
    \qquad y = 0, \dots, n,

whose moments follow from the law of total variance:

.. math::

    E[Y] = n\, E[p], \qquad
    \operatorname{Var}[Y] = E[n p (1 - p)] + n^2 \operatorname{Var}[p]
    = n\, E[p] (1 - E[p]) + n (n - 1) \operatorname{Var}[p] .

Quantiles are those of a discrete distribution: the smallest :math:`y` with
:math:`P(Y \le y) \ge q`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hlhbayes.design.mixture import BetaMixture, FloatArray
from hlhbayes.errors import HlhBayesError

QUANTILE_SLACK = 1e-12
"""A cumulative probability within this of ``q`` counts as reaching it (sums of floats)."""


@dataclass(frozen=True)
class Predictive:
    """The predictive distribution of the responders among ``n`` future patients.

    ``pmf[y]`` is :math:`P(Y = y)`; build it with :func:`predictive`.
    """

    distribution: BetaMixture
    n: int
    pmf: FloatArray

    @property
    def cdf(self) -> FloatArray:
        r""":math:`P(Y \le y)` for :math:`y = 0, \dots, n` (exactly 1 at :math:`n`)."""
        out = np.minimum(np.cumsum(self.pmf), 1.0)
        out[-1] = 1.0
        return out

    def mean(self) -> float:
        r""":math:`E[Y] = n E[p]`."""
        return self.n * self.distribution.mean()

    def sd(self) -> float:
        r""":math:`\sqrt{n E[p](1 - E[p]) + n (n - 1) \operatorname{Var}[p]}`."""
        m, v = self.distribution.mean(), self.distribution.var()
        return math.sqrt(max(self.n * m * (1.0 - m) + self.n * (self.n - 1) * v, 0.0))

    def quantile(self, q: float) -> int:
        r"""The smallest :math:`y` with :math:`P(Y \le y) \ge q`."""
        if not 0.0 <= q <= 1.0:
            raise HlhBayesError(f"quantile probabilities must lie in [0, 1], got {q:g}")
        return int(np.argmax(self.cdf >= q - QUANTILE_SLACK))

    def summary(self) -> dict[str, float]:
        """Mean, sd and the 2.5/50/97.5% quantiles (keys ``mean, sd, q2.5, q50, q97.5``)."""
        out: dict[str, float] = {"mean": self.mean(), "sd": self.sd()}
        for q in (0.025, 0.5, 0.975):
            out[f"q{100 * q:g}"] = self.quantile(q)
        return out

    def records(self) -> list[dict[str, Any]]:
        """``[{"responders": y, "probability": P(Y = y), "cumulative": P(Y <= y)}, ...]``."""
        return [
            {"responders": y, "probability": float(p), "cumulative": float(c)}
            for y, (p, c) in enumerate(zip(self.pmf, self.cdf, strict=True))
        ]


def predictive(distribution: BetaMixture, n: int) -> Predictive:
    """The predictive distribution of the responders among ``n`` future patients (docstring)."""
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise HlhBayesError(f"the future sample size must be a whole number >= 1, got {n}")
    return Predictive(distribution, int(n), distribution.predictive_pmf(int(n)))
